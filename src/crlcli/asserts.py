"""Exact conversion of `assert` test programs into parent-compared `call` cases.

An assert program runs in the candidate's process, so a candidate can fool it (a permissive `__eq__`, patched
builtins, reading the expected values). Most HumanEval / MBPP / LeetCode programs are only lines such as
`assert candidate(1, 2) == 3`: such a line says "call the function with these literal arguments and compare the
result with this literal", which the trusted parent can do itself. `convert()` rewrites a test set only when
**every** statement converts exactly; otherwise it returns the tests unchanged (they stay in-process).

Exactness: the comparison of `x == v` is Python's, not JSON's (`3 == 3.0`, `True == 1`, a tuple equals only a
tuple), so converted cases carry `"compare": "python"` and are compared by `python_equal` on the decoded return
value; `abs(f(x) - v) < tol` and `math.isclose` forms carry per-case `atol`/`rtol`; `f(x) is True/False/None`
cases carry no `compare` key (the JSON comparator is exact for them: bools are not numbers). Values JSON cannot
carry (tuples, sets, complex, bytes, nan/inf, non-string keys, huge ints) are written `{"$py": "<literal>"}`.
Pure standard library; nothing here runs candidate code. See docs/formats.md.
"""

from __future__ import annotations

import ast
import copy
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypeGuard

TAG = "$py"
_INT_RANGE = (-(2**63), 2**63 - 1)  # plain JSON for other readers too (orjson alone loses ints past 64 bits)
_MAX_LEN = 100_000  # largest sequence a folded `[0] * n` may build at ingestion
_MAX_BITS = 12_000  # keep folded ints printable (Python 3.11 caps int<->str at 4,300 digits)


