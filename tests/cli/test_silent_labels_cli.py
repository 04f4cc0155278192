"""Issue 15, item 9: inputs that used to be judged and labelled F without a word are reported like other bad
fields (stop with file:line, or go to --skip-invalid)."""

from __future__ import annotations

import json

import pytest

TESTS = {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]}


def rec(cand: dict, tests=TESTS) -> bytes:
    return json.dumps({"id": "p1", "question": "q", "tests": tests, "candidates": [cand]}).encode() + b"\n"


@pytest.mark.parametrize(
    "cand, said",
    [
        ({"id": "c0", "code": None}, "field 'code' must be a string, got null"),
        ({"id": "c0"}, "missing string field 'code'"),
        ({"id": "c0", "code": 5}, "got a number"),
    ],
)
def test_bad_candidate_code_is_reported(crl, cand, said):
    res = crl("judge", input=rec(cand))
    err = res.stderr.decode()
    assert res.returncode == 1 and "<stdin>:1: " in err and said in err, err


@pytest.mark.parametrize("timeout", [1e300, 0, -1, True, "5"])
def test_unbounded_or_bad_case_timeout_is_reported(crl, timeout):
    tests = {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n", "timeout": timeout}]}
    res = crl("judge", input=rec({"id": "c0", "code": "print(input())"}, tests))
    err = res.stderr.decode()
    assert res.returncode == 1 and "tests.cases[0].timeout must be a number of seconds" in err, err


def test_bad_candidate_goes_to_the_skip_file(crl, tmp_path):
    skip = tmp_path / "bad.jsonl"
    res = crl("judge", "--skip-invalid", str(skip), input=rec({"id": "c0", "code": None}))
    assert res.returncode == 0 and res.stdout == b""
    assert "got null" in json.loads(skip.read_text())["error"]
