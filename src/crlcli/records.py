"""Problem records (see docs/formats.md): light helpers over plain dicts.

Records stay dicts so that fields a stage does not know pass through untouched.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

TEST_TYPES = ("stdio", "call", "assert")
# One letter per test case in a judgment's `verdicts` (docs/formats.md). A pass is only ever decided by the trusted
# parent; the sandbox may report the failures itself.
VERDICTS = "AWTMORCS"
FAILURES = VERDICTS[1:]
VERDICT_NAMES = dict(zip(VERDICTS, ("accepted", "wrong answer", "time limit", "memory limit", "output limit",
                                    "runtime error", "compile/syntax error", "sandbox failure")))


# A `call` case without `output` would pass any candidate that returns at all. It is a test of correctness only
# when the record says so: the case carries this flag (docs/formats.md), and such cases are counted and kept out of
# RL rows (a policy learns nothing from them) like tests that run in the candidate's process.
RETURNS_ONLY = "returns_only"


def check_tests(tests: Any, outputs: bool = True) -> str | None:
    """Why a `tests` object cannot be run, or None: the one shape check for records and the sandbox (every stage
    that reads a problem record, the judge, the reward). `outputs=False`: the caller compares call results with
    a check of its own (benchmarks), so call cases need no `output`."""
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
    for i, case in enumerate(cases if isinstance(cases, list) else ()):
        why = check_case(kind, case, outputs)
        if why:
            return f"tests.cases[{i}]{why}"
    return None


def check_case(kind: str, case: Any, outputs: bool = True) -> str | None:
    """Why one test case cannot be run (the text follows `tests.cases[i]`), or None."""
    if not isinstance(case, dict):
        return f" must be an object, got {json_type(case)}"
    if kind == "stdio":
        if not isinstance(case.get("input", ""), str):
            return f".input must be a string, got {json_type(case['input'])}"
        if not isinstance(case.get("output"), str):
            return (f".output must be a string, got {json_type(case['output'])}" if "output" in case
                    else ": stdio cases need string input and output; 'output' is missing")
    elif kind == "call":
        inp = case.get("input", [])
        if not (isinstance(inp, (list, str)) or (isinstance(inp, dict) and inp and set(inp) <= {"args", "kwargs"})):
            return (f".input must be a list of arguments, {{\"args\", \"kwargs\"}} or their JSON text, "
                    f"got {json_type(inp)}")
        flag = case.get(RETURNS_ONLY)
        if flag not in (None, True, False):
            return f".{RETURNS_ONLY} must be true or false, got {json_type(flag)}"
        if flag is True and "output" in case:
            return f" has both 'output' and {RETURNS_ONLY}: true; give one"
        if outputs and flag is not True and "output" not in case:
            return (f" has no 'output': it would pass any candidate whose call returns; give the expected value, or "
                    f"\"{RETURNS_ONLY}\": true if the case only checks that the call returns (docs/formats.md)")
    elif "program" in case and not isinstance(case["program"], str):
        return f".program must be a string, got {json_type(case['program'])}"
    return None


def returns_only_cases(tests: Any) -> int:
    """How many call cases of `tests` check only that the call returns (no expected value)."""
    if not isinstance(tests, dict) or tests.get("type") != "call" or not isinstance(tests.get("cases"), list):
        return 0
    return sum(1 for c in tests["cases"] if isinstance(c, dict) and c.get(RETURNS_ONLY) is True)


def check_problem(record: dict[str, Any], question: bool = True, tests: bool = True) -> str | None:
    """Return why `record` is not a usable problem record, or None when it is: the one validation every stage
    that reads problem records uses. `question`/`tests`: whether the stage needs that field (a field that is
    there is checked either way, so no stage passes a malformed one on)."""
    if not isinstance(record.get("id"), str) or not record["id"]:
        return field_problem(record, "id", "a non-empty string")
    if (question or "question" in record) and not isinstance(record.get("question"), str):
        return f"record {record['id']!r}: {field_problem(record, 'question', 'a string')}"
    if (tests or "tests" in record) and not isinstance(record.get("tests"), dict):
        return f"record {record['id']!r}: {field_problem(record, 'tests', 'an object')}"
    why = check_tests(record["tests"]) if "tests" in record else None
    if why is None and "candidates" in record and not isinstance(record["candidates"], list):
        why = f"field 'candidates' must be a list, got {json_type(record['candidates'])}"
    return f"record {record['id']!r}: {why}" if why else None


def candidate_id_problem(record: dict[str, Any]) -> str | None:
    """Candidates without an id, or with the same id twice: a CRL row or a report names a candidate by its id,
    so these are worth a warning (the judge still judges them)."""
    ids = [c.get("id") if isinstance(c, dict) else None for c in candidates_of(record)]
    missing = sum(1 for i in ids if not isinstance(i, str) or not i)
    named = Counter(i for i in ids if isinstance(i, str) and i)
    dups = sorted(i for i, k in named.items() if k > 1)
    parts = ([f"{missing} candidate(s) without a string id"] if missing else []) + (
        [f"duplicate candidate id(s) {', '.join(map(repr, dups[:3]))}"] if dups else [])
    return f"record {record.get('id')!r}: {'; '.join(parts)}" if parts else None


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