class _NotExact(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------- literal values

_SPECIAL = {"nan": math.nan, "inf": math.inf, "nanj": complex(0, math.nan), "infj": complex(0, math.inf)}


def _value(node: ast.AST, decoding: bool = False) -> Any:
    """The value of a literal expression, with constant arithmetic folded (`2.0/3.0`, `-1`, `[0] * 5`, `10**-6`):
    the parent computes exactly what the program would. `decoding` also accepts what `repr` writes for values
    that have no literal (`nan`, `inf`, `frozenset({...})`). Anything else raises _NotExact."""
    v = lambda n: _value(n, decoding)  # noqa: E731
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise _NotExact("non-literal")
        items = [v(e) for e in node.elts]
        if isinstance(node, ast.List):
            return items
        if isinstance(node, ast.Tuple):
            return tuple(items)
        return _hashed(set, items)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _NotExact("non-literal")
        try:
            return {v(k): v(val) for k, val in zip(node.keys, node.values)}
        except TypeError:
            raise _NotExact("non-literal") from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        # `set([1, 2])`, `tuple("ab")`, `float("inf")`: builtins applied to a literal (a candidate that rebinds
        # them would only be fooling the in-process test, which is what this conversion removes)
        build = _BUILDERS.get(node.func.id)
        if build is None or len(node.args) > 1 or any(isinstance(a, ast.Starred) for a in node.args):
            raise _NotExact("non-literal")
        arg = v(node.args[0]) if node.args else ()
        iterable = (str, bytes, list, tuple, set, frozenset, dict)
        ok = (isinstance(arg, str) or _number(arg)) if build is float else isinstance(arg, iterable)
        if not ok or (build is float and not node.args):
            raise _NotExact("non-literal")
        try:
            return build(arg)
        except (TypeError, ValueError):
            raise _NotExact("non-literal") from None
    if decoding and isinstance(node, ast.Name) and node.id in _SPECIAL:
        return _SPECIAL[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        x = v(node.operand)
        if not _number(x) or (isinstance(node.op, ast.Invert) and not isinstance(x, int)):
            raise _NotExact("non-literal")
        return -x if isinstance(node.op, ast.USub) else +x if isinstance(node.op, ast.UAdd) else ~x
    if isinstance(node, ast.BinOp):
        return _fold(node.op, v(node.left), v(node.right))
    raise _NotExact("non-literal")


_BUILDERS = {"set": set, "frozenset": frozenset, "tuple": tuple, "list": list, "float": float}


def _hashed(kind, items):
    try:
        return kind(items)
    except TypeError:
        raise _NotExact("non-literal") from None


def _number(x: Any) -> bool:
    return isinstance(x, (int, float, complex))  # bool is an int, as in Python arithmetic


def _fold(op: ast.operator, a: Any, b: Any) -> Any:
    """One operator on two folded constants, refusing what could blow up the parent or raise."""
    seq = (str, bytes, list, tuple)
    if isinstance(op, ast.Mult) and isinstance(a, int) and isinstance(b, seq):
        a, b = b, a
    ok = _number(a) and _number(b)
    if isinstance(op, ast.Add):
        ok = ok or (type(a) is type(b) and isinstance(a, seq))
    elif isinstance(op, ast.Mult):
        ok = ok or (isinstance(a, seq) and isinstance(b, int) and len(a) * max(b, 0) <= _MAX_LEN)
    elif isinstance(op, ast.Pow):
        ok = ok and not (
            isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 and b * a.bit_length() > _MAX_BITS
        )
    elif not isinstance(op, (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod)):
        ok = False
    if not ok:
        raise _NotExact("non-literal")
    fn = {
        ast.Add: lambda: a + b,
        ast.Sub: lambda: a - b,
        ast.Mult: lambda: a * b,
        ast.Div: lambda: a / b,
        ast.FloorDiv: lambda: a // b,
        ast.Mod: lambda: a % b,
        ast.Pow: lambda: a**b,
    }[type(op)]
    try:
        out = fn()
    except (ArithmeticError, TypeError, ValueError):  # the program itself would raise: not a literal test
        raise _NotExact("non-literal") from None
    if isinstance(out, int) and out.bit_length() > _MAX_BITS:
        raise _NotExact("non-literal")
    return out


def _json_native(x: Any) -> bool:
    if x is None or isinstance(x, (bool, str)):
        return True
    if isinstance(x, int):
        return _INT_RANGE[0] <= x <= _INT_RANGE[1]
    if isinstance(x, float):
        return math.isfinite(x)
    if isinstance(x, list):
        return all(_json_native(e) for e in x)
    if isinstance(x, dict):
        if set(x) == {TAG}:  # would read back as a tag
            return False
        return all(isinstance(k, str) and _json_native(e) for k, e in x.items())
    return False


def encode_value(x: Any) -> Any:
    """`x` itself when JSON carries it exactly, else `{"$py": repr(x)}` (read back by `decode_value`)."""
    return x if _json_native(x) else {TAG: repr(x)}


def decode_value(obj: Any) -> Any:
    """Inverse of `encode_value`: a `{"$py": text}` tag becomes the Python value; anything else a fresh copy (a
    function may change its arguments in place; the stored case must not change with them)."""
    if isinstance(obj, dict) and len(obj) == 1 and isinstance(obj.get(TAG), str):
        try:
            return _value(ast.parse(obj[TAG].strip(), mode="eval").body, decoding=True)
        except (SyntaxError, ValueError, RecursionError, _NotExact) as exc:
            raise ValueError(f"bad {TAG} value {obj[TAG][:80]!r}") from exc
    return copy.deepcopy(obj)


def expected_value(case: dict) -> Any:
    """The expected return value of a converted call case, as a Python value."""
    return decode_value(case.get("output"))


def decode_input(value: Any) -> tuple[list, dict]:
    """(args, kwargs) of a converted case's `input` with tagged arguments decoded (a list, or args/kwargs)."""
    if isinstance(value, dict) and set(value) <= {"args", "kwargs"}:
        return (
            [decode_value(a) for a in value.get("args", [])],
            {k: decode_value(a) for k, a in value.get("kwargs", {}).items()},
        )
    return [decode_value(a) for a in value], {}


# ------------------------------------------------------------------------------------------------- comparison


def python_equal(actual: Any, expected: Any, atol: float | None = None, rtol: float | None = None) -> bool:
    """Python's `actual == expected` on plain values (decoded return value vs decoded expected value):
    `3 == 3.0`, `True == 1`, `1 == 1+0j`; a tuple equals only a tuple, a list only a list, a set or frozenset
    only a set or frozenset; dict keys match as in a dict lookup (`{1: x} == {1.0: x}`); NaN never equals.
    With tolerances, number leaves compare as the assert forms they come from: `rtol` given ->
    `math.isclose(a, e, rel_tol=rtol, abs_tol=atol or 0)`; only `atol` -> `abs(a - e) <= atol`.
    numpy values compare as in the candidate's process: numpy objects the parent rebuilt (runner_child's
    allow-list) with numpy's own operators, then `bool()` of the result (an array of several elements raises
    there, so fails here); NumpyValue stand-ins as their Python value (arrays: _stand_in_array).
    Total: any error of the comparison (it is a hostile value) is False, as the assert would have failed."""
    try:
        return _equal(actual, expected, atol, rtol)
    except Exception:  # noqa: BLE001 - OverflowError, MemoryError, RecursionError, numpy's errors: a failed assert
        return False


def _equal(actual: Any, expected: Any, atol: float | None, rtol: float | None) -> bool:
    if type(actual).__module__ == "numpy":  # parent-built from the allow-list: numpy's operators are trusted code
        return _numpy_truth(actual, expected, atol, rtol)
    if _is_stand_in(actual):  # numpy values kept as data: a scalar as its Python value (`np.int64(3)` as 3)
        # numpy broadcasts a number scalar against a list as well (`np.int64(3) == [3]` is `array([True])`);
        # its str_ and bytes_ are Python strings there, which a list never equals
        if actual.shape is not None or (
            isinstance(expected, (list, tuple)) and not isinstance(actual.value, (str, bytes))
        ):
            return _stand_in_array(actual, expected, atol, rtol)
        actual = actual.value
        if rtol is not None and isinstance(actual, complex):
            actual = actual.real  # math.isclose converts a numpy complex with float(): the imaginary part drops
    if isinstance(expected, (int, float, complex)):
        if not isinstance(actual, (int, float, complex)):
            return False
        try:
            if rtol is not None:
                return math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol or 0.0)  # type: ignore[arg-type]  # a complex raises TypeError: False below
            if atol is not None:
                return abs(actual - expected) <= atol
        except (TypeError, ValueError, OverflowError):
            return False
        return actual == expected  # False for NaN on either side
    # tolerances apply to number leaves only
    if isinstance(expected, (list, tuple)):
        kind = list if isinstance(expected, list) else tuple
        return (
            isinstance(actual, kind)
            and len(actual) == len(expected)
            and all(_equal(a, e, atol, rtol) for a, e in zip(actual, expected))
        )
    if isinstance(expected, (set, frozenset)):
        if not isinstance(actual, (set, frozenset)) or _has_nan(expected) or _has_nan(actual):
            return False
        return actual == expected
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or len(actual) != len(expected) or _has_nan(expected.keys()):
            return False
        return all(k in actual and _equal(actual[k], e, atol, rtol) for k, e in expected.items())
    if expected is None:
        return actual is None
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    if isinstance(expected, (bytes, bytearray)):
        return isinstance(actual, (bytes, bytearray)) and actual == expected
    return type(actual) is type(expected) and actual == expected


def _has_nan(items) -> bool:
    # real and imaginary parts apart: abs() of complex(1.7e308, 1.7e308) overflows
    return any(
        isinstance(x, float) and math.isnan(x) or isinstance(x, complex) and (math.isnan(x.real) or math.isnan(x.imag))
        for x in items
    )


def _numpy_truth(actual: Any, expected: Any, atol: float | None, rtol: float | None) -> bool:
    """The converted assert on a numpy value, evaluated as the candidate's process would (numpy's comparison,
    then the assert's truth test: `bool()` of an array of several elements raises, which fails the assert)."""
    import numpy  # present: `actual` is one of its objects

    if isinstance(actual, numpy.ndarray) and rtol is None and _broadcast_size(numpy, actual, expected) not in (1, None):
        # bool() of a comparison with other than one element raises: the assert fails, and the comparison is
        # not computed (an (n, 1) array against a list of m would broadcast to n x m elements in the parent)
        return False
    with numpy.errstate(all="ignore"):  # overflow in int64 arithmetic wraps there too; only the warning differs
        if rtol is not None:
            return math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol or 0.0)
        if atol is not None:
            return bool(abs(actual - expected) <= atol)
        return bool(actual == expected)


