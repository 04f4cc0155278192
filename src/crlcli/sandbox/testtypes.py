"""The test-type table: one class per `tests.type` of a problem record (docs/formats.md), and the one trust rule.

Every stage asks this table instead of comparing type names: the record check (`check_tests`, through records.py),
the sandbox's preparation and verdicts (jobs.py), `crl filter`'s token filter (`has_inputs`, `input_text`),
`crl mix` and the reward (`trust`), and the prompt templates (each type's name is a template condition).

A type owns
- its shape check (`check`, `check_case`): why a `tests` object or one case cannot be run;
- its preparation (`normalize`, `expand`, `prepare_case`): what goes to the sandbox per case (never an expected
  output) and what the parent keeps to compare with;
- its comparison (`compare`): the letter of a case from the bytes the runner sent back, decided here, in the
  trusted parent;
- its trust: PARENT (the parent compares every value itself) or IN_PROCESS (a harness in the candidate's own
  process reports the pass; the runner's end marker is believed, so a hostile candidate can forge it);
- its `driver`: which of the runner's drivers runs it (runner_drivers.DRIVERS). The runner lives inside the
  sandbox and imports nothing from this package, so it knows drivers, not types: a new type that runs like an
  existing one (stdin/stdout, a call, a test program) only names that driver here.

Adding a type: a subclass registered with `@register`, and its test (docs/architecture.md, "Adding a test type").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import CrlError
from ..jsonx import dumps, json_type
from ..verdicts import IN_PROCESS as IN_PROCESS
from ..verdicts import PARENT as PARENT
from ..verdicts import RETURNS_ONLY_TRUST as RETURNS_ONLY_TRUST
from ..verdicts import TRUST_LEVELS as TRUST_LEVELS  # the levels, re-exported where the rule is
from . import callvalues
from .callvalues import NO_OUTPUT, PythonExpected
from .compare import COMPARATORS, Comparator, call_expected_matches
from .runner_child import decode_value

# A `call` case without `output` would pass any candidate that returns at all. It is a test of correctness only
# when the record says so: the case carries this flag (docs/formats.md), and such cases are counted and kept out of
# RL rows (a policy learns nothing from them) like tests that run in the candidate's process.
RETURNS_ONLY = "returns_only"


# -- trust: who decided that a case passed (the levels are named in verdicts.py)


def trust_of(result: dict[str, Any], tests: Any = None) -> str:
    """The one trust rule, for every stage that reads a sandbox result (judge, reward, eval): the result's own
    `trust` when it is a known level; when it has none (results from before the sandbox said so), the trust of
    its tests' type. Everything else (an unknown level, no tests, an unknown type) is IN_PROCESS: a pass nobody
    can vouch for never counts as decided by the parent."""
    level = result.get("trust")
    if level is None:
        return type_trust(tests)
    return level if level in TRUST_LEVELS else IN_PROCESS


def type_trust(tests: Any) -> str:
    """The trust of a `tests` object's type, as given (the caller decides whether before or after an assert
    program's conversion); IN_PROCESS when missing or unknown, whatever the value (total: it reads records)."""
    kind = tests.get("type") if isinstance(tests, dict) else None
    ttype = TYPES.get(kind) if isinstance(kind, str) else None
    return ttype.trust if ttype is not None else IN_PROCESS


# -- a candidate's job as the parent keeps it: built by jobs.prepare, read by every type's comparison


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
    def ttype(self) -> TestType:
        """The table's entry for the tests as they run (after an assert program converted to call cases)."""
        return get_type(self.kind)

    @property
    def trust(self) -> str:
        """ "parent": every pass was decided here from values compared here; "in-process": a harness in the
        candidate's process reported it (forgeable by a candidate that knows the harness): the type's trust."""
        if self.ttype.trust != PARENT:
            return self.ttype.trust
        # returns_only cases pass whatever the call returns: not a test of correctness, kept out of RL rewards
        return RETURNS_ONLY_TRUST if self.check is None and any(e is NO_OUTPUT for e in self.expected) else PARENT


