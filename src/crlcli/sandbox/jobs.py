"""A candidate + a problem's `tests` -> the message for the sandbox (no expected outputs) and, from the runner's
per-case frames, the verdicts (compared here, in the trusted parent)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import CrlError
from ..records import FAILURES, check_tests
from .compare import COMPARATORS, DEFAULT_TOL, Comparator, call_expected_matches, comparator, decode_call_args
from .. import asserts
from .runner_child import NumpyValue, decode_value, encode_value

_NO_OUTPUT = object()
MAX_CASE_TIMEOUT = 3600.0  # seconds: the most one test case may ask for


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
    check: Callable[[int, Any], bool] | None = None  # call tests: the parent's own comparison of decoded values
    rule: Comparator = COMPARATORS["tokens"]  # tests.compare: the rule the parent compares outputs with
    # call tests with `check`: a shortcut on the raw tagged text of a return value; True passes the case without
    # decoding it, False leaves the decision to `check`
    check_text: Callable[[int, bytes], bool] | None = None

    @property
    def trust(self) -> str:
        """"parent": every pass was decided here from values compared here; "in-process": an assert harness in
        the candidate's process reported it (forgeable by a candidate that knows the harness)."""
        if self.kind == "assert":
            return "in-process"
        # returns_only cases pass whatever the call returns: not a test of correctness, kept out of RL rewards
        return "returns-only" if self.check is None and any(e is _NO_OUTPUT for e in self.expected) else "parent"


def prepare(code: str, tests: Any, limits: Limits, check: Callable[[int, Any], bool] | None = None,
            check_text: Callable[[int, bytes], bool] | None = None) -> Prepared:
    """Validate `tests` (CrlError when unusable) and build the sandbox message. `check(i, value)`: for call
    tests, the parent's comparison of case i's decoded return value (instead of the cases' `output`).
    Assert tests that convert exactly (crlcli.asserts) run as parent-compared call cases, whoever made them."""
    if not isinstance(code, str):
        raise CrlError(f"candidate code must be a string, got {type(code).__name__}")
    why = check_tests(tests, outputs=check is None)  # records.py: the one check of a record's tests
    if why:
        raise CrlError(why, hint="see docs/formats.md")
    kind = tests["type"]
    if kind == "assert":
        tests = _converted(tests)
        kind = tests["type"]
    cases = tests.get("cases") or []
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
    python_values = kind == "call" and tests.get("converted_from") == "assert"
    tagged = bool(tests.get("tagged_args")) or python_values
    # One assert program had one time limit: its converted cases share it (at least 1 s each), so that a
    # candidate that hangs costs about what it did before conversion, not a full limit per assert.
    default_timeout = max(1.0, limits.timeout / len(cases)) if python_values else limits.timeout
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
        if kind == "stdio":
            inp, out = case.get("input", ""), case.get("output")
            if not isinstance(inp, str) or not isinstance(out, str):
                raise CrlError(f"{where}: stdio cases need string input and output")
            inputs.append(inp)
            expected.append(out)
        elif kind == "call":
            inputs.append(_call_input(case, where, tests.get("tagged_args"), python_values))
            if "output" not in case:  # check_tests let it through: returns_only, or a parent-side check
                expected.append(_NO_OUTPUT)
            elif case.get("compare") == "python" or python_values and _identity_case(case):
                expected.append(_PythonExpected(case, where))
            else:
                expected.append(case["output"])
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
    # Some judges (LeetCode) run submissions with names already imported; sources record that as a prelude.
    prelude = tests.get("prelude")
    if prelude is not None:
        if not isinstance(prelude, str):
            raise CrlError("tests.prelude must be a string of Python source")
        code = prelude.rstrip("\n") + "\n" + code
    rule = comparator(tests.get("compare"))  # e.g. "lcb": LiveCodeBench's grader (sandbox/compare.py)
    if (check is not None or check_text is not None) and kind != "call":
        raise CrlError("a parent-side check needs call tests")
    if check_text is not None and check is None:
        raise CrlError("check_text is a shortcut of check: give both")
    message = {"type": kind, "code": code, "cases": inputs, "timeouts": timeouts,
               "fn_name": tests.get("fn_name"), "class_name": tests.get("class_name") or None,
               "tagged_args": tagged, "digest_over": int(tests.get("digest_over") or 0),
               # call: stop after the first case that timed out or crashed its process (no frame -> S)
               "stop_on_failure": bool(tests.get("stop_on_failure")),
               "memory_mb": limits.memory_mb, "max_output": limits.max_output, "tmpfs_mb": limits.tmpfs_mb,
               "max_procs": limits.max_procs}
    budget = 15.0 + sum(timeouts) + 0.25 * len(timeouts)
    return Prepared(message, expected, kind, tol, budget, check, rule, check_text)


