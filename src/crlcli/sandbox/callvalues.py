"""Call tests' values in the trusted parent: the arguments a case sends into the sandbox, the expected values a
converted assert compares with Python's rules, and the JSON view of a decoded return value. Used by the call type
of the test-type table (testtypes.py); nothing here runs inside the sandbox."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from .. import asserts
from ..errors import CrlError
from .compare import decode_call_args
from .runner_child import NumpyValue, encode_value

# A call case without `output` (returns_only, or compared by a parent-side check): its expected-value slot.
NO_OUTPUT = object()


def call_input(case: dict, where: str, tagged_text: Any, python_values: bool) -> Any:
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


def identity_case(case: dict) -> bool:
    """A converted `f(x) is True|False|None` case (no `compare` key, a singleton output)."""
    return "compare" not in case and (case.get("output") is None or isinstance(case.get("output"), bool))


class PythonExpected:
    """A converted assert's expected value, compared with Python's == (crlcli.asserts.python_equal), or for
    `is True|False|None` with Python's `is`: only the singleton itself (numpy's True_ is not True, in Python
    too), where the JSON comparison would take any value that reads as true."""

    __slots__ = ("value", "atol", "rtol", "identity")

    def __init__(self, case: dict, where: str):
        self.identity = identity_case(case)
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


def converted(tests: dict) -> dict:
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


def numpy_module() -> Any:
    """numpy for rebuilding numpy return values when the parent has it (a custom check may compare them)."""
    if not _np:
        try:
            import numpy
        except ImportError:
            numpy = None  # type: ignore[assignment]  # numpy is optional: None stands for its absence
        _np.append(numpy)
    return _np[0]
