"""Hostile values in the trusted parent (issue 23), case by case: each attack gets a verdict, never an exception,
and costs the parent memory proportional to what the candidate sent, not to a size it names or a broadcast it
provokes. The generated counterparts are in test_values_fuzz.py."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from crlcli.asserts import python_equal
from crlcli.evaluation.evalplus_check import compare as evalplus_compare
from crlcli.sandbox.compare import call_expected_matches, json_equal
from crlcli.sandbox.jobs import Limits, Verdicts, prepare
from crlcli.sandbox.runner_child import NumpyValue, decode_value, encode_value


def peak_of(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        out = fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out, peak


def test_a_huge_int_against_a_float_is_a_wrong_answer():
    assert json_equal(10**400, 1.5) is False and json_equal(1.5, 10**400) is False
    assert json_equal(10**400, float("inf")) is False
    assert call_expected_matches(10**400, "1.5") is False
    prep = prepare("", {"type": "call", "fn_name": "f", "cases": [{"input": [1], "output": 1.5}]}, Limits())
    v = Verdicts(prep)
    assert v.add({"case": 0, "s": "ok"}, encode_value(10**400).encode()) and v.text() == "W"


def test_extreme_complex_numbers_in_sets_are_compared_not_raised():
    big = complex(1.7e308, 1.7e308)
    assert python_equal({big}, {1}) is False
    assert python_equal({big}, {big}) is True  # equal values: no NaN among them
    assert python_equal({1: {big}}, {1: {complex(1.7e308, 1.7e308)}}) is True
    assert python_equal({complex(float("nan"), 0)}, {complex(float("nan"), 0)}) is False  # NaN equals nothing


@pytest.mark.parametrize(
    "text",
    [
        '["ND","S2000000000",[1],["L",["B","41"]]]',
        '["NP","S2000000000",["B","41"]]',
        '["ND","V300000000",[1],["L",1]]',
        '["ND","(100000000,)i8",[1],["L",1]]',
        '["ND","<U268435456",[1],["L","a"]]',
        '["ND","float64",[100000000],["L",1.0]]',
    ],
)
def test_a_numpy_size_named_by_the_candidate_is_not_allocated(text):
    value, peak = peak_of(lambda: decode_value(text, np))
    assert isinstance(value, NumpyValue)  # inert data: what the text held, nothing rebuilt
    assert peak < 1 << 20, peak


def test_numpy_values_within_the_budget_are_rebuilt_exactly():
    for v in (
        np.int64(3),
        np.float32(0.1),
        np.True_,
        np.arange(6, dtype=np.uint16).reshape(2, 3),
        np.zeros((0, 3)),
        np.array(["ab", "c"]),
        np.array([1 + 2j], dtype=np.complex64),
    ):
        got = decode_value(encode_value(v), np)
        assert type(got) is type(v) and got.dtype == v.dtype and np.array_equal(got, v)


def test_the_numpy_budget_is_shared_by_every_tag_of_a_value():
    one = '["ND","<U262144",[1],["L","a"]]'  # 1 MiB each when rebuilt
    text = '["L",' + ",".join([one] * 200) + "]"
    value, peak = peak_of(lambda: decode_value(text, np))
    rebuilt = sum(isinstance(x, np.ndarray) for x in value)
    assert 0 < rebuilt < 40 and peak < 48 << 20, (rebuilt, peak)


def test_a_broadcast_the_candidate_provokes_is_not_computed():
    """An (n, 1) value against an expected list or array of m would be n x m elements."""
    n = 20_000
    out = decode_value(encode_value(np.zeros((n, 1))), np)
    got, peak = peak_of(lambda: python_equal(out, [0.0] * n))
    assert got is False and peak < 8 << 20, peak  # Python: the truth value of n x n elements raises
    got, peak = peak_of(lambda: evalplus_compare("humaneval", "f", (), out, np.zeros(n), 0.0, 1e-6, np))
    assert got is False and peak < 8 << 20, peak
    as_lists = [[0.0]] * n
    got, peak = peak_of(lambda: evalplus_compare("humaneval", "f", (), as_lists, [0.0] * n, 0.0, 1e-6, np))
    assert got is False and peak < 16 << 20, peak


def test_one_element_comparisons_still_follow_numpy():
    assert python_equal(decode_value(encode_value(np.array([[3]])), np), 3) is True
    assert python_equal(decode_value(encode_value(np.array([3, 3])), np), 3) is False
    assert evalplus_compare("humaneval", "f", (), np.float64(0.1 + 0.2), np.float64(0.3), 0.0, 1e-6, np) is True
    assert evalplus_compare("humaneval", "f", (), np.float64(0.1 + 0.2), 0.3, 0.0, 1e-6, np) is False  # types
    assert evalplus_compare("humaneval", "f", (), [0.1, 0.2], [0.1, 0.2 + 1e-9], 0.0, 1e-6, np) is True


def test_anything_a_comparator_raises_is_a_wrong_answer_for_that_case_only():
    def check(i, value):
        raise [MemoryError, OverflowError, RecursionError, TypeError, KeyError][i]("boom")

    prep = prepare("", {"type": "call", "fn_name": "f", "cases": [{"input": [1]}] * 6}, Limits(), check=check)
    v = Verdicts(prep)
    for i in range(5):
        assert v.add({"case": i, "s": "ok"}, b"1")
    assert v.text() == "WWWWWS"


P = 2**61 - 1  # ints k * P all hash alike: a hash table of n of them costs n**2 probes


@pytest.mark.parametrize("tag", ["S", "FS", "D"])
def test_hash_flooding_sets_and_dicts_are_refused_in_linear_time(tag):
    items = [[k * P, 0] if tag == "D" else k * P for k in range(1, 200_000)]
    text = '["%s",' % tag + ",".join(map(str, items)).replace(" ", "") + "]"
    start = time.monotonic()
    with pytest.raises(ValueError, match="colliding"):
        decode_value(text)
    assert time.monotonic() - start < 10  # quadratic: hours at the output cap, minutes at this size


def test_honest_sets_with_repeated_or_rare_colliding_values_decode():
    assert decode_value(encode_value({-1, -2, P, 2 * P, 0})) == {-1, -2, P, 2 * P, 0}  # a few collisions
    big = set(range(100_000))
    assert decode_value(encode_value(big)) == big


def test_evalplus_set_oracle_is_not_flooded():
    start = time.monotonic()
    out = [k * P for k in range(1, 200_000)]
    assert evalplus_compare("mbpp", "similar_elements", ((1, 2), (2, 3)), out, (2,), 0.0, 0.0) is False
    assert time.monotonic() - start < 10
    assert evalplus_compare("mbpp", "similar_elements", ((1, 2), (2, 3)), [2] * 1000, (2,), 0.0, 0.0) is True