def _call_input(case: dict, where: str, tagged_text: Any, python_values: bool) -> Any:
    if tagged_text:
        if not isinstance(case.get("input"), str):
            raise CrlError(f"{where}: with tagged_args, input is the tagged text of the argument list")
        return case["input"]
    if python_values:  # arguments JSON cannot carry ({"$py": ...}: tuples, sets, ...) reach the call exactly
        try:
            args, kwargs = asserts.decode_input(case.get("input", []))
        except (ValueError, TypeError) as exc:
            raise CrlError(f"{where}: bad converted arguments: {exc}") from None
        return encode_value({"args": args, "kwargs": kwargs})
    return decode_call_args(case.get("input", []), where)


def _identity_case(case: dict) -> bool:
    """A converted `f(x) is True|False|None` case (no `compare` key, a singleton output)."""
    return "compare" not in case and (case.get("output") is None or isinstance(case.get("output"), bool))


class _PythonExpected:
    """A converted assert's expected value, compared with Python's == (crlcli.asserts.python_equal), or for
    `is True|False|None` with Python's `is`: only the singleton itself (numpy's True_ is not True, in Python
    too), where the JSON comparison would take any value that reads as true."""

    __slots__ = ("value", "atol", "rtol", "identity")

    def __init__(self, case: dict, where: str):
        self.identity = _identity_case(case)
        try:
            self.value = asserts.expected_value(case)
        except ValueError as exc:
            raise CrlError(f"{where}: bad expected value: {exc}") from None
        self.atol, self.rtol = case.get("atol"), case.get("rtol")
        for name in ("atol", "rtol"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0):
                raise CrlError(f"{where}.{name} must be a number >= 0")

    def matches(self, value: Any) -> bool:
        if self.identity:
            return value is self.value  # decode_value gives the singletons themselves for JSON true/false/null
        return asserts.python_equal(value, self.value, self.atol, self.rtol)


@lru_cache(maxsize=4096)
def _convert_cached(key: str) -> str:
    return json.dumps(asserts.convert(json.loads(key))[0])


def _converted(tests: dict) -> dict:
    """tests of type assert, converted to call cases when every assert converts exactly (cached: every
    candidate of a problem brings the same tests)."""
    core = {k: tests.get(k) for k in ("type", "program", "cases", "fn_name", "class_name")}
    try:
        key = json.dumps(core, sort_keys=True)
    except (TypeError, ValueError):
        return tests  # not JSON-shaped: the checks below report it
    done = json.loads(_convert_cached(key))
    if done.get("type") != "call":
        return tests
    return {**tests, **done}


