"""Reward semantics, branch by branch (CRL here; RL with the real sandbox in test_rl.py)."""

from __future__ import annotations

import json

import pytest

from crlcli.reward import EXTRA_LOG_KEYS, response_of, score, strip_special
from crlcli.reward.core import finish, prepare

PROMPT = (
    "<|im_start|>user\nYou will be given a question ... Conclude with \\conclusion{T} for correct, "
    "\\conclusion{F} for wrong.<|im_end|>\n<|im_start|>assistant\n"
)
CRL_T = json.dumps({"kind": "crl", "label": "T"})
CRL_F = json.dumps({"kind": "crl", "label": "F"})


def q(response: str, prompt: str = PROMPT) -> str:
    return prompt + response


def test_crl_match_and_scale():
    resp = "<think>\nLooks right.\n</think>\n\nThe solution is correct. \\conclusion{T}<|im_end|>"
    r = score(q(resp), PROMPT, CRL_T)
    assert (r.reward, r.score) == (1.0, 1.0)
    assert r.logs["crl_match"] == 1 and r.logs["conclusion_found"] == 1 and r.logs["kind"] == "crl"
    half = score(q(resp), PROMPT, CRL_T, crl_scale=0.5)
    assert (half.reward, half.score) == (0.5, 1.0)  # the score (for dynamic filtering) stays unscaled


def test_crl_mismatch_is_zero():
    r = score(q("<think>x</think>\\conclusion{F}"), PROMPT, CRL_T)
    assert r.reward == 0.0 and r.logs["crl_match"] == 0 and r.logs["conclusion_found"] == 1


def test_crl_last_conclusion_wins():
    r = score(q("<think>x</think>first \\conclusion{F} then, on reflection, \\conclusion{T}"), PROMPT, CRL_T)
    assert r.reward == 1.0


def test_crl_missing_conclusion_is_zero():
    r = score(q("<think>x</think>I am not sure."), PROMPT, CRL_F)
    assert r.reward == 0.0 and r.logs["conclusion_found"] == 0


def test_conclusion_only_in_thinking_does_not_count():
    resp = "<think>\nI think \\conclusion{T}\n</think>\n\nIt is hard to tell.<|im_end|>"
    r = score(q(resp), PROMPT, CRL_T)
    assert r.reward == 0.0 and r.logs["conclusion_found"] == 0


def test_unfinished_thinking_does_not_count():
    r = score(q("<think>\nmaybe \\conclusion{T} ... (cut off by max tokens)"), PROMPT, CRL_T)
    assert r.reward == 0.0


def test_prompt_instructions_never_count_as_conclusion():
    # The CRL prompt itself contains \conclusion{T} and \conclusion{F}: a response without one must get 0 even
    # when the prompt cannot be stripped exactly.
    truncated_prompt_query = PROMPT[40:] + "<think>x</think>No verdict."
    for label in (CRL_T, CRL_F):
        assert score(truncated_prompt_query, PROMPT, label).reward == 0.0
        assert score(PROMPT + "No verdict.", PROMPT, label).reward == 0.0


def test_left_truncated_prompt_falls_back():
    resp = "<think>ok</think>\\conclusion{F}<|im_end|>"
    r = score(PROMPT[25:] + resp, PROMPT, CRL_F)  # the decoded query lost the prompt's beginning
    assert r.reward == 1.0 and r.logs["prompt_strip"] == "prompt-tail"
    text, how = response_of("something else entirely \\conclusion{F}", "an unrelated prompt")
    assert how == "whole-query" and text.endswith("\\conclusion{F}")
    text, how = response_of("junk<|im_start|>assistant\n<think>a</think>b", "zzzz")
    assert how == "assistant-marker" and text == "<think>a</think>b"


def test_special_tokens_are_dropped():
    assert strip_special("answer \\conclusion{T}<|im_end|>\n<|endoftext|>") == "answer \\conclusion{T}"
    assert strip_special("x</s>") == "x"
    r = score(q("<think>a</think>\\conclusion{T}<|im_end|><|endoftext|><|endoftext|>"), PROMPT, CRL_T)
    assert r.reward == 1.0


def test_label_as_dict_is_accepted():
    assert score(q("<think>a</think>\\conclusion{T}"), PROMPT, {"kind": "crl", "label": "T"}).reward == 1.0


@pytest.mark.parametrize(
    "label, reason",
    [
        (json.dumps({"kind": "sft"}), "unknown label kind"),
        (json.dumps({"label": "T"}), "unknown label kind"),
        ("not json", "unreadable label"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"kind": "crl", "label": "maybe"}), "'T' or 'F'"),
        (json.dumps({"kind": "rl"}), "no 'tests'"),
        (None, "must be a JSON object"),
    ],
)
def test_bad_labels_give_zero_with_reason(label, reason):
    r = score(q("<think>a</think>\\conclusion{T}"), PROMPT, label)
    assert r.reward == 0.0 and r.logs["reward_failed"] == 1
    assert reason in r.logs["error"]


def test_non_string_query_never_raises():
    for bad in (None, 12, ["x"]):
        r = score(bad, PROMPT, CRL_T)
        assert r.reward == 0.0 and "query must be a string" in r.logs["error"]


def test_rl_without_code_is_zero_without_sandbox():
    label = json.dumps({"kind": "rl", "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]}})
    r = score(q("<think>\n```python\nprint(1)\n```\n</think>\nI give up."), PROMPT, label)
    assert r.reward == 0.0 and r.logs["code_found"] == 0 and "error" not in r.logs


def test_rl_runner_failure_is_zero_and_logged():
    label = json.dumps({"kind": "rl", "tests": {"type": "stdio", "cases": []}})

    def broken(code, tests):
        raise RuntimeError("sandbox exploded")

    r = score(q("<think>a</think>```python\nprint(1)\n```"), PROMPT, label, run=broken)
    assert r.reward == 0.0 and "sandbox exploded" in r.logs["error"] and r.logs["code_found"] == 1


def test_finish_reads_a_run_tests_result():
    label = json.dumps({"kind": "rl", "tests": {"type": "stdio", "cases": []}})
    job = prepare(q("<think>a</think>```python\nprint(1)\n```"), PROMPT, label)
    r = finish(job, {"pass_rate": 0.75, "passed": 3, "total": 4, "verdicts": "AATA", "time_ms": 5})
    assert (r.reward, r.score) == (0.75, 0.75)
    assert r.logs["tests_timeout"] == 1 and r.logs["verdicts"] == {"A": 3, "T": 1}
    assert finish(job, {"nonsense": 1}).logs["reward_failed"] == 1


def test_extra_logs_have_the_same_numeric_keys_for_every_branch():
    samples = [
        score(q("<think>a</think>\\conclusion{T}"), PROMPT, CRL_T),
        score(q("nothing"), PROMPT, "garbage"),
        score(q("nothing"), PROMPT, json.dumps({"kind": "rl", "tests": {"type": "stdio", "cases": []}})),
    ]
    for r in samples:
        logs = r.extra_logs()
        assert tuple(logs) == EXTRA_LOG_KEYS
        assert all(isinstance(v, float) for v in logs.values())
