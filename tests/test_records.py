"""records.py: the one test-shape check and the verdict letters."""

from __future__ import annotations

import pytest

from crlcli.records import FAILURES, VERDICT_NAMES, VERDICTS, check_problem, check_tests


@pytest.mark.parametrize(
    "tests,why",
    [
        (None, "field 'tests' must be an object, got null"),
        ({"type": "io", "cases": []}, "tests.type must be one of stdio, call, assert, got 'io'"),
        ({"type": "stdio", "cases": "x"}, "tests.cases must be a list"),
        ({"type": "call", "cases": []}, "call tests need tests.fn_name"),
        ({"type": "assert"}, "assert tests need 'program' (a string) or 'cases'"),
        ({"type": "assert", "program": "assert True"}, None),
        ({"type": "call", "fn_name": "f", "cases": []}, None),
    ],
)
def test_check_tests(tests, why):
    assert check_tests(tests) == why


def test_check_problem_names_the_record():
    rec = {"id": "p", "question": "q", "tests": {"type": "stdio", "cases": 3}}
    assert check_problem(rec) == "record 'p': tests.cases must be a list"
    assert check_problem({"id": 5}) == "field 'id' must be a non-empty string, got a number"


def test_verdict_letters():
    assert VERDICTS == "AWTMORCS" and FAILURES == "WTMORCS" and set(VERDICT_NAMES) == set(VERDICTS)
