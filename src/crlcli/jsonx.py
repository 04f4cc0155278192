"""Exact JSON: orjson's speed where it is exact, the standard library where a line needs more.

orjson (3.x) reads integers only within [-2**63, 2**64 - 1]: beyond that it silently returns a float
(18446744073709551617 -> 1.8446744073709552e+19) or, past 308 digits, raises "number is infinity". It writes only
integers within the same range and raises TypeError beyond. Competitive-programming call tests and labels hold
bigger integers, and a float in their place turns a wrong answer into an accepted one. So:

- `loads` uses orjson unless the text has a number token of 19 or more digits (cheap byte scan; a digit run inside
  a string can trigger it too, which only costs speed), then the stdlib parser with integers kept exact at any
  size (also past Python's 4300-digit str->int limit) and non-finite floats rejected as orjson does;
- `dumps` uses orjson, and when it refuses an integer, writes that integer's exact digits through an orjson
  Fragment (so every orjson option keeps working).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

JSONDecodeError = json.JSONDecodeError  # orjson.JSONDecodeError is a subclass: catching this catches both

# A number token starts after `[`, `:`, `,` (or at the start), after optional whitespace. 19 digits: the first
# length at which orjson can lose a negative integer (-2**63 - 1 has 19); positive ones need 20.
_LONG_NUMBER = re.compile(rb"(?:^|[\[:,])[ \t\r\n]*-?[0-9]{19}")
_LONG_NUMBER_STR = re.compile(r"(?:^|[\[:,])[ \t\r\n]*-?[0-9]{19}")
_CHUNK = 4000  # digits per int() call, under Python's default int_max_str_digits (4300)
_INT64_MIN, _UINT64_MAX = -(1 << 63), (1 << 64) - 1


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse one JSON text; integers come back exact whatever their size. Raises JSONDecodeError."""
    pattern: re.Pattern[Any] = _LONG_NUMBER_STR if isinstance(data, str) else _LONG_NUMBER  # str or bytes, as data
    if isinstance(data, memoryview):
        data = bytes(data)
    if pattern.search(data) is None:
        return orjson.loads(data)
    return _slow_loads(data)


def _slow_loads(data: bytes | bytearray | str) -> Any:
    if not isinstance(data, str):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONDecodeError(f"invalid UTF-8 ({exc.reason})", "", 0) from None
    else:
        text = data
    try:
        return json.loads(text, parse_int=exact_int, parse_float=_parse_float, parse_constant=_no_constant)
    except _NotJson as exc:
        raise JSONDecodeError(str(exc), text, 0) from None
    except RecursionError:
        raise JSONDecodeError("nested too deeply", text, 0) from None


class _NotJson(ValueError):
    pass


def exact_int(s: str) -> int:
    """A JSON integer token as an int, exact at any length (parse_int for json.loads)."""
    if len(s) <= _CHUNK:
        return int(s)
    neg = s.startswith("-")
    digits = s[1:] if neg else s
    value = _digits_to_int(digits)
    return -value if neg else value


def _digits_to_int(d: str) -> int:
    """int() of a long digit string without Python's int_max_str_digits limit (divide and conquer)."""
    if len(d) <= _CHUNK:
        return int(d)
    half = len(d) // 2
    return _digits_to_int(d[:-half]) * 10**half + _digits_to_int(d[-half:])


def _parse_float(s: str) -> float:
    v = float(s)
    if v - v != 0:
        raise _NotJson(f"number {s[:40]} is out of the range of a double")
    return v


def _no_constant(s: str) -> Any:
    raise _NotJson(f"{s} is not JSON")


def dumps(obj: Any, option: int | None = None, default: Any = None) -> bytes:
    """orjson.dumps, with integers beyond orjson's 64-bit range written exactly."""
    try:
        return orjson.dumps(obj, default, option)
    except TypeError as exc:
        if "Integer exceeds" not in str(exc):
            raise
    return orjson.dumps(_big_ints_as_fragments(obj, 0), default, option)


def _big_ints_as_fragments(v: Any, depth: int) -> Any:
    if depth > 1000:
        raise TypeError("nested too deeply")
    if isinstance(v, int) and not isinstance(v, bool):
        if _INT64_MIN <= v <= _UINT64_MAX:
            return v
        return orjson.Fragment(int_to_str(v))
    if isinstance(v, dict):
        return {k: _big_ints_as_fragments(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_big_ints_as_fragments(x, depth + 1) for x in v]
    return v


def int_to_str(v: int) -> str:
    """str(v) without Python's int_max_str_digits limit."""
    try:
        return str(v)
    except ValueError:  # more than 4300 digits
        pass
    if v < 0:
        return "-" + int_to_str(-v)
    return _int_digits(v, 0)


def _int_digits(v: int, width: int) -> str:
    """Decimal digits of v >= 0, zero-padded to width (divide and conquer on a power of ten)."""
    bits = v.bit_length()
    if bits < 12000:  # ~3600 digits: str() is allowed
        s = str(v)
        return s.zfill(width) if width else s
    half = max(1, int(bits * 0.30103) // 2)  # about half the decimal digits
    hi, lo = divmod(v, 10**half)
    head = _int_digits(hi, width - half if width else 0)
    return head + _int_digits(lo, half)


# `"` then `:` (whitespace between): every object key ends so; inside strings it can match too (`\":`).
_KEY_END = re.compile(rb'"[ \t\r\n]*:')


def duplicate_key(raw: bytes, value: Any) -> str | None:
    """A key that one object of the JSON text `raw` has twice (the parsers keep the last value silently), or None.

    Cheap in the common case: the key endings counted in `raw` against those of the parsed value written back
    (same string contents, so the same in-string matches); only when `raw` has more is it parsed again, with
    every object's key list, to name the key. A text that spells quotes as \\u0022 can hide a duplicate."""
    if len(_KEY_END.findall(raw)) <= len(_KEY_END.findall(dumps(value))):
        return None
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen and not found:
                found.append(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(
            raw, object_pairs_hook=pairs, parse_int=exact_int, parse_float=_parse_float, parse_constant=_no_constant
        )
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None


def json_type(v: Any) -> str:
    """How JSON calls a value's type, for messages."""
    if v is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(v), type(v).__name__)
