"""LiveCodeBench: records built in the exact upstream schema (private tests base64 -> zlib -> pickle -> JSON),
decoded, filtered by date and scored in the real sandbox: a correct, a wrong and a too-slow solution per test type."""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from crlcli.errors import CrlError
from crlcli.evaluation import get_benchmark
from crlcli.evaluation.lcb import decode_tests, to_tests


def encode_private(tests: list[dict]) -> str:
    """How the hub stores private tests."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("utf-8")


def stdin_record(qid="abc100_a", date="2024-11-02T00:00:00", difficulty="easy"):
    public = [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]
    private = [{"input": f"{a} {b}\n", "output": f"{a + b}\n", "testtype": "stdin"} for a, b in [(5, 7), (100, -1)]]
    return {"question_title": "Sum", "question_content": "Read A and B, print A+B.", "platform": "atcoder",
            "question_id": qid, "contest_id": "abc100", "contest_date": date, "starter_code": "",
            "difficulty": difficulty, "public_test_cases": json.dumps(public),
            "private_test_cases": encode_private(private), "metadata": "{}"}


def functional_record(qid="3300", date="2025-01-15T00:00:00"):
    public = [{"input": "[1, 2, 3]\n2", "output": "[2, 4, 6]", "testtype": "functional"}]
    private = [{"input": "[]\n5", "output": "[]", "testtype": "functional"},
               {"input": "[-1]\n-3", "output": "[3]", "testtype": "functional"}]
    return {"question_title": "Scale", "question_content": "Multiply every element by k.", "platform": "leetcode",
            "question_id": qid, "contest_id": "weekly-contest-400", "contest_date": date,
            "starter_code": "class Solution:\n    def scale(self, nums: List[int], k: int) -> List[int]:\n        ",
            "difficulty": "medium", "public_test_cases": json.dumps(public),
            "private_test_cases": encode_private(private), "metadata": json.dumps({"func_name": "scale"})}


@pytest.fixture
def lcb_file(tmp_path):
    recs = [stdin_record(), functional_record(), stdin_record("old_1", "2024-05-01T00:00:00"),
            stdin_record("late_1", "2025-03-01T00:00:00")]
    p = tmp_path / "test.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return p


def test_decoding_both_forms():
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert decode_tests(encode_private(tests), "x") == tests
    assert decode_tests(json.dumps(tests), "x") == tests
    with pytest.raises(CrlError, match="cannot decode"):
        decode_tests("not-base64-nor-json!", "rec")
    evil = base64.b64encode(zlib.compress(pickle.dumps(ValueError("x")))).decode()
    with pytest.raises(CrlError, match="cannot decode"):
        decode_tests(evil, "rec")  # only a pickled string is accepted, never objects


def test_tests_shape():
    t = to_tests(functional_record(), "r")
    assert t["type"] == "call" and t["fn_name"] == "scale" and t["class_name"] == "Solution"
    assert t["cases"][0] == {"input": [[1, 2, 3], 2], "output": [2, 4, 6]} and len(t["cases"]) == 3
    s = to_tests(stdin_record(), "r")
    assert s["type"] == "stdio" and [c["output"] for c in s["cases"]] == ["3\n", "12\n", "99\n"]


def test_v5_window_and_prompt(lcb_file):
    bench = get_benchmark("lcb", data=lcb_file, release="v5")
    tasks = bench.tasks()
    assert [t.task_id for t in tasks] == ["abc100_a", "3300"]
    assert tasks[0].group == {"difficulty": "easy", "platform": "atcoder"}
    assert "Read the inputs from stdin" in tasks[0].messages[0]["content"]
    assert "class Solution:" in tasks[1].messages[0]["content"]
    assert "NOT return anything" not in tasks[0].messages[0]["content"]
    wide = get_benchmark("lcb", data=lcb_file, release="v5", start="2024-01-01", end="2025-12-31")
    assert len(wide.tasks()) == 4


STDIN = {
    "correct": "a, b = map(int, input().split())\nprint(a + b)\n",
    "wrong": "a, b = map(int, input().split())\nprint(a - b)\n",
    "slow": "import time\na, b = map(int, input().split())\nwhile True:\n    time.sleep(0.01)\n",
}
FUNCTIONAL = {
    "correct": "class Solution:\n    def scale(self, nums, k):\n        return [x * k for x in nums]\n",
    "wrong": "class Solution:\n    def scale(self, nums, k):\n        return [x + k for x in nums]\n",
    "slow": "class Solution:\n    def scale(self, nums, k):\n        while True:\n            pass\n",
}


@pytest.mark.parametrize("kind,solutions", [("stdin", STDIN), ("functional", FUNCTIONAL)])
def test_correct_wrong_and_too_slow(lcb_file, kind, solutions):
    from crlcli.sandbox import JudgePool, Limits

    bench = get_benchmark("lcb", data=lcb_file, timeout=1.0)
    task = bench.tasks()[0 if kind == "stdin" else 1]
    with JudgePool(workers=2, limits=Limits(**bench.limits())) as pool:
        got = {name: bench.score(task, f"<think>hmm</think>\n```python\n{code}```\n", pool)
               for name, code in solutions.items()}
    assert got["correct"].metrics == {"pass": True} and got["correct"].verdicts["pass"] == "AAA"
    assert got["wrong"].metrics == {"pass": False} and "W" in got["wrong"].verdicts["pass"]
    assert got["slow"].metrics == {"pass": False} and set(got["slow"].verdicts["pass"]) == {"T"}
