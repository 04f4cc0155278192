"""code-contests and leetcode (DeepCoder test files): the real copies in ../shared/data and built rows."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest

from crlcli.asserts import convert
from crlcli.errors import CrlError
from crlcli.sources import load
from crlcli.sources.leetcode import PRELUDE, split_problem


def test_code_contests_real_file(shared_data):
    path = shared_data / "cp_samples" / "code_contests.json"
    raw = json.loads(path.read_text())
    recs = list(load("code-contests", str(path)))
    assert len(recs) == len(raw) == 165
    for rec, row in zip(recs, raw):
        assert rec["tests"]["type"] == "stdio"
        assert [c["input"] for c in rec["tests"]["cases"]] == row["tests"]["inputs"]
        assert [c["output"] for c in rec["tests"]["cases"]] == row["tests"]["outputs"]
        assert rec["question"] == row["problem"].strip()
    assert len({r["id"] for r in recs}) == 165


def test_code_contests_built_rows_both_shapes(tmp_path):
    rows = [
        {"problem": "Add.", "tests": {"inputs": ["1 2\n"], "outputs": ["3\n"]}},
        {"problem": "Echo.", "tests": [{"input": "x\n", "output": "x\n"}]},
    ]
    path = tmp_path / "cc.json"
    path.write_text(json.dumps(rows))
    recs = list(load("code-contests", str(path)))
    assert [r["tests"]["cases"] for r in recs] == [
        [{"input": "1 2\n", "output": "3\n"}],
        [{"input": "x\n", "output": "x\n"}],
    ]
    path.write_text(json.dumps(rows + [{"problem": "Bad.", "tests": {"inputs": ["1"], "outputs": []}}]))
    with pytest.raises(CrlError, match=r"cc\.json:row 2: tests has 1 inputs but 0 outputs"):
        list(load("code-contests", str(path)))
    path.write_text('[{"problem": "x",\n "tests": }]')
    with pytest.raises(CrlError, match=r"cc\.json:2: malformed JSON"):
        list(load("code-contests", str(path)))


def test_leetcode_real_file(shared_data):
    path = shared_data / "cp_samples" / "leetcode.json"
    raw = json.loads(path.read_text())
    recs = list(load("leetcode", str(path)))
    assert len(recs) == len(raw) == 200
    first = recs[0]
    converted = first["tests"]  # parent-compared call cases, the program kept
    assert converted["type"] == "call" and converted["assert_program"] == raw[0]["tests"]["functional"]
    assert convert(converted)[0] is converted  # nothing left to convert
    assert converted["cases"][0] == {
        "input": {"args": [], "kwargs": {"nums": [3, 1, 5, 4, 2], "k": 2}},
        "output": 4,
        "compare": "python",
    }
    assert converted["prelude"] == PRELUDE and converted["class_name"] == "Solution"
    assert first["tests"]["class_name"] == "Solution" and first["tests"]["fn_name"] == "minOperations"
    assert first["starter_code"].startswith("class Solution:\n    def minOperations(")
    assert "Please solve" not in first["question"] and "```" not in first["question"]
    assert first["candidates"][0]["code"] == PRELUDE + raw[0]["solutions"]
    assert first["candidates"][0]["origin"] == {"backend": "reference"}
    assert all(r["tests"]["fn_name"] for r in recs)


def _run_references(records, tmp_path) -> dict:
    """Each reference candidate + its test program, in a real interpreter (one per problem batch, trusted data)."""
    script = tmp_path / "run_refs.py"
    script.write_text(
        "import sys, orjson, io, contextlib\n"
        "ok, bad = 0, []\n"
        "for line in open(sys.argv[1], 'rb'):\n"
        "    r = orjson.loads(line)\n"
        "    for c in r.get('candidates', []):\n"
        "        try:\n"
        "            with contextlib.redirect_stdout(io.StringIO()):\n"
        "                t = r['tests']\n"
        "                exec(compile(c['code'] + '\\n' + (t.get('assert_program') or t['program']), r['id'], 'exec'),\n"
        "                     {'__name__': '__main__'})\n"
        "            ok += 1\n"
        "        except BaseException as e:\n"
        "            bad.append([r['id'], type(e).__name__, str(e)[:100]])\n"
        "print(orjson.dumps({'ok': ok, 'bad': bad}).decode())\n"
    )
    data = tmp_path / "recs.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    res = subprocess.run([sys.executable, str(script), str(data)], capture_output=True, timeout=240)
    assert res.returncode == 0, res.stderr.decode()
    return orjson.loads(res.stdout.splitlines()[-1])


def test_leetcode_references_pass_their_own_tests(shared_data, tmp_path):
    recs = list(load("leetcode", str(shared_data / "cp_samples" / "leetcode.json")))
    result = _run_references(recs, tmp_path)
    # One reference imports sortedcontainers, which LeetCode's judge has and a bare interpreter may not.
    failures = [b for b in result["bad"] if "sortedcontainers" not in b[2]]
    assert failures == [] and result["ok"] >= 199


def test_leetcode_built_rows(tmp_path):
    rows = [
        {
            "problem": "Please solve the programming task below using a self-contained code snippet in a markdown "
            "code block.\n\nDouble it.\n\nPlease complete the following python code precisely:\n```python\n"
            "class Solution:\n    def double(self, x: int) -> int:\n```",
            "solutions": ["class Solution:\n    def double(self, x: int) -> int:\n        return 2 * x\n"],
            "tests": {
                "functional": "def check(candidate):\n    assert candidate(x=2) == 4\n\n\ncheck(Solution().double)"
            },
        },
        {
            "problem": "No wrapper here.",
            "solutions": "def f():\n    return 1\n",
            "tests": {"functional": "def check(candidate):\n    assert candidate() == 1\ncheck(f)"},
        },
    ]
    path = tmp_path / "lc.json"
    path.write_text(json.dumps(rows))
    a, b = load("leetcode", str(path))
    assert a["question"] == "Double it." and a["starter_code"].endswith("-> int:\n")
    assert (a["tests"]["class_name"], a["tests"]["fn_name"]) == ("Solution", "double")
    assert (b["tests"]["class_name"], b["tests"]["fn_name"]) == (None, "f") and b["question"] == "No wrapper here."
    assert _run_references([a, b], tmp_path) == {"ok": 2, "bad": []}
    assert split_problem("plain") == ("plain", "")
    path.write_text(json.dumps([{"problem": "p", "tests": {"functional": 3}}]))
    with pytest.raises(CrlError, match=r"lc\.json:row 0: tests.functional must be a string"):
        list(load("leetcode", str(path)))
