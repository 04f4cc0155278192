"""Exact JSON integers (issue 15, item 1): orjson alone turns ints beyond 64 bits into floats or errors."""

from __future__ import annotations

import json

import orjson
import pytest

from crlcli import jsonx
from crlcli.io import JsonlReader, JsonlWriter

BIG = 18446744073709551617  # 2**64 + 1: orjson reads it as 1.8446744073709552e+19
HUGE = int("9" * 400)  # orjson: "number is infinity when parsed as double"


@pytest.mark.parametrize(
    "value",
    [
        BIG,
        -BIG,
        2**64,
        -(2**63) - 1,
        2**63 - 1,
        2**64 - 1,
        -(2**63),
        HUGE,
        -HUGE,
        [1, BIG, {"k": [HUGE, "x"]}],
        {"output": BIG, "s": "12345678901234567890123"},
    ],
)
def test_round_trip_exact(value):
    text = jsonx.dumps(value)
    assert text == json.dumps(value, separators=(",", ":")).encode()
    back = jsonx.loads(text)
    assert back == value and type(back) is type(value)


def test_past_pythons_4300_digit_limit():
    value = [7**9000, -(3**20000)]  # str(int) refuses these; JSON has no limit
    back = jsonx.loads(jsonx.dumps(value))
    assert back == value


def test_orjson_alone_is_lossy():  # the behaviour the module exists for; if orjson changes, this says so
    assert orjson.loads(str(BIG)) != BIG
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(str(HUGE))
    with pytest.raises(TypeError):
        orjson.dumps(BIG)


def test_common_path_and_rejections():
    assert jsonx.loads(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    assert jsonx.loads('"1234567890123456789012"') == "1234567890123456789012"  # digits in a string: still a str
    assert jsonx.loads(b"[12345678901234567890.5]") == [12345678901234567890.5]
    for bad in (
        b"1e400",
        b"[1e999, 12345678901234567890123]",
        b"[NaN, 12345678901234567890123]",
        b"[Infinity]",
        b"[1,",
        b'{"a" 1}',
    ):
        with pytest.raises(jsonx.JSONDecodeError):
            jsonx.loads(bad)
    assert jsonx.dumps({"n": 2**70, "b": True}, option=orjson.OPT_SORT_KEYS) == b'{"b":true,"n":1180591620717411303424}'


def test_jsonl_reader_writer_exact(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": "a", "v": 18446744073709551617}\n{"id": "b", "v": ' + str(-HUGE).encode() + b"}\n")
    got = list(JsonlReader(src))
    assert [r["v"] for r in got] == [BIG, -HUGE]
    out = tmp_path / "out.jsonl"
    with JsonlWriter(out) as w:
        w.write_all(got)
    assert out.read_bytes() == b'{"id":"a","v":18446744073709551617}\n{"id":"b","v":' + str(-HUGE).encode() + b"}\n"


def test_call_expected_text_compares_ints_exactly():
    from crlcli.sandbox.compare import call_expected_matches, decode_call_args

    assert not call_expected_matches(2**64, "18446744073709551617")
    assert call_expected_matches(2**64 + 1, "18446744073709551617")
    assert call_expected_matches(10**5000, "1" + "0" * 5000)  # JSON text past Python's 4300-digit limit
    assert decode_call_args("[" + "9" * 5000 + "]", "case") == [10**5000 - 1]