# -- the table


class TestType(ABC):
    """One `tests.type`. Subclasses set the class attributes, implement `prepare_case` and `compare`, and override
    what else differs."""

    __test__ = False  # not a pytest test class, whatever its name

    name: ClassVar[str]
    driver: ClassVar[str]  # the runner's driver: "stdio", "call" or "assert" (runner_drivers.DRIVERS)
    trust: ClassVar[str] = PARENT  # PARENT or IN_PROCESS
    has_inputs: ClassVar[bool] = True  # cases have an input that `crl filter` measures in tokens
    takes_check: ClassVar[bool] = False  # a benchmark may compare values with a parent-side check of its own

    # shape

    def check(self, tests: dict[str, Any], outputs: bool) -> str | None:
        """Why the type's own fields (not the cases) are unusable, or None."""
        return None if isinstance(tests.get("cases"), list) else "tests.cases must be a list"

    def check_case(self, case: dict[str, Any], outputs: bool) -> str | None:
        """Why one case (a dict) cannot be run (the text follows `tests.cases[i]`), or None."""
        return None

    # filter

    def input_text(self, case: Any) -> str | None:
        """The text a case's input is measured by (token filter); None when it has none or it is malformed."""
        return None

    # preparation

    def normalize(self, tests: dict[str, Any]) -> dict[str, Any]:
        """The tests as they will run (assert programs become call cases when they convert exactly)."""
        return tests

    def expand(self, tests: dict[str, Any], cases: list[Any]) -> list[Any]:
        """The cases to run (e.g. a lone test program as one case)."""
        return cases

    def python_values(self, tests: dict[str, Any]) -> bool:
        """Arguments and expected values are Python values (converted asserts), not JSON."""
        return False

    def default_timeout(self, tests: dict[str, Any], timeout: float, n_cases: int) -> float:
        return timeout

    @abstractmethod
    def prepare_case(self, case: dict[str, Any], where: str, tests: dict[str, Any]) -> tuple[Any, Any]:
        """(what the sandbox gets for this case, what the parent keeps to compare with)."""

    # comparison

    def passed(self, prep: Prepared, i: int, s: str, body: bytes) -> str | None:
        """Case i's letter from a frame that is not a failure letter, or None when the frame is not one this
        type accepts (the caller restarts the sandbox). A parent-trusted type compares the value itself and
        never believes an "A" from inside; an in-process type takes the harness's end marker, as the runner
        checked it."""
        if self.trust == IN_PROCESS:
            return "A" if s == "A" else None
        if s != "ok":
            return None
        # The boundary of the parent's handling of a candidate's value: whatever decoding or comparing raises is
        # a wrong answer for this case only.
        try:
            return self.compare(prep, i, body)
        except Exception:  # noqa: BLE001 - the decoders and comparators are total; this is the backstop
            return "W"

    @abstractmethod
    def compare(self, prep: Prepared, i: int, body: bytes) -> str:
        """ "A" or "W" from case i's raw output; may raise (the caller's boundary makes that a "W")."""


TYPES: dict[str, TestType] = {}


def register(cls: type[TestType]) -> type[TestType]:
    """Put a type into the table (a class decorator)."""
    TYPES[cls.name] = cls()
    return cls


def get_type(name: Any) -> TestType:
    """The table's entry for `name`; ValueError for an unknown type."""
    ttype = TYPES.get(name) if isinstance(name, str) else None
    if ttype is None:
        raise ValueError(f"tests.type must be one of {', '.join(TYPES)}, got {name!r}")
    return ttype


