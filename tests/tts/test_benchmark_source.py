"""Both tts methods on a `crl eval` benchmark (HumanEval from the shared data), rescored from hand-built runs.

No model: the saved generations are written by hand (a wrong answer in round 0, the canonical solution after the
forced "Wait" in round 1), so the benchmark's own scoring and the per-round bookkeeping are checked exactly.
"""

from __future__ import annotations

import json

import orjson
import pytest

from .helpers import assert_valid_png, read_jsonl, write_jsonl


@pytest.fixture(scope="module")
def humaneval(shared_data):
    from crlcli.evaluation import get_benchmark

    tasks = get_benchmark("humaneval", data=str(shared_data), limit=2).tasks()
    return [(t.task_id, t.data["record"]) for t in tasks]


def _config(shared_data, **extra):
    from crlcli.generation.tiny import qwen3_tokenizer_dir

    return {
        "backend": "hf",
        "model": "unused",
        "tokenizer": str(qwen3_tokenizer_dir()),
        "seed": 0,
        "source": {"benchmark": "humaneval", "input": None, "data": str(shared_data), "limit": 2},
        **extra,
    }


def _solution(rec) -> str:
    return f"```python\n{rec['prompt']}{rec['canonical_solution']}```"


def _wrong(rec) -> str:
    return f"```python\ndef {rec['entry_point']}(*args):\n    return None\n```"


def test_budget_force_rescored_on_a_benchmark(crl, shared_data, humaneval, tmp_path):
    run = tmp_path / "bf"
    run.mkdir()
    conf = _config(
        shared_data, rounds=1, wait_token="Wait", min_thinking_tokens=0, max_thinking_tokens=50, answer_tokens=100
    )
    (run / "run.json").write_text(json.dumps({"kind": "budget-force", "config": conf}))
    gens = []
    for pid, rec in humaneval:
        gens += [
            {"id": pid, "step": 0, "round": 0, "kind": "think", "text": "easy", "tokens": 2, "finish_reason": "stop"},
            {
                "id": pid,
                "step": 1,
                "round": 0,
                "kind": "answer",
                "text": _wrong(rec),
                "tokens": 20,
                "finish_reason": "stop",
            },
            {
                "id": pid,
                "step": 2,
                "round": 1,
                "kind": "think",
                "text": ", no: check edge cases",
                "tokens": 7,
                "finish_reason": "stop",
            },
            {
                "id": pid,
                "step": 3,
                "round": 1,
                "kind": "answer",
                "text": _solution(rec),
                "tokens": 90,
                "finish_reason": "stop",
            },
        ]
    write_jsonl(run / "generations.jsonl", gens)
    proc = crl("tts", "budget-force", "score", str(run))
    assert proc.returncode == 0, proc.stderr.decode()
    rounds = orjson.loads(proc.stdout)["rounds"]
    assert [r["accuracy"] for r in rounds] == [0.0, 1.0]
    assert [r["mean_thinking_tokens"] for r in rounds] == [2.0, 9.0]
    assert [r["mean_answer_tokens"] for r in rounds] == [20.0, 90.0]
    # <think>\n (2 tokens) + "\n</think>\n\n" (3); round 1 adds "\nWait" (2: the thinking ends in a letter).
    assert [r["mean_forced_tokens"] for r in rounds] == [5.0, 7.0]
    rows = read_jsonl(run / "results.jsonl")
    assert {(r["id"], r["round"]): r["correct"] for r in rows} == {
        (pid, rnd): rnd == 1 for pid, _ in humaneval for rnd in (0, 1)
    }
    # Figure 5 style: several scored runs on one plot.
    pytest.importorskip("matplotlib", reason="plots need the plot extra (matplotlib)")
    png = tmp_path / "fig.png"
    proc = crl("tts", "budget-force", "plot", str(run), str(run), "--label", "base", "--label", "crl", "-o", str(png))
    assert proc.returncode == 0, proc.stderr.decode()
    assert_valid_png(png)
    proc = crl("tts", "budget-force", "plot", str(run), "--label", "a", "--label", "b", "-o", str(png))
    assert proc.returncode == 1 and "--label" in proc.stderr.decode()


