"""Problem records (see docs/formats.md): light helpers over plain dicts.

Records stay dicts so that fields a stage does not know pass through untouched.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .jsonx import json_type as json_type  # re-exported: where the stages have always found it
from .verdicts import FAILURES as FAILURES  # re-exported
from .verdicts import VERDICT_NAMES as VERDICT_NAMES
from .verdicts import VERDICTS as VERDICTS


def check_tests(tests: Any, outputs: bool = True) -> str | None:
    """Why a `tests` object cannot be run, or None: the one shape check for records and the sandbox, asked of the
    sandbox's test-type table (sandbox/testtypes.py). `outputs=False`: the caller compares call results with a
    check of its own (benchmarks), so call cases need no `output`."""
    # Imported here: every command reads records at start-up, and `--help` must not load the sandbox package.
    from .sandbox.testtypes import check_tests as check

    return check(tests, outputs)


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
        [f"duplicate candidate id(s) {', '.join(map(repr, dups[:3]))}"] if dups else []
    )
    return f"record {record.get('id')!r}: {'; '.join(parts)}" if parts else None


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