@register
class Stdio(TestType):
    """The program reads the case's input on stdin; the parent compares its stdout token by token (or by
    `tests.compare`'s rule)."""

    name = driver = "stdio"

    def check_case(self, case, outputs):
        if not isinstance(case.get("input", ""), str):
            return f".input must be a string, got {json_type(case['input'])}"
        if not isinstance(case.get("output"), str):
            return (
                f".output must be a string, got {json_type(case['output'])}"
                if "output" in case
                else ": stdio cases need string input and output; 'output' is missing"
            )
        return None

    def input_text(self, case):
        value = case.get("input") if isinstance(case, dict) else None
        return value if isinstance(value, str) else None

    def prepare_case(self, case, where, tests):
        inp, out = case.get("input", ""), case.get("output")
        if not isinstance(inp, str) or not isinstance(out, str):
            raise CrlError(f"{where}: stdio cases need string input and output")
        return inp, out

    def compare(self, prep, i, body):
        return "A" if prep.rule.stdio(body.decode("utf-8", "surrogateescape"), prep.expected[i], prep.tol) else "W"


@register
class Call(TestType):
    """`fn_name` (a method of `class_name` when given) is called with the case's arguments; the sandbox sends the
    serialised return value and the parent decodes and compares it."""

    name = driver = "call"
    takes_check = True

    def check(self, tests, outputs):
        if not isinstance(tests.get("cases"), list):
            return "tests.cases must be a list"
        if not (isinstance(tests.get("fn_name"), str) and tests["fn_name"]):
            return "call tests need tests.fn_name"
        return None

    def check_case(self, case, outputs):
        inp = case.get("input", [])
        if not (isinstance(inp, (list, str)) or (isinstance(inp, dict) and inp and set(inp) <= {"args", "kwargs"})):
            return f'.input must be a list of arguments, {{"args", "kwargs"}} or their JSON text, got {json_type(inp)}'
        flag = case.get(RETURNS_ONLY)
        if flag not in (None, True, False):
            return f".{RETURNS_ONLY} must be true or false, got {json_type(flag)}"
        if flag is True and "output" in case:
            return f" has both 'output' and {RETURNS_ONLY}: true; give one"
        if outputs and flag is not True and "output" not in case:
            return (
                f" has no 'output': it would pass any candidate whose call returns; give the expected value, or "
                f'"{RETURNS_ONLY}": true if the case only checks that the call returns (docs/formats.md)'
            )
        return None

    def input_text(self, case):
        value = case.get("input") if isinstance(case, dict) else None
        if isinstance(value, list) or (isinstance(value, dict) and value and set(value) <= {"args", "kwargs"}):
            return dumps(value).decode()
        return None

    def python_values(self, tests):
        return tests.get("converted_from") == "assert"

    def default_timeout(self, tests, timeout, n_cases):
        # One assert program had one time limit: its converted cases share it (at least 1 s each), so that a
        # candidate that hangs costs about what it did before conversion, not a full limit per assert.
        return max(1.0, timeout / n_cases) if self.python_values(tests) else timeout

    def prepare_case(self, case, where, tests):
        python_values = self.python_values(tests)
        inp = callvalues.call_input(case, where, tests.get("tagged_args"), python_values)
        if "output" not in case:  # check_tests let it through: returns_only, or a parent-side check
            return inp, NO_OUTPUT
        if case.get("compare") == "python" or python_values and callvalues.identity_case(case):
            return inp, PythonExpected(case, where)
        return inp, case["output"]

    def compare(self, prep, i, body):
        if prep.check_text is not None:
            try:
                if prep.check_text(i, body) is True:
                    return "A"
            except Exception:  # noqa: BLE001 - a shortcut only: the full comparison below decides
                pass
        want = prep.expected[i]
        # numpy objects are rebuilt for a custom check and for Python's `==` (a numpy value compares as numpy
        # does in the candidate's process); JSON and LiveCodeBench comparisons read NumpyValue stand-ins.
        np = (
            callvalues.numpy_module()
            if prep.check is not None or isinstance(want, PythonExpected) and b'"N' in body
            else None
        )
        try:
            value = decode_value(body, np)
        except ValueError:
            return "W"
        if prep.check is not None:
            try:
                return "A" if prep.check(i, value) is True else "W"
            except Exception:  # noqa: BLE001 - the comparison of a hostile value: a wrong answer
                return "W"
        if want is NO_OUTPUT:
            return "A"  # marked returns_only (RETURNS_ONLY): the case checks only that the call returns
        if isinstance(want, PythonExpected):
            return "A" if want.matches(value) else "W"
        if prep.rule.call is not None:
            return "A" if prep.rule.call(value, want, prep.tol) else "W"
        try:
            return "A" if call_expected_matches(callvalues.json_view(value), want, prep.tol) else "W"
        except Exception:  # noqa: BLE001 - a value JSON cannot hold, or a comparison that raised: a wrong answer
            return "W"


