"""Problem records (see docs/formats.md): light helpers over plain dicts.

Records stay dicts so that fields a stage does not know pass through untouched.
"""

from __future__ import annotations

from typing import Any

TEST_TYPES = ("stdio", "call", "assert")
# One letter per test case in a judgment's `verdicts` (docs/formats.md). A pass is only ever decided by the trusted
# parent; the sandbox may report the failures itself.
VERDICTS = "AWTMORCS"
FAILURES = VERDICTS[1:]
VERDICT_NAMES = dict(zip(VERDICTS, ("accepted", "wrong answer", "time limit", "memory limit", "output limit",
                                    "runtime error", "compile/syntax error", "sandbox failure")))


def check_tests(tests: Any) -> str | None:
    """Why a `tests` object cannot be run, or None: the one shape check for records and the sandbox."""
    if not isinstance(tests, dict):
        return f"field 'tests' must be an object, got {json_type(tests)}"
    kind = tests.get("type")
    if kind not in TEST_TYPES:
        return f"tests.type must be one of {', '.join(TEST_TYPES)}, got {kind!r}"
    cases = tests.get("cases")
    if kind == "assert":
        if not isinstance(tests.get("program"), str) and not isinstance(cases, list):
            return "assert tests need 'program' (a string) or 'cases'"
    elif not isinstance(cases, list):
        return "tests.cases must be a list"
    if kind == "call" and not (isinstance(tests.get("fn_name"), str) and tests["fn_name"]):
        return "call tests need tests.fn_name"
    return None


def check_problem(record: dict[str, Any]) -> str | None:
    """Return why `record` is not a usable problem record, or None when it is."""
    if not isinstance(record.get("id"), str) or not record["id"]:
        return field_problem(record, "id", "a non-empty string")
    if not isinstance(record.get("question"), str):
        return f"record {record['id']!r}: {field_problem(record, 'question', 'a string')}"
    if not isinstance(record.get("tests"), dict):
        return f"record {record['id']!r}: {field_problem(record, 'tests', 'an object')}"
    why = check_tests(record["tests"])
    return f"record {record['id']!r}: {why}" if why else None


def json_type(v: Any) -> str:
    """How JSON calls a value's type, for messages."""
    if v is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(v), type(v).__name__)


def field_problem(record: dict[str, Any], name: str, want: str) -> str:
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
