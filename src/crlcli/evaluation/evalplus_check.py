"""The EvalPlus comparison, as source that runs after the candidate inside the sandbox.

The sandbox runs it as a "call" test: every case calls `__crl_ep_check("<data>")`, where <data> packs that case's
input, expected value and tolerances, and expects True. Call tests run their cases in sequence in one process
(restarted after a crash or timeout), as EvalPlus runs a task's inputs. The check calls the entry point on the
input (its exceptions and timeouts are the candidate's) and compares its
return value with the canonical solution's by EvalPlus's rules (its `unsafe_execute`): Python `==` first; the
per-dataset special oracles; then, when the values differ and the tolerance is not zero, same type, same length
and numpy-style `allclose(out, exp, rtol=1e-7, atol)` (restated here in plain Python so the sandbox needs no
numpy). The parent works out each case's effective tolerance beforehand, including EvalPlus's quirk of switching
to 1e-6 for the rest of a run once an expected value is a float (or a list of floats) and the task's atol is 0.

Expected values do enter the sandbox here, as they do for HumanEval's own `check(candidate)`: EvalPlus's
oracles (set equality, "not None", `find_zero` checked through the polynomial) are not plain equality of returned
values, and type-exact comparison (tuple vs list) needs the live Python objects.
"""

from __future__ import annotations

import base64
import pickle
import time
import zlib
from typing import Any

CHECKER = r'''

__crl_ep_meta = __CRL_EP_META__


def __crl_ep_close(out, exp, atol):
    import math
    if isinstance(exp, (list, tuple)) or isinstance(out, (list, tuple)):
        if not isinstance(exp, (list, tuple)):
            return all(__crl_ep_close(o, exp, atol) for o in out)
        if not isinstance(out, (list, tuple)):
            return all(__crl_ep_close(out, e, atol) for e in exp)
        if len(out) != len(exp):
            if len(out) == 1:
                return all(__crl_ep_close(out[0], e, atol) for e in exp)
            if len(exp) == 1:
                return all(__crl_ep_close(o, exp[0], atol) for o in out)
            raise ValueError("shapes differ")
        return all(__crl_ep_close(o, e, atol) for o, e in zip(out, exp))
    num = (bool, int, float, complex)
    if not isinstance(out, num) or not isinstance(exp, num):
        raise TypeError("allclose needs numbers")
    if isinstance(out, complex) or isinstance(exp, complex):
        if any(math.isinf(v) for v in (out.real, out.imag, exp.real, exp.imag)):
            return out == exp
        return abs(out - exp) <= atol + 1e-07 * abs(exp)
    out, exp = float(out), float(exp)
    if math.isinf(out) or math.isinf(exp):
        return out == exp
    return abs(out - exp) <= atol + 1e-07 * abs(exp)


def __crl_ep_poly(xs, x):
    import math
    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])


def __crl_ep_surface_area(base_edge, height):
    import math
    slant = math.sqrt((base_edge / 2) ** 2 + height ** 2)
    return round(base_edge ** 2 + 4 * (base_edge * slant) / 2)


def __crl_ep_digit_distance(num1, num2):
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width)))


def __crl_ep_check(blob):
    import base64, pickle, zlib
    d = __crl_ep_meta
    inp, exp, (atol_before, atol) = pickle.loads(zlib.decompress(base64.b64decode(blob)))
    out = globals()[d["entry_point"]](*inp)
    try:
        __crl_ep_compare(d, inp, out, exp, atol_before, atol)
    except BaseException:
        return False
    return True


def __crl_ep_compare(d, inp, out, exp, atol_before, atol):
    entry = d["entry_point"]
    exact = out == exp
    if d["dataset"] == "mbpp":
        if entry == "are_equivalent":
            exact = True
        elif entry == "sum_div":
            exact = exact or out == 0
        elif entry == "surface_Area":
            exact = exact or abs(out - __crl_ep_surface_area(*inp)) <= atol_before
        elif entry == "digit_distance_nums":
            exact = exact or out == __crl_ep_digit_distance(*inp)
        elif entry in d["set_eq"]:
            exact = set(out) == set(exp)
        elif entry in d["not_none"]:
            exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    if d["dataset"] == "humaneval" and entry == "find_zero":
        assert abs(__crl_ep_poly(*inp, out)) <= atol_before
        return
    if not exact and atol != 0:
        assert type(out) == type(exp)
        if isinstance(exp, (list, tuple)):
            assert len(out) == len(exp)
        assert __crl_ep_close(out, exp, atol)
    else:
        assert exact
'''

# EvalPlus's lists of MBPP tasks with special oracles (its _special_oracle.py), by entry point.
MBPP_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
MBPP_SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum",
               "intersection_array", "find_dissimilar", "Diff")


def is_floats(x: Any) -> bool:
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return type(x).__name__ == "ndarray" and str(getattr(x, "dtype", "")) in ("float64", "float32")


def effective_atols(dataset: str, entry_point: str, atol: float, expected: list[Any]) -> list[tuple[float, float]]:
    """(tolerance seen by the special oracles, tolerance used by allclose) per case of one EvalPlus run."""
    out = []
    for exp in expected:
        before = atol
        if not (dataset == "humaneval" and entry_point == "find_zero") and atol == 0 and is_floats(exp):
            atol = 1e-6
        out.append((before, atol))
    return out


def checker_source(dataset: str, entry_point: str) -> str:
    """The checker functions, appended to the candidate's code."""
    meta = {"dataset": dataset, "entry_point": entry_point, "set_eq": MBPP_SET_EQ, "not_none": MBPP_NOT_NONE}
    return CHECKER.replace("__CRL_EP_META__", repr(meta))


def case_args(dataset: str, entry_point: str, runs: list[tuple[list, list, float]]) -> list[tuple[str, float]]:
    """(packed argument, decoding time) per input of the given runs (base, then plus).

    The sandbox's clock runs while the check unpacks its data, which EvalPlus's time limit does not count; for
    large inputs (EvalPlus has inputs of a million elements) the unpacking is timed here, so that the caller can
    add it to the limit."""
    programs = []
    for run_inputs, run_expected, atol in runs:
        atols = effective_atols(dataset, entry_point, atol, run_expected)
        for inp, exp, tol in zip(run_inputs, run_expected, atols):
            blob = base64.b64encode(zlib.compress(pickle.dumps((inp, exp, tol), protocol=4), 6)).decode("ascii")
            cost = 0.0
            if len(blob) > 20_000:
                start = time.perf_counter()
                pickle.loads(zlib.decompress(base64.b64decode(blob)))
                cost = time.perf_counter() - start
            programs.append((blob, cost))
    return programs
