"""The EvalPlus comparison, run in the trusted parent on values the sandbox sends back.

Expected values never enter the sandbox. Each input goes in as a type-tagged text (`encode_value` of the argument
list, so tuples, sets, complex numbers, nan and big ints arrive as they are); the sandboxed child calls the entry
point and sends back a type-tagged serialisation of the return value; the parent decodes it into plain Python data
(never a live candidate object: no candidate `__eq__`, `__hash__` or `__float__` can run here) and `compare()`
applies EvalPlus 0.3.1's rules (its `unsafe_execute`) to it and the canonical solution's value:

- Python `==` first (so a list is not a tuple);
- MBPP's special oracles: `are_equivalent` anything, `sum_div` also 0, `surface_Area` and `digit_distance_nums`
  their alternative readings (computed from the input), set equality for MBPP_SET_EQ, "is not None" for
  MBPP_NOT_NONE (a bool answer is compared with the expected bool);
- HumanEval `find_zero`: |poly(input, x)| <= atol, computed from the trusted input;
- then, when not exact and the tolerance is not zero: same type, same length (lists, tuples) and
  `numpy.allclose(out, exp, rtol=1e-7, atol)` (numpy when the parent has it, else a plain-Python restatement of
  its broadcasting rules for nested lists of numbers).

The tolerance of each case is worked out beforehand (`effective_atols`), including EvalPlus's quirk of switching
to 1e-6 for the rest of a run once an expected value is a float (or a list of floats) and the task's atol is 0.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from ..sandbox.runner_child import NumpyValue, Unserialisable, ValueDigest, check_hashes, decode_value, encode_value

# EvalPlus's lists of MBPP tasks with special oracles (its _special_oracle.py), by entry point.
MBPP_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
MBPP_SET_EQ = (
    "similar_elements",
    "find_char_long",
    "common_in_nested_lists",
    "extract_singly",
    "larg_nnum",
    "intersection_array",
    "find_dissimilar",
    "Diff",
)

_NUMPY: list[Any] = []
# Expected values whose tagged encoding is longer than this are kept as a Digest (the sandbox's default cap on a
# serialised return value, 16 MiB: no candidate value that long can come back anyway).
DIGEST_OVER = 16 << 20


class Digest:
    """An expected value too large to keep (Mbpp/255 has a 1.4 GB one): the SHA-256 of its tagged encoding.
    A candidate's value equals it when its own encoding has that digest (exact equality of the encodings, which
    for such values -- lists, tuples, strings, numbers -- is Python's == but for 1 == 1.0 == True)."""

    __slots__ = ("sha256", "size", "floats")

    def __init__(self, sha256: str, size: int, floats: bool):
        self.sha256, self.size, self.floats = sha256, size, floats

    @classmethod
    def of(cls, text: str, value: Any) -> Digest:
        return cls(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), len(text), is_floats(value))

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, (Digest, ValueDigest)):  # ValueDigest: the sandbox sent the value as its digest
            return self.sha256 == other.sha256
        text = encode_value(other)
        return len(text) == self.size and Digest.of(text, None).sha256 == self.sha256

    __hash__ = None  # type: ignore[assignment]  # __eq__ compares by value: unhashable, as typeshed cannot express

    def __repr__(self) -> str:
        return f"<value of {self.size} characters, sha256 {self.sha256[:12]}>"


def numpy_module() -> Any:
    """numpy when the parent has it (values are then decoded and compared as numpy does), else None."""
    if not _NUMPY:
        try:
            import numpy
        except ImportError:
            numpy = None  # type: ignore[assignment]  # numpy is optional: None stands for its absence
        _NUMPY.append(numpy)
    return _NUMPY[0]


def _float_dtype(dtype: Any) -> bool:
    return str(dtype) in ("float64", "float32")


def is_floats(x: Any) -> bool:
    """EvalPlus's is_floats: a float, a non-empty list/tuple of floats, a float64/float32 array (numpy scalars
    of a float dtype are floats; so are their NumpyValue stand-ins when the parent has no numpy)."""
    if isinstance(x, float):
        return True
    if isinstance(x, Digest):
        return x.floats
    if isinstance(x, NumpyValue):
        return x.shape is None and _float_dtype(x.dtype) or x.shape is not None and _float_dtype(x.dtype)
    if isinstance(x, (list, tuple)) and x:
        return all(
            isinstance(i, float) or isinstance(i, NumpyValue) and i.shape is None and _float_dtype(i.dtype) for i in x
        )
    return type(x).__name__ == "ndarray" and _float_dtype(getattr(x, "dtype", ""))