def _broadcast_size(np: Any, a: Any, b: Any) -> int | None:
    """Elements of numpy's broadcast of a and b (None when numpy cannot tell: ragged or odd values)."""
    try:
        return math.prod(np.broadcast_shapes(np.shape(a), np.shape(b)))
    except Exception:  # noqa: BLE001 - no shape: the comparison itself decides (and may raise)
        return None


def _is_stand_in(value: Any) -> bool:
    # sandbox.runner_child's NumpyValue, known by its class's module and name as numpy's objects are in _equal
    # (only the parent's own code makes objects of either): this module sits below the sandbox package and
    # imports nothing of it. tests/test_asserts.py checks that the names still match.
    return type(value).__module__ == "crlcli.sandbox.runner_child" and type(value).__name__ == "NumpyValue"


def _stand_in_array(value: Any, expected: Any, atol: float | None, rtol: float | None) -> bool:
    """`assert arr == expected` for a NumpyValue array (a parent without numpy, or a dtype it does not rebuild),
    or a number scalar against a list:
    numpy compares element-wise and the assert takes `bool()` of that, which raises unless exactly one element
    results, so only a one-element array against a number or string (or a nest of one-element lists around one)
    can pass, by its element. `math.isclose` takes no array at all (numpy 2: only 0-d arrays convert)."""
    shape = value.shape or ()  # () for a scalar against a list: numpy's 0-d broadcasting
    if rtol is not None and shape or len(shape) > 64 or any(type(d) is not int or d != 1 for d in shape):
        return False
    item = value.value
    for _ in shape:
        if not isinstance(item, list) or len(item) != 1:
            return False
        item = item[0]
    while isinstance(expected, (list, tuple)) and len(expected) == 1:
        expected = expected[0]
    if isinstance(expected, (list, tuple)):  # broadcasts to no element or several
        return False
    return _equal(item, expected, atol, None)


