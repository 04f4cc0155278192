"""A candidate + a problem's `tests` -> the message for the sandbox (no expected outputs) and, from the runner's
per-case frames, the verdicts (compared here, in the trusted parent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import CrlError
from ..verdicts import FAILURES
from .callvalues import json_view
from .compare import DEFAULT_TOL, comparator
from .limits import MAX_CASE_TIMEOUT, Limits
from .testtypes import Prepared, check_tests, get_type

__all__ = ["Limits", "Prepared", "Verdicts", "json_view", "prepare", "result_dict"]  # Limits, json_view: re-exported


def prepare(
    code: str,
    tests: Any,
    limits: Limits,
    check: Callable[[int, Any], bool] | None = None,
    check_text: Callable[[int, bytes], bool] | None = None,
) -> Prepared:
    """Validate `tests` (CrlError when unusable) and build the sandbox message. `check(i, value)`: for call
    tests, the parent's comparison of case i's decoded return value (instead of the cases' `output`).
    Assert tests that convert exactly (crlcli.asserts) run as parent-compared call cases, whoever made them."""
    if not isinstance(code, str):
        raise CrlError(f"candidate code must be a string, got {type(code).__name__}")
    why = check_tests(tests, outputs=check is None)  # the table: the one check of a record's tests
    if why:
        raise CrlError(why, hint="see docs/formats.md")
    ttype = get_type(tests["type"])
    tests = ttype.normalize(tests)  # assert programs that convert exactly run as call cases
    ttype = get_type(tests["type"])
    cases = ttype.expand(tests, tests.get("cases") or [])
    if not cases:
        raise CrlError("tests has no cases", hint="a problem needs at least one test case to judge")
    if limits.max_tests:
        cases = cases[: limits.max_tests]
    tol = float(tests.get("atol") or DEFAULT_TOL)
    tagged = bool(tests.get("tagged_args")) or ttype.python_values(tests)
    default_timeout = ttype.default_timeout(tests, limits.timeout, len(cases))
    inputs: list[Any] = []
    expected: list[Any] = []  # per case: a str, None, _NO_OUTPUT or a _PythonExpected
    timeouts: list[float] = []
    for i, case in enumerate(cases):
        where = f"tests.cases[{i}]"
        if not isinstance(case, dict):
            raise CrlError(f"{where} must be an object")
        t = case.get("timeout", default_timeout)
        # Bounded: 1e300 (or nan) would be a sandbox budget no batch deadline can hold, judged silently as F.
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 < t <= MAX_CASE_TIMEOUT:
            raise CrlError(f"{where}.timeout must be a number of seconds in (0, {MAX_CASE_TIMEOUT:g}], got {t!r:.40}")
        timeouts.append(float(t))
        inp, want = ttype.prepare_case(case, where, tests)
        inputs.append(inp)
        expected.append(want)
    # Some judges (LeetCode) run submissions with names already imported; sources record that as a prelude.
    prelude = tests.get("prelude")
    if prelude is not None:
        if not isinstance(prelude, str):
            raise CrlError("tests.prelude must be a string of Python source")
        code = prelude.rstrip("\n") + "\n" + code
    rule = comparator(tests.get("compare"))  # e.g. "lcb": LiveCodeBench's grader (sandbox/compare.py)
    if (check is not None or check_text is not None) and not ttype.takes_check:
        raise CrlError("a parent-side check needs call tests")
    if check_text is not None and check is None:
        raise CrlError("check_text is a shortcut of check: give both")
    # The runner knows drivers, not types (it imports nothing from this package): the message names the driver.
    message = {
        "type": ttype.driver,
        "code": code,
        "cases": inputs,
        "timeouts": timeouts,
        "fn_name": tests.get("fn_name"),
        "class_name": tests.get("class_name") or None,
        "tagged_args": tagged,
        "digest_over": int(tests.get("digest_over") or 0),
        # call: stop after the first case that timed out or crashed its process (no frame -> S)
        "stop_on_failure": bool(tests.get("stop_on_failure")),
        "memory_mb": limits.memory_mb,
        "max_output": limits.max_output,
        "tmpfs_mb": limits.tmpfs_mb,
        "max_procs": limits.max_procs,
    }
    budget = 15.0 + sum(timeouts) + 0.25 * len(timeouts)
    return Prepared(message, expected, ttype.name, tol, budget, check, rule, check_text)


class Verdicts:
    """The letters of one candidate, filled case by case from the runner's frames. Only this class (through the
    test type's `passed`) turns a case into an A: from stdout or a return value compared here, or (a type of
    trust "in-process" only) the harness's end marker as the runner checked it. A case with no frame is S."""

    def __init__(self, prep: Prepared):
        self.prep = prep
        self.ttype = prep.ttype
        self.letters: list[str] = []

    def add(self, header: dict[str, Any], body: bytes) -> bool:
        """One case's frame; False when it is not the next case or not a known result (the caller restarts
        the sandbox)."""
        prep, i, s = self.prep, header.get("case"), header.get("s")
        if i != len(self.letters) or i >= len(prep.expected):
            return False
        # one letter: FAILURES is a string, where "" or "MO" would be found too (and None would raise)
        if (
            isinstance(s, str) and len(s) == 1 and s in FAILURES
        ):  # the sandbox may report a failure itself, never a pass
            self.letters.append(s)
            return True
        letter = self.ttype.passed(prep, i, s, body) if s in ("ok", "A") else None
        if letter is None:
            return False
        self.letters.append(letter)
        return True

    def text(self) -> str:
        return "".join(self.letters) + "S" * (len(self.prep.expected) - len(self.letters))


def result_dict(verdicts: str, time_ms: int, trust: str = "parent") -> dict[str, Any]:
    passed = verdicts.count("A")
    total = len(verdicts)
    return {
        "pass_rate": passed / total if total else 0.0,
        "passed": passed,
        "total": total,
        "verdicts": verdicts,
        "time_ms": time_ms,
        "trust": trust,
    }
