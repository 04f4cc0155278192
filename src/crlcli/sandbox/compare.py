"""Comparators, run in the trusted parent only (expected outputs never enter the sandbox)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from ..jsonx import exact_int

DEFAULT_TOL = 1e-6
# Tokens are compared as bytes: bytes.split() splits on ASCII whitespace only (space, \t, \n, \r, \v, \f),
# where str.split() would also split on U+00A0, U+2003, \x1c-\x1f and friends (so `1\xa02` read as `1 2`), and
# these byte patterns and float(bytes) accept ASCII digits only (str's \d and float() take '٣' for 3).
_INT = re.compile(rb"[+-]?[0-9]+\Z")
_NUM = re.compile(rb"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_WS = " \t\n\r\v\f"
# Expected outputs and arguments stored as JSON text: integers exact at any length (past Python's 4300 digits).
_loads = partial(json.loads, parse_int=exact_int)


def _bytes(text: str | bytes) -> bytes:
    if not isinstance(text, str):
        return text
    try:  # text decoded with surrogateescape gets its raw bytes back
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates: still one fixed encoding
        return text.encode("utf-8", "surrogatepass")


def _same_but_trailing_ws(a: str | bytes, b: str | bytes) -> bool:
    """One is the other plus trailing ASCII whitespace (the usual accepted output): no tokenising needed."""
    if len(a) < len(b):
        a, b = b, a
    if not a.startswith(b):  # type: ignore[arg-type]  # both str or both bytes (stdio_equal sees to it)
        return False
    tail = a[len(b) :]
    return not (tail.strip(_WS) if isinstance(tail, str) else tail.strip())


def stdio_equal(actual: str | bytes, expected: str | bytes, tol: float = DEFAULT_TOL) -> bool:
    """Token by token over ASCII whitespace; integers exact; floats within `tol` (relative or absolute) only
    where the expected token is not an integer; no case folding. Either side may be str or bytes."""
    if isinstance(actual, str) != isinstance(expected, str):
        actual, expected = _bytes(actual), _bytes(expected)
    if _same_but_trailing_ws(actual, expected):
        return True
    got, want = _bytes(actual).split(), _bytes(expected).split()
    if got == want:  # same tokens, other spacing: still in C
        return True
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g == w:
            continue
        if _INT.match(w) or not _NUM.match(w) or not _NUM.match(g):
            return False
        if not math.isclose(float(g), float(w), rel_tol=tol, abs_tol=tol):
            return False
    return True


def json_equal(actual: Any, expected: Any, tol: float = DEFAULT_TOL) -> bool:
    """JSON value equality: lists (JSON has no tuples) element-wise, dict keys exact, bools are not numbers,
    floats (on either side) within `tol` relative or absolute."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if isinstance(expected, int) and isinstance(actual, int):
            return actual == expected
        try:
            a, e = float(actual), float(expected)
        except OverflowError:  # an int past float's range (10**400): no float is within tol of it
            return False
        if math.isnan(e) or math.isnan(a):
            return math.isnan(e) and math.isnan(a)
        return a == e or math.isclose(a, e, rel_tol=tol, abs_tol=tol)
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(json_equal(a, e, tol) for a, e in zip(actual, expected))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(json_equal(actual[k], expected[k], tol) for k in expected)
        )
    return type(actual) is type(expected) and actual == expected


def call_expected_matches(actual: Any, expected: Any, tol: float = DEFAULT_TOL) -> bool:
    """An expected call output may be the value itself or a JSON text of it (rStar/LiveCodeBench store text)."""
    if json_equal(actual, expected, tol):
        return True
    if isinstance(expected, str):
        try:
            decoded = _loads(expected)
        except ValueError:
            return False
        return json_equal(actual, decoded, tol)
    return False


def decode_call_args(value: Any, where: str) -> list | dict:
    """Arguments of one call case. Accepted (see docs/judge.md):
    - a JSON list of arguments: [1, [2, 3]];
    - {"args": [...], "kwargs": {...}};
    - a string holding one of those as JSON text (also JSON-encoded twice);
    - a string with one JSON value per line, one per argument (LiveCodeBench "functional" tests);
    - a string holding a single non-list JSON value: one argument."""
    from ..errors import CrlError

    if isinstance(value, str):
        try:
            decoded = _loads(value)
        except ValueError:
            try:
                return [_loads(ln) for ln in value.splitlines() if ln.strip()]
            except ValueError:
                raise CrlError(
                    f"{where}: call arguments are not JSON: {value[:80]!r}",
                    hint="give a JSON list of arguments, or one JSON value per line",
                ) from None
        if isinstance(decoded, str):  # JSON-encoded twice, or a single string argument
            try:
                again = _loads(decoded)
            except ValueError:
                return [decoded]
            decoded = again if isinstance(again, (list, dict)) else decoded
            if isinstance(decoded, str):
                return [decoded]
        value = decoded
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value and set(value) <= {"args", "kwargs"}:
        return {"args": list(value.get("args", [])), "kwargs": dict(value.get("kwargs", {}))}
    return [value]


