"""A candidate + a problem's `tests` -> the message for the sandbox (no expected outputs) and, from the reply,
the verdicts (compared here, in the trusted parent)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import CrlError
from .compare import DEFAULT_TOL, call_expected_matches, decode_call_args, stdio_equal

VERDICTS = "AWTMORCS"
_NO_OUTPUT = object()


@dataclass(frozen=True)
class Limits:
    timeout: float = 6.0  # seconds per test case, CPU and wall, enforced from outside the candidate
    memory_mb: int = 1024  # address space per process
    max_output: int = 16 << 20  # bytes of stdout (or of the serialised return value) per case; more -> "O"
    max_tests: int = 0  # run only the first N cases; 0 = all
    tmpfs_mb: int = 64  # the sandbox's only writable directory (and the file-size limit)
    max_procs: int = 64  # processes + threads a candidate may have at once

    def __post_init__(self):
        if self.timeout <= 0 or self.memory_mb < 32 or self.max_output < 1 or self.max_tests < 0:
            raise CrlError(f"bad sandbox limits {self}",
                           hint="timeout > 0, memory >= 32 MB, max_output >= 1, max_tests >= 0")


@dataclass
class Prepared:
    message: dict[str, Any]
    expected: list[Any]
    kind: str
    tol: float
    budget: float  # seconds the whole candidate may take before the parent gives up on the sandbox
    started: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def prepare(code: str, tests: Any, limits: Limits) -> Prepared:
    """Validate `tests` (CrlError when unusable) and build the sandbox message."""
    if not isinstance(code, str):
        raise CrlError(f"candidate code must be a string, got {type(code).__name__}")
    if not isinstance(tests, dict):
        raise CrlError("tests must be an object with type and cases", hint="see docs/formats.md")
    kind = tests.get("type")
    if kind not in ("stdio", "call", "assert"):
        raise CrlError(f"unknown tests.type {kind!r}", hint="use stdio, call or assert")
    cases = tests.get("cases") or []
    if not isinstance(cases, list):
        raise CrlError("tests.cases must be a list")
    if kind == "assert" and not cases:
        program = tests.get("program")
        if not isinstance(program, str) or not program.strip():
            raise CrlError("assert tests need tests.program (or cases with a program each)")
        cases = [{"program": program}]
    if not cases:
        raise CrlError("tests has no cases", hint="a problem needs at least one test case to judge")
    if limits.max_tests:
        cases = cases[: limits.max_tests]
    tol = float(tests.get("atol") or DEFAULT_TOL)
    inputs, expected, timeouts = [], [], []
    for i, case in enumerate(cases):
        where = f"tests.cases[{i}]"
        if not isinstance(case, dict):
            raise CrlError(f"{where} must be an object")
        t = case.get("timeout", limits.timeout)
        if not isinstance(t, (int, float)) or t <= 0:
            raise CrlError(f"{where}.timeout must be a positive number of seconds")
        timeouts.append(float(t))
        if kind == "stdio":
            inp, out = case.get("input", ""), case.get("output")
            if not isinstance(inp, str) or not isinstance(out, str):
                raise CrlError(f"{where}: stdio cases need string input and output")
            inputs.append(inp)
            expected.append(out)
        elif kind == "call":
            inputs.append(decode_call_args(case.get("input", []), where))
            expected.append(case["output"] if "output" in case else _NO_OUTPUT)
        else:
            program = case.get("program")
            if not isinstance(program, str):
                raise CrlError(f"{where}: assert cases need a string program")
            try:
                compile(program, "<test>", "exec")
            except SyntaxError as exc:
                raise CrlError(f"{where}: the test program does not compile: {exc}") from None
            inputs.append(program)
            expected.append(None)
    if kind == "call" and not isinstance(tests.get("fn_name"), str):
        raise CrlError("call tests need tests.fn_name")
    # Some judges (LeetCode) run submissions with names already imported; sources record that as a prelude.
    prelude = tests.get("prelude")
    if prelude is not None:
        if not isinstance(prelude, str):
            raise CrlError("tests.prelude must be a string of Python source")
        code = prelude.rstrip("\n") + "\n" + code
    message = {"type": kind, "code": code, "cases": inputs, "timeouts": timeouts,
               "fn_name": tests.get("fn_name"), "class_name": tests.get("class_name") or None,
               "memory_mb": limits.memory_mb, "max_output": limits.max_output, "tmpfs_mb": limits.tmpfs_mb,
               "max_procs": limits.max_procs}
    budget = 15.0 + sum(timeouts) + 0.25 * len(timeouts)
    return Prepared(message, expected, kind, tol, budget)


def verdicts_of(prep: Prepared, reply: dict[str, Any] | None) -> str:
    """One letter per case; any sandbox trouble (no reply, a runner error) is S for every case."""
    n = len(prep.expected)
    results = (reply or {}).get("results")
    if not isinstance(results, list) or len(results) != n:
        return "S" * n
    letters = []
    for res, want in zip(results, prep.expected):
        s = res.get("s")
        if s != "ok":
            letters.append(s if isinstance(s, str) and s in VERDICTS else "S")
        elif prep.kind == "stdio":
            letters.append("A" if stdio_equal(res.get("out", ""), want, prep.tol) else "W")
        else:
            letters.append(_call_letter(res.get("out", ""), want, prep.tol))
    return "".join(letters)


def _call_letter(out: str, want: Any, tol: float) -> str:
    try:
        got = json.loads(out)
    except ValueError:
        return "W"
    if want is _NO_OUTPUT:
        return "A"  # no expected value given: the case checks only that the call returns
    return "A" if call_expected_matches(got, want, tol) else "W"


def result_dict(verdicts: str, time_ms: int) -> dict[str, Any]:
    passed = verdicts.count("A")
    total = len(verdicts)
    return {"pass_rate": passed / total if total else 0.0, "passed": passed, "total": total,
            "verdicts": verdicts, "time_ms": time_ms}
