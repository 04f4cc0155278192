"""Issue 15, item 5: every record needs a unique string id. Before: records without `id` were appended again on
every `--resume`, and duplicate ids passed every stage silently (`crl mix` wrote duplicate rows)."""

from __future__ import annotations

import json

import pytest

TESTS = {"type": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3}]}


def rec(rid, **extra) -> dict:
    r = {
        "question": "Write add(a, b).",
        "starter_code": "",
        "tests": TESTS,
        "candidates": [
            {"id": "c0", "code": "def add(a, b):\n    return a + b\n", "judgment": {"pass_rate": 1.0, "label": "T"}}
        ],
        **extra,
    }
    if rid is not None:
        r["id"] = rid
    return r


def jsonl(*records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.mark.parametrize(
    "stage", [("filter",), ("judge",), ("mix", "--crl-ratio", "0"), ("gen-candidates", "--backend", "mutate")]
)
def test_duplicate_ids_are_an_error_naming_both_lines(crl, stage):
    res = crl(*stage, input=jsonl(rec("p1"), rec("p2"), rec("p1")))
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert "<stdin>:3: duplicate id 'p1': also on line 1" in err


def test_duplicates_go_to_the_skip_file(crl, tmp_path):
    skip = tmp_path / "bad.jsonl"
    res = crl("mix", "--crl-ratio", "0", "--skip-invalid", str(skip), input=jsonl(rec("p1"), rec("p1")))
    assert res.returncode == 0, res.stderr.decode()
    assert [json.loads(x)["id"] for x in res.stdout.splitlines()] == ["p1"]
    assert "duplicate id 'p1'" in json.loads(skip.read_text())["error"]


@pytest.mark.parametrize("bad, said", [(None, "record without an 'id'"), (7, "got a number"), ("", "got a string")])
def test_missing_or_bad_id_is_an_error(crl, bad, said):
    res = crl("judge", input=jsonl(rec("p1"), rec(bad)))
    err = res.stderr.decode()
    assert res.returncode == 1 and "<stdin>:2: " in err and said in err, err


def test_resume_does_not_append_again(crl, tmp_path):
    out = tmp_path / "out.jsonl"
    data = jsonl(rec("p1"), rec("p2"))
    for _ in range(3):
        res = (
            crl("filter", "-o", str(out), input=data)
            if not out.exists()
            else crl("judge", "-o", str(out), "--resume", input=data)
        )
        assert res.returncode == 0, res.stderr.decode()
    assert [json.loads(x)["id"] for x in out.read_bytes().splitlines()] == ["p1", "p2"]