def test_critique_select_rescored_on_a_benchmark(crl, shared_data, humaneval, tmp_path):
    run = tmp_path / "cs"
    run.mkdir()
    conf = _config(shared_data, k=2, m=1, critic="unused", critic_backend="hf")
    (run / "run.json").write_text(json.dumps({"kind": "critique-select", "config": conf}))
    gens = []
    for pid, rec in humaneval:
        cands = [
            {"text": _wrong(rec), "tokens": 1, "finish_reason": "stop"},
            {"text": _solution(rec), "tokens": 1, "finish_reason": "stop"},
        ]
        gens.append({"id": pid, "kind": "candidates", "outputs": cands})
        for j, verdict in enumerate("FT"):
            gens.append(
                {
                    "id": pid,
                    "kind": "critiques",
                    "candidate": j,
                    "outputs": [{"text": f"\\conclusion{{{verdict}}}", "tokens": 3, "finish_reason": "stop"}],
                }
            )
    write_jsonl(run / "generations.jsonl", gens)
    proc = crl("tts", "critique-select", "score", str(run))
    assert proc.returncode == 0, proc.stderr.decode()
    summary = orjson.loads(proc.stdout)
    assert summary["selected_accuracy"] == 1.0
    assert summary["mean_pass@1"] == 0.5 and summary["oracle_pass@k"] == 1.0
    assert summary["critic"]["precision"] == 1.0 and summary["critic"]["recall"] == 1.0
    assert summary["critic"]["mean_auc"] == 1.0
    assert summary["selectors"]["public-tests"] is None  # HumanEval exposes no public tests


def test_public_tests_selector_on_livecodebench_records(crl, tmp_path):
    """LiveCodeBench's public_test_cases feed the public-tests selector; the hidden (private) ones decide truth.
    A candidate that hard-codes the public example passes the public test and fails the private one."""
    from crlcli.generation.tiny import qwen3_tokenizer_dir

    tests = lambda pairs: json.dumps([{"input": i, "output": o, "testtype": "stdin"} for i, o in pairs])  # noqa
    rec = {
        "question_id": "abc001_a",
        "question_title": "plus one",
        "question_content": "Read n, print n + 1.",
        "platform": "atcoder",
        "contest_id": "abc001",
        "contest_date": "2024-11-02T00:00:00",
        "starter_code": "",
        "difficulty": "easy",
        "metadata": "{}",
        "public_test_cases": tests([("1\n", "2\n")]),
        "private_test_cases": tests([("5\n", "6\n"), ("9\n", "10\n")]),
    }
    data = tmp_path / "lcb"
    data.mkdir()
    (data / "test.jsonl").write_text(json.dumps(rec) + "\n")
    run = tmp_path / "cs"
    run.mkdir()
    conf = {
        "k": 3,
        "m": 1,
        "seed": 0,
        "backend": "hf",
        "model": "unused",
        "tokenizer": str(qwen3_tokenizer_dir()),
        "source": {"benchmark": "lcb", "input": None, "data": str(data), "limit": None, "options": {}},
    }
    (run / "run.json").write_text(json.dumps({"kind": "critique-select", "config": conf}))
    codes = ["print(2)", "print(int(input()) + 1)", "print(int(input()) - 1)"]  # hard-coded, right, wrong
    gens = [
        {
            "id": "abc001_a",
            "kind": "candidates",
            "outputs": [{"text": f"```python\n{c}\n```", "tokens": 5, "finish_reason": "stop"} for c in codes],
        }
    ]
    for j, verdict in enumerate("FTF"):
        gens.append(
            {
                "id": "abc001_a",
                "kind": "critiques",
                "candidate": j,
                "outputs": [{"text": f"\\conclusion{{{verdict}}}", "tokens": 3, "finish_reason": "stop"}],
            }
        )
    write_jsonl(run / "generations.jsonl", gens)
    proc = crl("tts", "critique-select", "score", str(run), "--selector", "public-tests")
    assert proc.returncode == 0, proc.stderr.decode()
    summary = orjson.loads(proc.stdout)
    row = read_jsonl(run / "results.jsonl")[0]
    assert [c["public_pass_rate"] for c in row["candidates"]] == [1.0, 1.0, 0.0]
    assert [c["correct"] for c in row["candidates"]] == [False, True, False]
    assert row["selected_by"]["public-tests"] == 0  # tie on the public test -> lowest index: the hard-coded one
    assert row["selected_by"]["crl-votes"] == 1
    assert summary["selectors"]["public-tests"]["accuracy"] == 0.0
    assert summary["selectors"]["crl-votes"]["accuracy"] == 1.0