def effective_atols(dataset: str, entry_point: str, atol: float, expected: Any) -> list[tuple[float, float]]:
    """(tolerance seen by the special oracles, tolerance used by allclose) per case of one EvalPlus run.
    `expected`: a list of values, or evalplus_truth.TruthValues (whose floats() need not decode them)."""
    floats = expected.floats if hasattr(expected, "floats") else (lambda k: is_floats(expected[k]))
    out = []
    for k in range(len(expected)):
        before = atol
        if not (dataset == "humaneval" and entry_point == "find_zero") and atol == 0 and floats(k):
            atol = 1e-6
        out.append((before, atol))
    return out


# Tags whose values a text match cannot vouch for: nan ("F": equal texts, yet nan != nan), numpy values (`==` of
# arrays is no bool), unserialisable objects (equal to nothing), digests of huge values. One pass over the text.
_TEXT_UNSURE = re.compile(r'"(?:F|NP|ND|\?|#)"')


def same_text(dataset: str, entry_point: str, body: bytes, expected_text: str | None) -> bool:
    """True when the candidate's tagged return value is, as text, the canonical value's own tagged text and that
    alone proves compare() would pass: the decoded values are then equal under `==` (same types, same items in
    the same order), so `exact` holds. Not for the oracles that look past `==` (find_zero, the set-equality tasks,
    which fail on unhashable items) nor for texts holding the tags above. False means "decide the long way"."""
    if expected_text is None or len(body) < len(expected_text):  # (UTF-8 bytes >= characters)
        return False
    if entry_point == "find_zero" and dataset == "humaneval" or dataset == "mbpp" and entry_point in MBPP_SET_EQ:
        return False
    if body != expected_text.encode("utf-8", "surrogatepass"):
        return False
    return not _TEXT_UNSURE.search(expected_text)


# ------------------------------------------------------------------ EvalPlus's special oracles (restated)


def poly(xs: list, x: float) -> float:  # HumanEval/32
    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])


def surface_area(base_edge: Any, height: Any) -> Any:  # Mbpp/581
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def digit_distance(num1: Any, num2: Any) -> int:  # Mbpp/558
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))


# ------------------------------------------------------------------------------------------- allclose


def _plain(v: Any) -> Any:
    """A NumpyValue (no numpy in the parent) as the plain number or nested list it holds."""
    return v.value if isinstance(v, NumpyValue) else v


def _close(out: Any, exp: Any, atol: float) -> bool:
    """numpy.allclose(out, exp, rtol=1e-7, atol) for numbers and nested lists/tuples of numbers; raises where
    numpy would (shapes that do not broadcast, non-numbers)."""
    out, exp = _plain(out), _plain(exp)
    if isinstance(exp, (list, tuple)) or isinstance(out, (list, tuple)):
        if not isinstance(exp, (list, tuple)):
            return all([_close(o, exp, atol) for o in out])
        if not isinstance(out, (list, tuple)):
            return all([_close(out, e, atol) for e in exp])
        if len(out) != len(exp):
            if len(out) == 1:
                return all([_close(out[0], e, atol) for e in exp])
            if len(exp) == 1:
                return all([_close(o, exp[0], atol) for o in out])
            raise ValueError("shapes differ")
        return all([_close(o, e, atol) for o, e in zip(out, exp)])
    num = (bool, int, float, complex)
    if type(out) not in num or type(exp) not in num:
        raise TypeError("allclose needs numbers")
    if isinstance(out, complex) or isinstance(exp, complex):
        if any(math.isinf(v) for v in (out.real, out.imag, exp.real, exp.imag)):
            return out == exp
        return abs(out - exp) <= atol + 1e-07 * abs(exp)
    out, exp = float(out), float(exp)
    if math.isinf(out) or math.isinf(exp):
        return out == exp
    return abs(out - exp) <= atol + 1e-07 * abs(exp)


def allclose(out: Any, exp: Any, atol: float, np: Any = None) -> bool:
    if np is not None:
        out, exp = np.asarray(out), np.asarray(exp)  # as allclose does; ragged lists raise (a failure)
        if _broadcast_size(np, out, exp) > max(out.size, exp.size, 1):
            # A candidate's (n, 1) against an expected (m,) would make the parent compare n x m pairs (EvalPlus
            # does, in its own process): refused, a failure. Honest values have the expected shape.
            return False
        return bool(np.allclose(out, exp, rtol=1e-07, atol=atol))
    return _close(out, exp, atol)


def _broadcast_size(np: Any, a: Any, b: Any) -> int:
    """Elements of numpy's broadcast of a and b (ValueError when the shapes do not broadcast)."""
    return math.prod(np.broadcast_shapes(np.shape(a), np.shape(b)))


