"""critique-select scoring on a hand-built run directory: real sandbox, real Qwen3 tokenizer, no model.

The saved generations are written by hand so that every number of the summary can be worked out on paper:
which candidate each selector picks (and the thinking-length tie-break), the pass rates, and the critic's
precision / recall / AUC against the executed truth.
"""

from __future__ import annotations

import json

import orjson
import pytest

from .helpers import call_problem, read_jsonl, write_jsonl

RIGHT = "```python\ndef add_one(x):\n    return x + 1\n```"
RIGHT2 = "Here:\n```python\ndef add_one(x):\n    y = x\n    return y + 1\n```"
WRONG = "```python\ndef add_one(x):\n    return x + 2\n```"


def critique(verdict: str | None, words: int) -> dict:
    thinking = " ".join(["check"] * words)
    tail = f"\\conclusion{{{verdict}}}" if verdict else "I am not sure."
    return {"text": f"<think>\n{thinking}\n</think>\n\n{tail}", "tokens": words + 10, "finish_reason": "stop"}


def out(text: str) -> dict:
    return {"text": text, "tokens": 7, "finish_reason": "stop"}


@pytest.fixture
def cs_run(tmp_path):
    from crlcli.generation.tiny import qwen3_tokenizer_dir

    run = tmp_path / "cs"
    run.mkdir()
    config = {
        "k": 3,
        "m": 3,
        "seed": 0,
        "backend": "hf",
        "model": "unused",
        "critic": "unused",
        "critic_backend": "hf",
        "tokenizer": str(qwen3_tokenizer_dir()),
        "source": {"benchmark": None, "input": "gone.jsonl", "data": None, "limit": None},
    }
    (run / "run.json").write_text(json.dumps({"kind": "critique-select", "config": config}))
    write_jsonl(run / "problems.jsonl", [call_problem("p1", public=True), call_problem("p2", public=True)])
    gens = [
        {"id": "p1", "kind": "candidates", "outputs": [out(RIGHT), out(WRONG), out(RIGHT2)]},
        # p1: candidates 0 and 1 both get two T; candidate 1 (wrong!) thinks less, so crl-votes picks it.
        {
            "id": "p1",
            "kind": "critiques",
            "candidate": 0,
            "outputs": [critique("T", 30), critique("T", 30), critique("F", 30)],
        },
        {
            "id": "p1",
            "kind": "critiques",
            "candidate": 1,
            "outputs": [critique("T", 5), critique("T", 5), critique("F", 5)],
        },
        {
            "id": "p1",
            "kind": "critiques",
            "candidate": 2,
            "outputs": [critique("T", 1), critique("F", 1), critique(None, 1)],
        },
        {"id": "p2", "kind": "candidates", "outputs": [out("no code here"), out(WRONG), out(RIGHT)]},
        {"id": "p2", "kind": "critiques", "candidate": 1, "outputs": [critique("F", 2)] * 3},
        {"id": "p2", "kind": "critiques", "candidate": 2, "outputs": [critique("T", 40)] * 3},
    ]
    write_jsonl(run / "generations.jsonl", gens)
    return run


def test_rescore_selects_by_votes_then_shortest_thinking(crl, cs_run):
    proc = crl("tts", "critique-select", "score", str(cs_run))
    assert proc.returncode == 0, proc.stderr.decode()
    summary = orjson.loads(proc.stdout)
    assert summary == json.loads((cs_run / "summary.json").read_text())
    rows = {r["id"]: r for r in read_jsonl(cs_run / "results.jsonl")}

    p1 = rows["p1"]
    assert p1["selected"] == 1 and p1["selected_correct"] is False  # tie on 2 T -> shorter thinking wins
    assert [c["votes_T"] for c in p1["candidates"]] == [2, 2, 1]
    assert [c["correct"] for c in p1["candidates"]] == [True, False, True]
    assert p1["candidates"][0]["thinking_tokens"] == [30, 30, 30]  # "check" x30 is 30 Qwen3 tokens
    assert p1["candidates"][1]["thinking_tokens"] == [5, 5, 5]
    assert p1["selected_by"] == {
        "crl-votes": 1,
        "majority": 0,
        "random": p1["selected_by"]["random"],
        "public-tests": 0,
    }
    p2 = rows["p2"]
    assert p2["selected"] == 2 and p2["selected_correct"] is True
    assert p2["candidates"][0]["has_code"] is False and p2["candidates"][0]["votes_T"] == 0

    assert summary["selectors"]["crl-votes"]["accuracy"] == 0.5
    assert summary["selectors"]["majority"]["accuracy"] == 1.0
    assert summary["selectors"]["public-tests"]["accuracy"] == 1.0
    assert summary["selected_accuracy"] == 0.5
    assert summary["mean_pass@1"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert summary["oracle_pass@k"] == 1.0
    critic = summary["critic"]
    assert critic["confusion"] == {"tp": 6, "fn": 3, "fp": 2, "tn": 4}
    assert critic["precision"] == pytest.approx(6 / 8)
    assert critic["recall"] == pytest.approx(6 / 9)
    assert critic["missing_conclusion"] == 1
    assert critic["mean_auc"] == pytest.approx((0.25 + 1.0) / 2)
    assert summary["tokens"]["candidate"] == 6 * 7
    assert summary["tokens"]["critique_thinking"] == 3 * (30 + 5 + 1) + 3 * (2 + 40)


def test_headline_selector_option(crl, cs_run):
    proc = crl("tts", "critique-select", "score", str(cs_run), "--selector", "majority")
    assert proc.returncode == 0, proc.stderr.decode()
    assert orjson.loads(proc.stdout)["selected_accuracy"] == 1.0
    assert {r["id"]: r["selected"] for r in read_jsonl(cs_run / "results.jsonl")} == {"p1": 0, "p2": 2}


def test_wrong_kind_and_bad_selector_are_clear_errors(crl, cs_run):
    proc = crl("tts", "budget-force", "score", str(cs_run))
    assert proc.returncode == 1
    assert "critique-select" in proc.stderr.decode() and "hint:" in proc.stderr.decode()
    proc = crl("tts", "critique-select", "score", str(cs_run), "--selector", "best")
    assert proc.returncode == 2 and "--selector must be one of" in proc.stderr.decode()  # a usage error


def test_a_problem_without_its_critiques_is_left_out_with_a_warning(crl, cs_run):
    """An interrupted run: p2's critique of candidate 2 never arrived. Scoring names what is missing and scores
    the problems that are complete instead of failing."""
    gens = [g for g in read_jsonl(cs_run / "generations.jsonl") if not (g["id"] == "p2" and g.get("candidate") == 2)]
    write_jsonl(cs_run / "generations.jsonl", gens)
    proc = crl("tts", "critique-select", "score", str(cs_run))
    assert proc.returncode == 0, proc.stderr.decode()
    assert "1 problem(s) lack critiques" in proc.stderr.decode()
    assert [r["id"] for r in read_jsonl(cs_run / "results.jsonl")] == ["p1"]