class Verdicts:
    """The letters of one candidate, filled case by case from the runner's frames. Only this class turns a
    case into an A: from stdout or a return value it compares itself, or (assert tests only, trust
    "in-process") the harness's end marker as the runner checked it. A case with no frame is S."""

    def __init__(self, prep: Prepared):
        self.prep = prep
        self.letters: list[str] = []

    def add(self, header: dict[str, Any], body: bytes) -> bool:
        """One case's frame; False when it is not the next case or not a known result (the caller restarts
        the sandbox)."""
        prep, i, s = self.prep, header.get("case"), header.get("s")
        if i != len(self.letters) or i >= len(prep.expected):
            return False
        if s == "ok" and prep.kind != "assert":
            self.letters.append(self._compare(i, body))
        elif isinstance(s, str) and len(s) == 1 and (s in FAILURES or (s == "A" and prep.kind == "assert")):
            # one letter: FAILURES is a string, where "" or "MO" would be found too (and None would raise)
            self.letters.append(s)
        else:
            return False
        return True

    def _compare(self, i: int, body: bytes) -> str:
        """Case i's letter from its stdout or tagged return value. The boundary of the parent's handling of a
        candidate's value: whatever decoding or comparing it raises is a wrong answer for this case only."""
        try:
            return self._compare_value(i, body)
        except Exception:  # noqa: BLE001 - the decoders and comparators are total; this is the backstop
            return "W"

    def _compare_value(self, i: int, body: bytes) -> str:
        prep = self.prep
        if prep.kind == "stdio":
            return "A" if prep.rule.stdio(body.decode("utf-8", "surrogateescape"), prep.expected[i], prep.tol) else "W"
        if prep.check_text is not None:
            try:
                if prep.check_text(i, body) is True:
                    return "A"
            except Exception:  # noqa: BLE001 - a shortcut only: the full comparison below decides
                pass
        want = prep.expected[i]
        # numpy objects are rebuilt for a custom check and for Python's `==` (a numpy value compares as numpy
        # does in the candidate's process); JSON and LiveCodeBench comparisons read NumpyValue stand-ins.
        np = _numpy() if prep.check is not None or isinstance(want, _PythonExpected) and b'"N' in body else None
        try:
            value = decode_value(body, np)
        except ValueError:
            return "W"
        if prep.check is not None:
            try:
                return "A" if prep.check(i, value) is True else "W"
            except Exception:  # noqa: BLE001 - the comparison of a hostile value: a wrong answer
                return "W"
        if want is _NO_OUTPUT:
            return "A"  # marked returns_only (records.RETURNS_ONLY): the case checks only that the call returns
        if isinstance(want, _PythonExpected):
            return "A" if want.matches(value) else "W"
        if prep.rule.call is not None:
            return "A" if prep.rule.call(value, want, prep.tol) else "W"
        try:
            return "A" if call_expected_matches(json_view(value), want, prep.tol) else "W"
        except Exception:  # noqa: BLE001 - a value JSON cannot hold, or a comparison that raised: a wrong answer
            return "W"

    def text(self) -> str:
        return "".join(self.letters) + "S" * (len(self.prep.expected) - len(self.letters))


def json_view(value: Any) -> Any:
    """A decoded return value as the JSON comparison sees it: tuples are lists, sets sorted lists (in their own
    order when unsortable), dict keys as JSON writes them, bytes as UTF-8 text, numpy values as Python ones;
    what JSON cannot hold (complex, unserialisable objects) raises ValueError: a wrong answer."""
    t = type(value)
    if value is None or t in (bool, int, float, str):
        return value
    if t in (list, tuple):
        return [json_view(v) for v in value]
    if t in (set, frozenset):
        items = [json_view(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    if t is dict:
        return {_json_key(k): json_view(v) for k, v in value.items()}
    if t in (bytes, bytearray):
        return value.decode("utf-8", "replace")
    if t is NumpyValue:
        return json_view(value.value)
    raise ValueError(f"{t.__name__} has no JSON form")


def _json_key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if k is None or isinstance(k, (bool, int, float)):
        return json.dumps(k)
    raise ValueError("a dict key JSON cannot hold")


_np: list[Any] = []


def _numpy() -> Any:
    """numpy for rebuilding numpy return values when the parent has it (a custom check may compare them)."""
    if not _np:
        try:
            import numpy
        except ImportError:
            numpy = None  # type: ignore[assignment]  # numpy is optional: None stands for its absence
        _np.append(numpy)
    return _np[0]


def result_dict(verdicts: str, time_ms: int, trust: str = "parent") -> dict[str, Any]:
    passed = verdicts.count("A")
    total = len(verdicts)
    return {"pass_rate": passed / total if total else 0.0, "passed": passed, "total": total,
            "verdicts": verdicts, "time_ms": time_ms, "trust": trust}
