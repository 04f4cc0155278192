"""Issue 15, item 1: integers beyond 64 bits (and beyond 308 digits) stay exact through filter, judge and mix,
and are compared exactly. Before the fix orjson read 18446744073709551617 as 1.8446744073709552e+19, so a
candidate returning 2**64 was labelled A, and a 400-digit integer was "malformed JSON"."""

from __future__ import annotations

import json

import pytest

BIG = 2**64 + 1
HUGE = 10**399 + 7  # 400 digits


def problem(expected: int, *codes: str) -> bytes:
    rec = {
        "id": "big/1",
        "question": "Return the number.",
        "starter_code": "def f(x):\n",
        "tests": {"type": "call", "fn_name": "f", "cases": [{"input": [1], "output": expected}]},
        "candidates": [{"id": f"c{i}", "code": c} for i, c in enumerate(codes)],
    }
    return json.dumps(rec).encode() + b"\n"


@pytest.mark.parametrize(
    "expected, wrong, right",
    [
        (BIG, "def f(x):\n    return 2**64\n", "def f(x):\n    return 2**64 + x\n"),
        (HUGE, "def f(x):\n    return 10**399 + 6\n", "def f(x):\n    return 10**399 + 6 + x\n"),
    ],
    ids=["2**64+1", "400 digits"],
)
def test_judge_filter_mix_keep_big_ints_exact(crl, expected, wrong, right):
    data = problem(expected, wrong, right)
    judged = crl("judge", input=data)
    assert judged.returncode == 0, judged.stderr.decode()
    rec = json.loads(judged.stdout)
    assert rec["tests"]["cases"][0]["output"] == expected  # written back exactly, not as a float
    assert str(expected).encode() in judged.stdout
    assert [c["judgment"]["verdicts"] for c in rec["candidates"]] == ["W", "A"]

    filtered = crl("filter", input=data)
    assert filtered.returncode == 0, filtered.stderr.decode()
    assert json.loads(filtered.stdout)["tests"]["cases"][0]["output"] == expected

    mixed = crl("mix", "--crl-ratio", "0", input=judged.stdout)
    assert mixed.returncode == 0, mixed.stderr.decode()
    label = json.loads(json.loads(mixed.stdout)["label"])
    assert label["tests"]["cases"][0]["output"] == expected