class _Ambiguous:
    """`out == exp` for arrays whose broadcast is not one element: every use of it below takes its truth value,
    which numpy would refuse (ValueError), so the element-wise comparison is never computed."""

    def __bool__(self) -> bool:
        raise ValueError("the truth value of an array with other than one element is ambiguous")


def _equals(out: Any, exp: Any, np: Any) -> Any:
    """EvalPlus's `out == exp`, without building a broadcast array larger than one element in the parent."""
    if np is not None and (isinstance(out, np.ndarray) or isinstance(exp, np.ndarray)):
        try:
            size = _broadcast_size(np, out, exp)
        except Exception:  # noqa: BLE001 - no broadcast shape (ragged, odd values): `==` itself decides
            size = 1
        if size != 1:
            return _Ambiguous()
    return out == exp


# ----------------------------------------------------------------------------------------- comparison


def compare(
    dataset: str, entry_point: str, inp: Any, out: Any, exp: Any, atol_before: float, atol: float, np: Any = None
) -> bool:
    """EvalPlus's verdict on one input: True when the candidate's value `out` (decoded from the sandbox) passes
    against the canonical value `exp` for the (trusted) arguments `inp`. Never raises: a comparison that fails
    with an exception is a failure, as in EvalPlus."""
    try:
        return _compare(dataset, entry_point, inp, out, exp, atol_before, atol, np)
    except Exception:  # noqa: BLE001 - EvalPlus: any exception in the comparison fails the input
        return False


def _compare(
    dataset: str, entry_point: str, inp: Any, out: Any, exp: Any, atol_before: float, atol: float, np: Any
) -> bool:
    # `out` is plain data; a value the child could not send is an Unserialisable, equal to nothing (so only
    # the oracles that do not look at the value, "not None" and are_equivalent, can accept it).
    exact = _equals(out, exp, np)
    if dataset == "mbpp":
        if entry_point == "are_equivalent":
            exact = True
        elif entry_point == "sum_div":
            exact = exact or out == 0
        elif entry_point == "surface_Area":
            exact = exact or abs(out - surface_area(*inp)) <= atol_before
        elif entry_point == "digit_distance_nums":
            exact = exact or out == digit_distance(*inp)
        elif entry_point in MBPP_SET_EQ:
            if not isinstance(out, (set, frozenset, dict, str, bytes)):  # (those are hashed already, or chars)
                check_hashes(list(out))  # a list of colliding ints would make set(out) quadratic
            exact = set(out) == set(exp)
        elif entry_point in MBPP_NOT_NONE:
            exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    if dataset == "humaneval" and entry_point == "find_zero":
        return bool(abs(poly(*inp, out)) <= atol_before)  # type: ignore[call-arg]  # inp is [xs]: a *Any, uncounted
    if not exact and atol != 0:
        if type(out) != type(exp):
            return False
        if isinstance(exp, (list, tuple)) and len(out) != len(exp):
            return False
        return allclose(out, exp, atol, np)
    return bool(exact)


# ------------------------------------------------------------------------------------- inputs, lazily


