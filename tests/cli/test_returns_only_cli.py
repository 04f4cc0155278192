"""A `call` case without `output` is not a test of correctness (issue 24, section 1): every stage refuses it,
unless the case says `"returns_only": true`; those are counted and kept out of RL rows."""

from __future__ import annotations

import json

import orjson
import pytest

WRONG = "def add(a, b):\n    return 999\n"
RIGHT = "def add(a, b):\n    return a + b\n"


@pytest.fixture(autouse=True)
def wide_log(monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # Rich wraps log lines at the terminal width, paths included


def record(cases, rid="p0", cands=(WRONG,)) -> dict:
    return {
        "id": rid,
        "question": "Write add(a, b).",
        "tests": {"type": "call", "fn_name": "add", "class_name": None, "cases": cases, "program": None},
        "candidates": [{"id": f"c{i}", "code": c} for i, c in enumerate(cands)],
    }


def lines(*recs) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in recs)


def test_judge_rejects_a_call_case_without_output_naming_file_and_line(crl, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(lines(record([{"input": [1, 2], "output": 3}], "ok"), record([{"input": [1, 2]}], "bad")))
    res = crl("judge", "-i", str(src), "--workers", "1")
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert f"{src}:2:" in err and "has no 'output'" in err and "returns_only" in err


def test_returns_only_cases_are_judged_counted_and_marked(crl):
    res = crl("judge", "--workers", "1", input=lines(record([{"input": [1, 2], "returns_only": True}])))
    assert res.returncode == 0, res.stderr.decode()
    judgment = orjson.loads(res.stdout)["candidates"][0]["judgment"]
    # `return 999` still passes a returns-only case: the judgment says so instead of looking like a real pass
    assert judgment["verdicts"] == "A" and judgment["trust"] == "returns-only"
    assert "1 candidate(s) had call cases marked returns_only" in " ".join(res.stderr.decode().split())


def test_mix_keeps_returns_only_rows_out_of_rl_unless_allowed(crl, tmp_path):
    judged = record([{"input": [1, 2], "returns_only": True}], cands=())
    res = crl("mix", "--crl-ratio", "0", input=lines(judged))
    assert res.returncode == 1
    assert "marked returns_only" in res.stderr.decode() and "--allow-returns-only-tests" in res.stderr.decode()
    stats = tmp_path / "s.json"
    res = crl("mix", "--crl-ratio", "0", "--allow-returns-only-tests", "--stats", str(stats), input=lines(judged))
    assert res.returncode == 0, res.stderr.decode()
    assert json.loads(stats.read_text())["rl_rows_returns_only"] == 1
    skip = tmp_path / "skip.jsonl"
    res = crl("mix", "--crl-ratio", "0", "--skip-invalid", str(skip), input=lines(judged))
    assert res.returncode == 0 and res.stdout == b""
    assert "returns_only" in json.loads(skip.read_text().splitlines()[0])["error"]


def test_reward_of_a_case_without_output_is_zero_not_one():
    from crlcli.reward.core import score

    label = json.dumps({"kind": "rl", "tests": record([{"input": [1, 2]}])["tests"]})
    reward = score("```python\n" + WRONG + "```", "", label)
    assert reward.reward == 0.0 and "no 'output'" in reward.logs["error"]


def test_every_stage_applies_the_same_record_checks(crl):
    # `input: 5` is no argument list: filter refused it, judge ran it
    bad_input = record([{"input": 5, "output": 3}])
    res = crl("judge", "--workers", "1", input=lines(bad_input))
    assert res.returncode == 1 and "tests.cases[0].input must be a list of arguments" in res.stderr.decode()
    res = crl("filter", input=lines(bad_input))
    assert res.returncode == 1, res.stderr.decode()
    # gen-candidates passed `tests: "x"` through
    res = crl("gen-candidates", "-b", "mutate", input=lines({"id": "x", "question": "q", "tests": "x"}))
    assert res.returncode == 1 and "field 'tests' must be an object" in res.stderr.decode()
    res = crl("mix", input=lines(bad_input))
    assert res.returncode == 1 and "tests.cases[0].input" in res.stderr.decode()


def test_candidates_without_unique_ids_are_warned_about(crl):
    rec = record([{"input": [1, 2], "output": 3}], cands=(RIGHT, WRONG))
    rec["candidates"][1]["id"] = "c0"
    rec["candidates"].append({"code": RIGHT})
    res = crl("judge", "--workers", "1", input=lines(rec))
    assert res.returncode == 0
    err = " ".join(res.stderr.decode().split())  # Rich wraps log lines
    assert "1 candidate(s) without a string id" in err and "duplicate candidate id(s) 'c0'" in err
