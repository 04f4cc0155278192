"""Comparators (trusted parent side) and the call-argument formats accepted."""

from __future__ import annotations

import pytest

from crlcli.errors import CrlError
from crlcli.judging import label_for
from crlcli.sandbox import json_equal, stdio_equal
from crlcli.sandbox.compare import call_expected_matches, decode_call_args


@pytest.mark.parametrize(
    "got,want,ok",
    [
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
    ],
)
def test_stdio_tokens(got, want, ok):
    assert stdio_equal(got, want) is ok


def test_stdio_custom_tolerance():
    assert not stdio_equal("0.5001", "0.5")
    assert stdio_equal("0.5001", "0.5", tol=1e-3)


@pytest.mark.parametrize(
    "got,want,ok",
    [
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
    ],
)
def test_json_values(got, want, ok):
    assert json_equal(got, want) is ok


def test_expected_may_be_json_text():
    assert call_expected_matches([1, 2], "[1, 2]")
    assert call_expected_matches("abc", "abc")
    assert call_expected_matches(4, "4")
    assert not call_expected_matches(5, "4")


@pytest.mark.parametrize(
    "value,args",
    [
        ([1, [2]], [1, [2]]),
        ("[1, [2]]", [1, [2]]),
        ('"[1, 2]"', [1, 2]),  # JSON-encoded twice
        ("[1,2,3]\n5", [[1, 2, 3], 5]),  # LiveCodeBench: one value per line
        ("5", [5]),
        ('"abc"', ["abc"]),
        ({"args": [1], "kwargs": {"k": 2}}, {"args": [1], "kwargs": {"k": 2}}),
        ({"x": 1}, [{"x": 1}]),
    ],
)
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


# Only ASCII whitespace separates tokens: str.split() also splits on these, so a candidate could print them
# instead of the spaces a checker expects (or to glue a wrong answer into one "token" the other side splits).
@pytest.mark.parametrize("sep", ["\xa0", "\u2003", "\u2028", "\u3000", "\x1c", "\x1d", "\x1e", "\x1f", "\x85"])
def test_stdio_non_ascii_whitespace_is_not_a_separator(sep):
    assert not stdio_equal(f"1{sep}2", "1 2")
    assert not stdio_equal("1 2", f"1{sep}2")
    assert not stdio_equal(f"1{sep}2\n", "1\n2\n")
    assert not stdio_equal(f"3{sep}", "3")  # not trailing whitespace either
    assert stdio_equal(f"1{sep}2 \n", f"1{sep}2")  # the same token on both sides is fine


@pytest.mark.parametrize("sep", [" ", "\t", "\n", "\r", "\v", "\f", "\r\n", " \t\v\f\r\n "])
def test_stdio_every_ascii_whitespace_separates(sep):
    assert stdio_equal(f"1{sep}2{sep}", "1 2")
    assert stdio_equal(f"{sep}1{sep}2", "1\n2\n")
    assert stdio_equal(f"1{sep}2".encode(), "1 2")


@pytest.mark.parametrize(
    "got,want",
    [
        ("\u0663", "3"),  # Arabic-Indic three: float() and str's \d accept it
        ("\u0663.0", "3.0"),
        ("0.\u0663\u0663\u0663\u0663\u0663\u0663\u0663", "0.333333333"),
        ("\uff13.5", "3.5"),  # fullwidth digit
        ("1_0.0", "10.0"),  # float() accepts underscores
        ("3.0", "\u0663.0"),
        ("inf", "inf0"),
    ],
)
def test_stdio_numbers_are_ascii_only(got, want):
    assert not stdio_equal(got, want)


def test_stdio_bytes_and_str_mix():
    assert stdio_equal(b"1 2\n", "1 2")
    assert stdio_equal("1 2", b"1 2\n")
    assert stdio_equal(b"0.3333333\n", b"0.333333333")
    assert not stdio_equal(b"1\xc2\xa02", "1 2")
    assert stdio_equal("é 2\n".encode(), "é 2")
    # raw bytes kept by surrogateescape still compare equal to themselves, never to something else
    assert stdio_equal(b"\xff 1", b"\xff 1".decode("utf-8", "surrogateescape"))
    assert not stdio_equal(b"\xfe 1", b"\xff 1".decode("utf-8", "surrogateescape"))
    assert stdio_equal("\ud800 1", "\ud800 1\n") and not stdio_equal("\ud800 1", "\ud801 1")


@pytest.mark.parametrize(
    "got,want,ok",
    [
        ("1 2 3", "1 2 3\n\n", True),
        ("1 2 3\n\n", "1 2 3", True),
        ("1 2 34", "1 2 3", False),  # a prefix that is not followed by whitespace
        ("1 2 3", "1 2 34", False),
        ("  ", "", True),
        ("", "0", False),
        ("1 2 3 x", "1 2 3", False),
    ],
)
def test_stdio_trailing_whitespace_fast_path(got, want, ok):
    assert stdio_equal(got, want) is ok
