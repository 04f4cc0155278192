"""Budget forcing end to end on the hf backend with a real tiny model that closes its thinking by itself.

The closing model (helpers.py) writes only whole-word tokens and `</think>`, so each saved segment's token count
can be checked against an independent re-encoding of its text, and every forced prompt can be rebuilt from the
saved segments to prove that the end marker was dropped and the wait token appended.
"""

from __future__ import annotations

import shutil

import pytest

from crlcli.errors import CrlError
from crlcli.tts import BudgetConfig, Source, budget_force, score_budget

from .helpers import call_problem, read_jsonl, write_jsonl

pytestmark = pytest.mark.slow

CFG = BudgetConfig(rounds=1, min_thinking_tokens=8, max_thinking_tokens=6, answer_tokens=4, seed=1)


@pytest.fixture(scope="module")
def bf_run(closing_backend, closing_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("bf")
    problems = write_jsonl(root / "p.jsonl", [call_problem(f"p{i}") for i in range(4)])
    summary = budget_force(
        Source(input=problems), root / "run", CFG, "hf", str(closing_model), {}, engine=closing_backend, batch_size=4
    )
    return root, summary


def _by_problem(gens):
    out = {}
    for g in gens:
        out.setdefault(g["id"], []).append(g)
    return {k: sorted(v, key=lambda g: g["step"]) for k, v in out.items()}


def test_token_counts_are_exactly_the_generated_tokens(bf_run, closing_backend):
    tok = closing_backend.tokenizer
    gens = read_jsonl(bf_run[0] / "run" / "generations.jsonl")
    assert gens
    for g in gens:
        # Whole-word text re-encodes to the generated tokens; a "stop" also generated the cut-off marker.
        expected = len(tok.encode(g["text"], add_special_tokens=False)) + (g["finish_reason"] == "stop")
        assert g["tokens"] == expected, g


def test_forced_prompts_drop_the_marker_and_append_wait(bf_run, closing_backend):
    """Rebuild every request from the saved segments and compare with what was actually sent."""
    tok = closing_backend.tokenizer
    count = lambda s: len(tok.encode(s, add_special_tokens=False))  # noqa: E731
    run = bf_run[0] / "run"
    results = {(r["id"], r["round"]): r for r in read_jsonl(run / "results.jsonl")}
    model_closes_then_wait = 0
    for pid, steps in _by_problem(read_jsonl(run / "generations.jsonl")).items():
        thinking, forced, think_tokens, prev = "", count("<think>\n"), 0, None
        for g in steps:
            if g["kind"] == "think":
                if prev is not None:  # every continuation after the first starts with the wait token
                    piece = "Wait" if not thinking or thinking[-1].isspace() else "\nWait"
                    thinking += piece
                    forced += count(piece)
                    if prev["finish_reason"] == "stop":
                        model_closes_then_wait += 1
                sent = "<think>\n" + thinking
                assert g["prompt_tail"] == sent[-80:] or g["prompt_tail"].endswith(sent)
                assert "</think>" not in g["prompt_tail"]
                thinking += g["text"]
                think_tokens += g["tokens"]
                prev = g
            else:
                close = ("</think>" if thinking.endswith("\n") else "\n</think>") + "\n\n"
                assert g["prompt_tail"].endswith((thinking + close)[-70:])
                row = results[(pid, g["round"])]
                assert row["thinking_tokens"] == think_tokens
                assert row["answer_tokens"] == g["tokens"]
                assert row["forced_tokens"] == forced + count(close)
                assert row["closed_by_model"] == (prev["finish_reason"] == "stop")
    # The run really went through "model closed its thinking -> marker dropped -> Wait appended".
    assert model_closes_then_wait >= 1


def test_min_thinking_and_rounds(bf_run):
    run = bf_run[0] / "run"
    rows = read_jsonl(run / "results.jsonl")
    gens = _by_problem(read_jsonl(run / "generations.jsonl"))
    assert sorted({r["round"] for r in rows}) == [0, 1] and len(rows) == 4 * 2
    for r in rows:
        last_think = [g for g in gens[r["id"]] if g["kind"] == "think" and g["round"] == r["round"]][-1]
        if r["round"] == 0:
            # Below the minimum, a model-made close is overridden; only the per-call cap ends the loop early.
            assert r["thinking_tokens"] >= CFG.min_thinking_tokens or last_think["finish_reason"] == "length"
        assert r["correct"] is False and r["pass_rate"] == 0.0  # noise never solves the problem
    thinking = [x["mean_thinking_tokens"] for x in bf_run[1]["rounds"]]
    assert thinking[1] > thinking[0]
    for x in bf_run[1]["rounds"]:
        mine = [r["thinking_tokens"] for r in rows if r["round"] == x["round"]]
        assert x["mean_thinking_tokens"] == pytest.approx(sum(mine) / len(mine))
        assert x["accuracy"] == 0.0 and x["problems"] == 4


def test_resume_replays_saved_generations(bf_run, closing_backend, closing_model, tmp_path):
    src = bf_run[0] / "run"
    run = tmp_path / "run"
    shutil.copytree(src, run)
    lines = (run / "generations.jsonl").read_bytes().splitlines(keepends=True)
    keep = lines[: len(lines) // 2]
    # A crash mid-write leaves a torn last line: it must be dropped, not parsed.
    (run / "generations.jsonl").write_bytes(b"".join(keep) + b'{"id": "p0", "st')
    (run / "results.jsonl").unlink()
    problems = Source(input=bf_run[0] / "p.jsonl")
    budget_force(problems, run, CFG, "hf", str(closing_model), {}, engine=closing_backend, batch_size=4)
    after = (run / "generations.jsonl").read_bytes().splitlines(keepends=True)
    assert after[: len(keep)] == keep
    # Nothing regenerated twice, nothing missing: each problem's steps run 0..k without a gap or a repeat (the
    # regenerated half may sample other lengths, so the count of steps need not equal the first run's).
    steps = _by_problem(read_jsonl(run / "generations.jsonl"))
    assert set(steps) == {g["id"] for g in read_jsonl(src / "generations.jsonl")}
    for pid, gens in steps.items():
        assert [g["step"] for g in gens] == list(range(len(gens))), pid
    assert len(read_jsonl(run / "results.jsonl")) == 8


def test_rescore_reproduces_the_summary(bf_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(bf_run[0] / "run", run)
    (run / "summary.json").unlink()
    again = score_budget(run)
    assert again["rounds"] == bf_run[1]["rounds"]


def test_other_generation_settings_are_refused(bf_run, closing_backend, closing_model, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(bf_run[0] / "run", run)
    other = BudgetConfig(rounds=1, wait_token="Hmm", min_thinking_tokens=8, max_thinking_tokens=6, answer_tokens=4)
    with pytest.raises(CrlError, match="wait_token"):
        budget_force(
            Source(input=bf_run[0] / "p.jsonl"), run, other, "hf", str(closing_model), {}, engine=closing_backend
        )
