"""Comparators (trusted parent side) and the call-argument formats accepted."""

from __future__ import annotations

import pytest

from crlcli.errors import CrlError
from crlcli.sandbox import json_equal, label_for, stdio_equal
from crlcli.sandbox.compare import call_expected_matches, decode_call_args


@pytest.mark.parametrize("got,want,ok", [
    ("3\n", "3", True),
    ("3   \n\n\n", "3\n", True),
    ("1 2\n3", "1 2 3", True),
    ("1.0000001", "1", False),  # integer expected: exact
    ("0.3333333", "0.333333333", True),
    ("0.33", "0.333333333", False),
    ("1e-7", "0.0", True),  # absolute tolerance
    ("1000000.5", "1000000.0", True),  # relative tolerance
    ("007", "7", False),
    ("Yes", "YES", False),  # no case folding
    ("nan", "nan", True),
    ("inf", "1.5", False),
    ("3 4", "3", False),
    ("", "", True),
    ("-0.0", "0.0", True),
])
def test_stdio_tokens(got, want, ok):
    assert stdio_equal(got, want) is ok


def test_stdio_custom_tolerance():
    assert not stdio_equal("0.5001", "0.5")
    assert stdio_equal("0.5001", "0.5", tol=1e-3)


@pytest.mark.parametrize("got,want,ok", [
    ([1, 2], [1, 2], True),
    ([1, [2, 3]], [1, [2, 3]], True),  # tuples arrive as lists
    (0.3333333, 0.333333333, True),
    (2.0, 2, True),
    (True, 1, False),
    (1, True, False),
    ({"a": 1.0}, {"a": 1}, True),
    ({"a": 1}, {"b": 1}, False),
    ("1", 1, False),
    (None, None, True),
    ([1, 2], [1, 2, 3], False),
])
def test_json_values(got, want, ok):
    assert json_equal(got, want) is ok


def test_expected_may_be_json_text():
    assert call_expected_matches([1, 2], "[1, 2]")
    assert call_expected_matches("abc", "abc")
    assert call_expected_matches(4, "4")
    assert not call_expected_matches(5, "4")


@pytest.mark.parametrize("value,args", [
    ([1, [2]], [1, [2]]),
    ("[1, [2]]", [1, [2]]),
    ('"[1, 2]"', [1, 2]),  # JSON-encoded twice
    ("[1,2,3]\n5", [[1, 2, 3], 5]),  # LiveCodeBench: one value per line
    ("5", [5]),
    ('"abc"', ["abc"]),
    ({"args": [1], "kwargs": {"k": 2}}, {"args": [1], "kwargs": {"k": 2}}),
    ({"x": 1}, [{"x": 1}]),
])
def test_call_argument_forms(value, args):
    assert decode_call_args(value, "here") == args


def test_bad_call_arguments_name_the_case():
    with pytest.raises(CrlError, match="here"):
        decode_call_args("not json at all", "here")


def test_label_threshold_is_strict():
    assert label_for(0.81) == "T"
    assert label_for(0.8) == "F"
    assert label_for(1.0, threshold=0.99) == "T"
    assert label_for(0.0, threshold=0.0) == "F"