# ------------------------------------------------------------------------------------------------- conversion


@dataclass
class ConvertStats:
    """Counts over one or more `convert()` calls; `reasons`: records left in-process per reason (a record with
    several reasons counts under each), `blocking`: the statements or constructs behind each reason."""

    records: int = 0
    records_converted: int = 0
    records_in_process: int = 0
    cases_converted: int = 0  # call cases written
    asserts_in_process: int = 0  # assert statements of the records left in-process
    reasons: Counter = field(default_factory=Counter)
    blocking: Counter = field(default_factory=Counter)

    def add(self, other: ConvertStats) -> ConvertStats:
        for name in ("records", "records_converted", "records_in_process", "cases_converted", "asserts_in_process"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.blocking.update(other.blocking)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "records_converted": self.records_converted,
            "records_in_process": self.records_in_process,
            "cases_converted": self.cases_converted,
            "asserts_in_process": self.asserts_in_process,
            "reasons": dict(self.reasons.most_common()),
            "blocking": dict(self.blocking.most_common()),
        }


def convert(tests: dict) -> tuple[dict, ConvertStats]:
    """`tests` of type assert -> an equivalent `call` test set when every statement converts exactly (the original
    program kept as `assert_program`, or the cases as `assert_cases`); otherwise `tests` unchanged."""
    st = ConvertStats()
    if not isinstance(tests, dict) or tests.get("type") != "assert":
        return tests, st
    st.records = 1
    cases_in = tests.get("cases") or []
    if cases_in:
        units = [
            (c.get("program") if isinstance(c, dict) else None, c if isinstance(c, dict) else {}) for c in cases_in
        ]
    else:
        units = [(tests.get("program"), {})]
    conv = _Converter(tests.get("fn_name"), tests.get("class_name"))
    out_cases: list[dict] = []
    for program, case in units:
        before = len(conv.cases)
        conv.program(program)
        if isinstance(case.get("timeout"), (int, float)):
            for c in conv.cases[before:]:
                c["timeout"] = case["timeout"]
    out_cases = conv.cases
    if not conv.reasons and not out_cases:
        conv.fail("no assert")
    if conv.reasons:
        st.records_in_process = 1
        st.asserts_in_process = conv.n_asserts
        st.reasons.update(set(conv.reasons))
        st.blocking.update(conv.reasons)
        return tests, st
    new = {k: v for k, v in tests.items() if k not in ("cases", "program")}
    new.update(
        {
            "type": "call",
            "fn_name": conv.fn_name,
            "class_name": conv.class_name,
            "cases": out_cases,
            "program": None,
            "converted_from": "assert",
        }
    )
    if cases_in:
        new["assert_cases"] = cases_in
    else:
        new["assert_program"] = tests.get("program")
    st.records_converted = 1
    st.cases_converted = len(out_cases)
    return new, st