# --- LiveCodeBench's rule (lcb_runner/evaluation/testing_util.py at 28fef95), restated here -------------------
# stdin problems (grade_stdio): both texts are stripped, split on "\n" and every line stripped again
# (get_stripped_lines); the line counts must be equal; each pair of lines is equal as text, or else both split
# on whitespace into lists of Decimal (convert_line_to_decimals) that are equal, exactly: `2.0` = `2`, `1e2` =
# `100`, but `0.3333333` != `0.333333333`. LiveCodeBench works on str, so "whitespace" is str.strip/str.split's
# (Unicode) whitespace and lines end only at "\n" (a "\r" before it is stripped with the line).


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")


def lcb_lines(text: str | bytes) -> list[str]:
    """get_stripped_lines: the stripped lines of the stripped text (an empty output is one empty line)."""
    return [line.strip() for line in _text(text).strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(tok) for tok in line.split()]
    except (ArithmeticError, ValueError, TypeError):  # decimal.InvalidOperation is an ArithmeticError
        return None


def lcb_stdio_equal(actual: str | bytes, expected: str | bytes, tol: float | None = None) -> bool:  # noqa: ARG001
    """LiveCodeBench's stdin verdict (no tolerance: `tol` is accepted for the comparator signature only)."""
    got, want = lcb_lines(actual), lcb_lines(expected)
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g == w:
            continue
        dg, dw = _decimals(g), _decimals(w)
        if dg is None or dw is None:
            return False
        try:
            if dg != dw:  # NaN equals nothing; a signalling NaN raises, which LiveCodeBench counts as a failure
                return False
        except ArithmeticError:
            return False
    return True


def lcb_call_equal(value: Any, expected: Any, tol: float | None = None) -> bool:  # noqa: ARG001
    """LiveCodeBench's functional verdict (grade_call_based): the expected output is JSON text (decoded here;
    a string that is not JSON is the value itself), a returned tuple becomes a list (only at the top), then
    Python's `==`: exact floats, `1 == 1.0`, `True == 1`, a nested tuple is not a list, a set is not a list.
    `value` is the parent's decoding of what the child sent (plain data only, so no candidate `__eq__` runs)."""
    from .runner_child import NumpyValue  # the child's numpy values, when the parent has no numpy

    want = expected
    if isinstance(expected, str):
        try:
            want = _loads(expected)
        except ValueError:
            want = expected
    if type(value) is tuple:
        value = list(value)
    if type(value) is NumpyValue:
        if value.shape is not None:  # an array's == is an array: LiveCodeBench's `if not result` raises
            return False
        value = value.value
    try:
        return (value == want) is True
    except Exception:  # noqa: BLE001 - LiveCodeBench counts a comparison that raises as a failure
        return False


@dataclass(frozen=True)
class Comparator:
    """How the parent compares one case: stdio(actual, expected, tol) and call(decoded value, expected, tol);
    call None = the default JSON comparison (jobs.Verdicts)."""

    name: str
    stdio: Callable[[Any, Any, float], bool]
    call: Callable[[Any, Any, float], bool] | None = None


COMPARATORS = {
    "tokens": Comparator("tokens", stdio_equal),  # the judge's and the reward's default (docs/judge.md)
    "lcb": Comparator("lcb", lcb_stdio_equal, lcb_call_equal),  # LiveCodeBench's grader
}


def comparator(name: Any) -> Comparator:
    """A `tests.compare` value (absent/null = tokens) -> its Comparator; CrlError for anything else."""
    from ..errors import CrlError

    if name is None:
        return COMPARATORS["tokens"]
    if not isinstance(name, str) or name not in COMPARATORS:
        raise CrlError(f"unknown tests.compare {name!r:.40}", hint=f"use one of: {', '.join(COMPARATORS)}")
    return COMPARATORS[name]