class EncodedInputs:
    """A task's inputs as the sandbox takes them (`encode_value` of each argument list), encoded only when a
    sample first reaches them and then kept for every later sample of the task. With a cache file, a task whose
    inputs were all encoded once (a sample that passed them all) reads them from there in later runs.

    The child decodes an input on the sandbox's clock, which EvalPlus's time limit does not count; for large
    inputs (EvalPlus has inputs of a million elements) the decoding is timed here once, so that the caller can
    add it to the limit."""

    BIG = 20_000  # characters of encoded text above which decoding is timed

    def __init__(self, inputs: list[Any], cache: Path | None = None):
        self.inputs = inputs
        self.cache = cache
        self._text: list[str | None] = [None] * len(inputs)
        self._cost: list[float | None] = [0.0] * len(inputs)  # None: a cached big text not timed yet
        self._count = 0
        self._saved = False
        self._lock = threading.Lock()  # samples of one task are scored from several threads
        if cache is not None:
            self._load(cache)

    def _load(self, cache: Path) -> None:
        got = _read_json(cache)
        texts, costs = (got.get("texts"), got.get("costs")) if isinstance(got, dict) else (None, None)
        n = len(self.inputs)
        if not (isinstance(texts, list) and len(texts) == n and all(isinstance(t, str) for t in texts)):
            return  # stale or damaged: encoded again (and rewritten) as samples reach the inputs
        if not (
            isinstance(costs, list)
            and len(costs) == n
            and all(c is None or isinstance(c, float) and 0 <= c < 3600 for c in costs)
        ):
            costs = [None] * n
        self._text = texts
        # A big input's decoding time as measured when it was first encoded (timed again only when unknown).
        self._cost = [c if len(t) > self.BIG else 0.0 for t, c in zip(texts, costs)]
        self._count, self._saved = n, True

    def __len__(self) -> int:
        return len(self.inputs)

    def get(self, i: int) -> tuple[str, float]:
        """(encoded argument list, seconds its decoding took here) of input i."""
        with self._lock:
            return self._get(i)

    def _get(self, i: int) -> tuple[str, float]:
        text = self._text[i]
        if text is None:
            text = encode_value(list(self.inputs[i]))
            if '["?",' in text and _unserialisable_inside(decode_value(text)):
                raise ValueError(f"input #{i} holds a value the sandbox cannot receive: {text[:200]}")
            self._cost[i] = None if len(text) > self.BIG else 0.0
            self._text[i] = text
            self._count += 1
        cost = self._cost[i]
        if cost is None:
            start = time.perf_counter()
            decode_value(text)
            cost = self._cost[i] = time.perf_counter() - start
        return text, cost

    def encoded_count(self) -> int:
        return self._count

    def save(self) -> None:
        """Write the cache file once every input is encoded (never a partial list: nothing is encoded for an
        input no sample reached)."""
        with self._lock:
            if self.cache is None or self._saved or self._count < len(self.inputs):
                return
            self._saved = True
            data = {"texts": list(self._text), "costs": list(self._cost)}
        _write_json(self.cache, data)


# Bytes of right answers sent back in one sandbox run: half the sandbox's cap on a candidate's whole reply (64 MiB,
# past which cases get "O"), leaving room for answers that are right but longer (1.0 for 1).
REPLY_BUDGET = 32 << 20


class ExpectedSizes:
    """Per case, lazily: (length of the canonical value's encoding, seconds that encoding took here when it is
    large) -- what a right answer costs the child to send, for chunking and time allowances. With TruthValues
    the length is that of the cached text; only a large value is decoded and encoded again, to time it. With a
    cache file, the figures of a task whose cases were all reached once are read from there in later runs (the
    decoding and encoding again of every large value was most of the parent's CPU on HumanEval+)."""

    def __init__(self, expected: Any, cache: Path | None = None):
        self.expected = expected
        self.cache = cache
        self._done: list[tuple[int, float] | None] = [None] * len(expected)
        self._saved = False
        self._lock = threading.Lock()
        got = _read_json(cache) if cache is not None else None
        if (
            isinstance(got, list)
            and len(got) == len(self._done)
            and all(
                isinstance(d, list)
                and len(d) == 2
                and type(d[0]) is int
                and isinstance(d[1], float)
                and 0 <= d[1] < 3600
                for d in got
            )
        ):
            self._done, self._saved = [(d[0], d[1]) for d in got], True

    def save(self) -> None:
        """Write the cache file once every case's figures are known."""
        with self._lock:
            if self.cache is None or self._saved or any(d is None for d in self._done):
                return
            self._saved = True
            data = [list(d) for d in self._done if d is not None]  # (none is, see above)
        _write_json(self.cache, data)

    def get(self, i: int) -> tuple[int, float]:
        with self._lock:
            got = self._done[i]
            if got is None and hasattr(self.expected, "text"):
                text = self.expected.text(i)
                if text is not None and len(text) <= EncodedInputs.BIG:
                    got = self._done[i] = (len(text), 0.0)
            if got is None:
                exp = self.expected[i]
                if isinstance(exp, Digest):
                    # The answer comes back as its digest (digest_over), after the child encoded and hashed it:
                    # allow for that at a conservative 10 MB/s.
                    got = (100, exp.size / 10e6)
                else:
                    start = time.perf_counter()
                    n = len(encode_value(exp))
                    took = time.perf_counter() - start
                    got = (n, took if n > EncodedInputs.BIG else 0.0)
                self._done[i] = got
            return got


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no cache yet, or a damaged one: computed again


def _write_json(path: Path, data: Any) -> None:
    """Atomically, with a name of our own for the temporary file: other processes may write the same cache."""
    try:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a cache only


def _unserialisable_inside(v: Any) -> bool:
    if isinstance(v, Unserialisable):
        return True
    if isinstance(v, (list, tuple, set, frozenset)):
        return any(_unserialisable_inside(x) for x in v)
    if isinstance(v, dict):
        return any(_unserialisable_inside(k) or _unserialisable_inside(x) for k, x in v.items())
    return False