class _Converter:
    """Walks the programs of one test set; collects call cases, or the reasons it cannot."""

    def __init__(self, fn_name: Any, class_name: Any):
        self.fn_name = fn_name if isinstance(fn_name, str) and fn_name else None
        self.class_name = class_name if isinstance(class_name, str) and class_name else None
        self.cases: list[dict] = []
        self.reasons: list[str] = []
        self.n_asserts = 0
        self.fixed = False  # set by the first check(...) call

    def fail(self, reason: str) -> None:
        self.reasons.append(reason)

    def target(self, fn: str, cls: str | None) -> bool:
        """Fix the function under test from `check(f)` / `check(Cls().f)`; False when it contradicts `tests.fn_name`,
        `tests.class_name` or another program of the same test set."""
        if self.fn_name is None:
            self.fn_name = fn
        if self.class_name is None and not self.fixed:
            self.class_name = cls
        if self.fn_name != fn or self.class_name != cls:
            self.fail("other function")
            return False
        self.fixed = True
        return True

    def program(self, src: Any) -> None:
        if not isinstance(src, str):
            return self.fail("no program")
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError, RecursionError):
            self.n_asserts += 1
            return self.fail("syntax error")
        self.n_asserts += sum(isinstance(n, ast.Assert) for n in ast.walk(tree))
        names_used = Counter(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
        checks: dict[str, ast.FunctionDef] = {}
        runs: list[tuple[str, Any]] = []  # in execution order: ("assert", ast.Assert) or ("check", ast.Call)
        for stmt in tree.body:
            if self.ignorable(stmt, names_used):
                continue
            if isinstance(stmt, ast.FunctionDef):
                if _one_param(stmt):
                    checks[stmt.name] = stmt
                else:
                    self.fail("helper function")
            elif isinstance(stmt, ast.Assert):
                runs.append(("assert", stmt))
            elif (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name)
                and stmt.value.func.id in checks
            ):
                runs.append(("check", stmt.value))
            else:
                self.fail(_kind(stmt))
        called = [c.func.id for k, c in runs if k == "check"]
        for name in checks:
            if called.count(name) != 1:
                self.fail("no check call" if name not in called else "other statement")
        if self.reasons:
            return
        if self.fn_name is None:  # MBPP style: the one function the module-level asserts call
            targets = {
                n.func.id
                for k, a in runs
                if k == "assert"
                for n in ast.walk(a)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
            } - _NOT_TARGETS
            if len(targets) == 1:
                self.fn_name = targets.pop()
        for kind, node in runs:
            if kind == "assert":
                self.statement(node, callee=None)
            else:
                self.check_call(checks[node.func.id], node)

    def ignorable(self, stmt: ast.stmt, names_used: Counter) -> bool:
        """Docstrings, `pass`, imports and assignments of a name nothing else reads (METADATA)."""
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            return True
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            bound = {(a.asname or a.name).split(".")[0] for a in stmt.names}
            if bound & {self.fn_name, self.class_name, "abs", "candidate"}:
                self.fail("other statement")
            return True
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and names_used[stmt.targets[0].id] == 1
        ):
            try:
                _value(stmt.value)
                return True
            except _NotExact:
                return False
        return False

    def check_call(self, fdef: ast.FunctionDef, call: ast.Call) -> None:
        """`check(f)` or `check(Cls().method)` with `def check(candidate): <asserts>`."""
        if len(call.args) != 1 or call.keywords:
            return self.fail("other statement")
        arg = call.args[0]
        if isinstance(arg, ast.Name):
            fn, cls = arg.id, None
        elif (
            isinstance(arg, ast.Attribute)
            and isinstance(arg.value, ast.Call)
            and isinstance(arg.value.func, ast.Name)
            and not arg.value.args
            and not arg.value.keywords
        ):
            fn, cls = arg.attr, arg.value.func.id
        else:
            return self.fail("unsupported shape")
        if not self.target(fn, cls):
            return
        param = fdef.args.args[0].arg
        names_used = Counter(n.id for n in ast.walk(fdef) if isinstance(n, ast.Name))
        for stmt in fdef.body:
            if self.ignorable(stmt, names_used):
                continue
            if isinstance(stmt, ast.Assert):
                self.statement(stmt, callee=param)
            else:
                self.fail(_kind(stmt))

    # one assert statement --------------------------------------------------------------------------------------

    def is_callee(self, node: ast.AST, callee: str | None) -> TypeGuard[ast.Call]:
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            return False
        name = node.func.id
        if callee is not None:
            return name == callee or (self.class_name is None and name == self.fn_name)
        return self.class_name is None and name == self.fn_name

    def statement(self, node: ast.Assert, callee: str | None) -> None:
        # The message is evaluated only when the assert fails, and then the case fails either way: ignore it.
        test = node.test
        try:
            case = self.case_of(test, callee)
        except _NotExact as exc:
            return self.fail(exc.reason)
        if case is not None:
            self.cases.append(case)

    def case_of(self, test: ast.expr, callee: str | None) -> dict | None:
        if isinstance(test, ast.Constant):
            if test.value:
                return None  # `assert True`: always passes
            raise _NotExact("other statement")
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, op, right = test.left, test.ops[0], test.comparators[0]
            if isinstance(op, (ast.Eq, ast.Is)):
                if self.is_callee(right, callee) and not self.is_callee(left, callee):
                    left, right = right, left
                if self.is_callee(left, callee):
                    expected = self.literal(right, "non-literal expected value", callee)
                    if isinstance(op, ast.Eq):
                        return self.make(left, expected, compare="python")
                    if expected is None or isinstance(expected, bool):
                        return self.make(left, expected)
                    raise _NotExact("not ==")
            if isinstance(op, (ast.Gt, ast.GtE)):
                left, right = right, left
                op = ast.Lt() if isinstance(op, ast.Gt) else ast.LtE()
            if isinstance(op, (ast.Lt, ast.LtE)) and _is_abs(left):
                return self.tolerance(left.args[0], right, strict=isinstance(op, ast.Lt), callee=callee)
        if isinstance(test, ast.Call) and self.is_isclose(test):
            return self.isclose(test, callee)
        if self.is_callee(test, callee) or (
            isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and self.is_callee(test.operand, callee)
        ):
            raise _NotExact("truthiness")
        if any(self.is_callee(n, callee) for n in ast.walk(test)):
            if isinstance(test, ast.Compare) and any(self.is_callee(c, callee) for c in [test.left, *test.comparators]):
                raise _NotExact("not ==")  # `!=`, `<`, `in`, chained `a == f(x) == b` ...
            raise _NotExact("result transformed")
        raise _NotExact("other function")

    def literal(self, node: ast.expr, reason: str, callee: str | None) -> Any:
        if any(self.is_callee(n, callee) for n in ast.walk(node) if isinstance(n, ast.Call)):
            raise _NotExact("result transformed")
        try:
            return _value(node)
        except (_NotExact, RecursionError):
            raise _NotExact(reason) from None

    def make(self, call: ast.Call, expected: Any, compare: str | None = None, **tol: float) -> dict:
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            raise _NotExact("starred argument")
        args = [encode_value(self.literal(a, "non-literal argument", None)) for a in call.args]
        kwargs = {k.arg: encode_value(self.literal(k.value, "non-literal argument", None)) for k in call.keywords}
        case: dict[str, Any] = {
            "input": {"args": args, "kwargs": kwargs} if kwargs else args,
            "output": encode_value(expected),
        }
        if compare:
            case["compare"] = compare
        case.update(tol)
        return case

    def tolerance(self, diff: ast.expr, tol_node: ast.expr, strict: bool, callee: str | None) -> dict:
        """`abs(f(x) - v) < tol` (or `<=`, or `abs(v - f(x))`): `atol` with the meaning `abs(a - v) <= atol`; a strict
        `<` becomes the float just below tol, the same test for every float or int difference."""
        if not isinstance(diff, ast.BinOp) or not isinstance(diff.op, ast.Sub):
            raise _NotExact("tolerance form")
        call, other = diff.left, diff.right
        if self.is_callee(other, callee) and not self.is_callee(call, callee):
            call, other = other, call
        if not self.is_callee(call, callee):
            raise _NotExact("result transformed")
        v = self.literal(other, "non-literal expected value", callee)
        tol = self.literal(tol_node, "non-literal expected value", callee)
        if (
            not isinstance(v, (int, float, complex))
            or isinstance(v, bool)
            or not isinstance(tol, (int, float))
            or isinstance(tol, bool)
            or not 0 < tol <= 2.0**52
            or float(tol) != tol
        ):
            raise _NotExact("tolerance form")
        atol = math.nextafter(float(tol), 0.0) if strict else float(tol)
        return self.make(call, v, compare="python", atol=atol)

    def is_isclose(self, node: ast.Call) -> bool:
        f = node.func
        return (
            isinstance(f, ast.Attribute)
            and f.attr == "isclose"
            and isinstance(f.value, ast.Name)
            and f.value.id == "math"
        ) or (isinstance(f, ast.Name) and f.id == "isclose")

    def isclose(self, node: ast.Call, callee: str | None) -> dict:
        """`math.isclose(f(x), v, rel_tol=r, abs_tol=a)`: `rtol` (1e-9, isclose's default, when not given) and
        `atol` (0.0) meaning `math.isclose(actual, v, rel_tol=rtol, abs_tol=atol)`."""
        if len(node.args) != 2 or any(k.arg not in ("rel_tol", "abs_tol") for k in node.keywords):
            raise _NotExact("tolerance form")
        call, other = node.args
        if self.is_callee(other, callee) and not self.is_callee(call, callee):
            call, other = other, call
        if not self.is_callee(call, callee):
            raise _NotExact("result transformed")
        v = self.literal(other, "non-literal expected value", callee)
        tols = {"rel_tol": 1e-9, "abs_tol": 0.0}
        for k in node.keywords:
            assert k.arg is not None  # checked above: rel_tol or abs_tol
            tols[k.arg] = self.literal(k.value, "non-literal expected value", callee)
        if (
            not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in tols.values())
            or not isinstance(v, (int, float))
            or isinstance(v, bool)
        ):
            raise _NotExact("tolerance form")
        return self.make(call, v, compare="python", rtol=float(tols["rel_tol"]), atol=float(tols["abs_tol"]))


# Builtins an assert may wrap around the call (the record then stays in-process): never the function under test.
_NOT_TARGETS = {
    "abs",
    "isclose",
    "set",
    "frozenset",
    "sorted",
    "len",
    "list",
    "tuple",
    "str",
    "int",
    "float",
    "round",
    "isinstance",
    "type",
    "all",
    "any",
    "sum",
    "max",
    "min",
    "print",
    "dict",
    "bool",
}


def _is_abs(node: ast.expr) -> TypeGuard[ast.Call]:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "abs"
        and len(node.args) == 1
        and not node.keywords
    )


def _one_param(f: ast.FunctionDef) -> bool:
    a = f.args
    return (
        len(a.args) == 1
        and not (a.posonlyargs or a.kwonlyargs or a.vararg or a.kwarg or a.defaults)
        and not f.decorator_list
    )


def _kind(stmt: ast.stmt) -> str:
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        return "loop"
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        return "helper function"
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        return "variable"
    return "other statement"
