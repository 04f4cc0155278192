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

    return {"backend": "hf", "model": "unused", "tokenizer": str(qwen3_tokenizer_dir()), "seed": 0,
            "source": {"benchmark": "humaneval", "input": None, "data": str(shared_data), "limit": 2}, **extra}


def _solution(rec) -> str:
    return f"```python\n{rec['prompt']}{rec['canonical_solution']}```"


def _wrong(rec) -> str:
    return f"```python\ndef {rec['entry_point']}(*args):\n    return None\n```"


def test_budget_force_rescored_on_a_benchmark(crl, shared_data, humaneval, tmp_path):
    run = tmp_path / "bf"
    run.mkdir()
    conf = _config(shared_data, rounds=1, wait_token="Wait", min_thinking_tokens=0, max_thinking_tokens=50,
                   answer_tokens=100)
    (run / "run.json").write_text(json.dumps({"kind": "budget-force", "config": conf}))
    gens = []
    for pid, rec in humaneval:
        gens += [
            {"id": pid, "step": 0, "round": 0, "kind": "think", "text": "easy", "tokens": 2, "finish_reason": "stop"},
            {"id": pid, "step": 1, "round": 0, "kind": "answer", "text": _wrong(rec), "tokens": 20,
             "finish_reason": "stop"},
            {"id": pid, "step": 2, "round": 1, "kind": "think", "text": ", no: check edge cases", "tokens": 7,
             "finish_reason": "stop"},
            {"id": pid, "step": 3, "round": 1, "kind": "answer", "text": _solution(rec), "tokens": 90,
             "finish_reason": "stop"},
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
        (pid, rnd): rnd == 1 for pid, _ in humaneval for rnd in (0, 1)}
    # Figure 5 style: several scored runs on one plot.
    pytest.importorskip("matplotlib", reason="plots need the plot extra (matplotlib)")
    png = tmp_path / "fig.png"
    proc = crl("tts", "budget-force", "plot", str(run), str(run), "--label", "base", "--label", "crl",
               "-o", str(png))
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
        cands = [{"text": _wrong(rec), "tokens": 1, "finish_reason": "stop"},
                 {"text": _solution(rec), "tokens": 1, "finish_reason": "stop"}]
        gens.append({"id": pid, "kind": "candidates", "outputs": cands})
        for j, verdict in enumerate("FT"):
            gens.append({"id": pid, "kind": "critiques", "candidate": j,
                         "outputs": [{"text": f"\\conclusion{{{verdict}}}", "tokens": 3, "finish_reason": "stop"}]})
    write_jsonl(run / "generations.jsonl", gens)
    proc = crl("tts", "critique-select", "score", str(run))
    assert proc.returncode == 0, proc.stderr.decode()
    summary = orjson.loads(proc.stdout)
    assert summary["selected_accuracy"] == 1.0
    assert summary["mean_pass@1"] == 0.5 and summary["oracle_pass@k"] == 1.0
    assert summary["critic"]["precision"] == 1.0 and summary["critic"]["recall"] == 1.0
    assert summary["critic"]["mean_auc"] == 1.0
    assert summary["selectors"]["public-tests"] is None  # HumanEval exposes no public tests