@register
class Assert(TestType):
    """A test program (HumanEval's `check(candidate)`, MBPP asserts, a unittest) run after the solution, in the
    candidate's process. Exact `assert f(args) == value` programs are converted to parent-compared call cases
    first (crlcli.asserts); what stays is the in-process kind: the runner's end marker decides."""

    name = driver = "assert"
    trust = IN_PROCESS
    has_inputs = False  # programs are not inputs: never token-filtered

    def check(self, tests, outputs):
        if not isinstance(tests.get("program"), str) and not isinstance(tests.get("cases"), list):
            return "assert tests need 'program' (a string) or 'cases'"
        return None

    def check_case(self, case, outputs):
        if "program" in case and not isinstance(case["program"], str):
            return f".program must be a string, got {json_type(case['program'])}"
        return None

    def normalize(self, tests):
        return callvalues.converted(tests)

    def expand(self, tests, cases):
        if cases:
            return cases
        program = tests.get("program")
        if not isinstance(program, str) or not program.strip():
            raise CrlError("assert tests need tests.program (or cases with a program each)")
        return [{"program": program}]

    def compare(self, prep, i, body):
        # passed() takes an in-process type's pass from the harness's end marker and never gets here; a value
        # from inside the candidate's process is never a pass by comparison
        return "W"

    def prepare_case(self, case, where, tests):
        program = case.get("program")
        if not isinstance(program, str):
            raise CrlError(f"{where}: assert cases need a string program")
        try:
            compile(program, "<test>", "exec")
        except SyntaxError as exc:
            raise CrlError(f"{where}: the test program does not compile: {exc}") from None
        return program, None


# -- the checks every stage runs on a record's tests


def check_tests(tests: Any, outputs: bool = True) -> str | None:
    """Why a `tests` object cannot be run, or None: the one shape check for records and the sandbox (every stage
    that reads a problem record, the judge, the reward). `outputs=False`: the caller compares call results with
    a check of its own (benchmarks), so call cases need no `output`."""
    if not isinstance(tests, dict):
        return f"field 'tests' must be an object, got {json_type(tests)}"
    kind = tests.get("type")
    ttype = TYPES.get(kind) if isinstance(kind, str) else None
    if ttype is None:
        return f"tests.type must be one of {', '.join(TYPES)}, got {kind!r}"
    why = ttype.check(tests, outputs)
    if why:
        return why
    cases = tests.get("cases")
    for i, case in enumerate(cases if isinstance(cases, list) else ()):
        why = check_case(ttype.name, case, outputs)
        if why:
            return f"tests.cases[{i}]{why}"
    return None


def check_case(kind: str, case: Any, outputs: bool = True) -> str | None:
    """Why one test case cannot be run (the text follows `tests.cases[i]`), or None."""
    if not isinstance(case, dict):
        return f" must be an object, got {json_type(case)}"
    return get_type(kind).check_case(case, outputs)


def returns_only_cases(tests: Any) -> int:
    """How many call cases of `tests` check only that the call returns (no expected value)."""
    if not isinstance(tests, dict) or tests.get("type") != Call.name or not isinstance(tests.get("cases"), list):
        return 0
    return sum(1 for c in tests["cases"] if isinstance(c, dict) and c.get(RETURNS_ONLY) is True)
