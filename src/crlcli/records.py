"""Problem records (see docs/formats.md): light helpers over plain dicts.

Records stay dicts so that fields a stage does not know pass through untouched.
"""

from __future__ import annotations

from typing import Any

TEST_TYPES = ("stdio", "call", "assert")
VERDICT_LETTERS = {
    "A": "accepted",
    "W": "wrong answer",
    "T": "time limit",
    "M": "memory limit",
    "O": "output limit",
    "R": "runtime error",
    "C": "compile/syntax error",
    "S": "sandbox failure",
}


def check_problem(record: dict[str, Any]) -> str | None:
    """Return why `record` is not a usable problem record, or None when it is."""
    if not isinstance(record.get("id"), str) or not record["id"]:
        return _field(record, "id", "a non-empty string")
    if not isinstance(record.get("question"), str):
        return f"record {record['id']!r}: {_field(record, 'question', 'a string')}"
    tests = record.get("tests")
    if not isinstance(tests, dict):
        return f"record {record['id']!r}: {_field(record, 'tests', 'an object')}"
    kind = tests.get("type")
    if kind not in TEST_TYPES:
        return f"record {record['id']!r}: tests.type must be one of {', '.join(TEST_TYPES)}, got {kind!r}"
    cases = tests.get("cases")
    if kind == "assert":
        if not isinstance(tests.get("program"), str) and not isinstance(cases, list):
            return f"record {record['id']!r}: assert tests need 'program' (a string) or 'cases'"
    elif not isinstance(cases, list):
        return f"record {record['id']!r}: tests.cases must be a list"
    if kind == "call" and not tests.get("fn_name"):
        return f"record {record['id']!r}: call tests need tests.fn_name"
    return None


def json_type(v: Any) -> str:
    """How JSON calls a value's type, for messages."""
    if v is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(v), type(v).__name__)


def _field(record: dict[str, Any], name: str, want: str) -> str:
    """'missing ...' only when the field is absent; a field of the wrong type says what it is."""
    kind = want.split()[-1]
    if name not in record:
        return f"missing {kind} field {name!r}"
    return f"field {name!r} must be {want}, got {json_type(record[name])}"


def make_tests(
    kind: str,
    cases: list[dict[str, Any]] | None = None,
    fn_name: str | None = None,
    class_name: str | None = None,
    program: str | None = None,
) -> dict[str, Any]:
    return {"type": kind, "fn_name": fn_name, "class_name": class_name, "cases": cases or [], "program": program}


def candidates_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    cands = record.get("candidates")
    return cands if isinstance(cands, list) else []
