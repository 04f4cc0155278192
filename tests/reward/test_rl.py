"""RL rewards through the real sandbox: pass rate, partial credit, no code, timeouts, bad tests, deadline."""

from __future__ import annotations

import json

import pytest

from crlcli.reward import score
from crlcli.reward.service import RewardService, to_openrlhf

PROMPT = "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"
STDIO = {
    "type": "stdio",
    "fn_name": None,
    "class_name": None,
    "program": None,
    "cases": [{"input": f"{i}\n", "output": f"{2 * i}\n"} for i in range(10)],
}
CALL = {
    "type": "call",
    "fn_name": "add",
    "class_name": None,
    "program": None,
    "cases": [{"input": [1, 2], "output": 3}, {"input": [5, 5], "output": 10}],
}


def rl(tests) -> str:
    return json.dumps({"kind": "rl", "tests": tests})


def answer(code: str, thinking: str = "Let me think.") -> str:
    return PROMPT + f"<think>\n{thinking}\n</think>\n\nHere:\n```python\n{code}\n```<|im_end|>"


def test_all_pass_partial_and_zero():
    r = score(answer("n = int(input())\nprint(2 * n)"), PROMPT, rl(STDIO))
    assert r.reward == 1.0 and r.logs["tests_total"] == 10 and r.logs["code_found"] == 1
    r = score(answer("n = int(input())\nprint(2 * n if n < 7 else 0)"), PROMPT, rl(STDIO))
    assert r.reward == pytest.approx(0.7) and r.logs["verdicts"] == {"A": 7, "W": 3}
    r = score(answer("print('x')"), PROMPT, rl(STDIO))
    assert r.reward == 0.0 and "error" not in r.logs


def test_call_tests_and_syntax_error():
    assert score(answer("def add(a, b):\n    return a + b"), PROMPT, rl(CALL)).reward == 1.0
    r = score(answer("def add(a, b) return a + b"), PROMPT, rl(CALL))
    assert r.reward == 0.0 and r.logs["tests_total"] == 2


def test_code_only_in_thinking_is_zero():
    text = PROMPT + "<think>\n```python\nn = int(input())\nprint(2 * n)\n```\n</think>\n\nDone.<|im_end|>"
    r = score(text, PROMPT, rl(STDIO))
    assert r.reward == 0.0 and r.logs["code_found"] == 0


def test_last_block_of_answer_is_run():
    text = (
        PROMPT + "<think>x</think>\nFirst try:\n```python\nprint(0)\n```\nFixed:\n```python\nprint(2*int(input()))\n```"
    )
    assert score(text, PROMPT, rl(STDIO)).reward == 1.0


def test_bad_tests_are_zero_and_logged():
    r = score(answer("print(1)"), PROMPT, rl({"type": "nonsense", "cases": []}))
    assert r.reward == 0.0 and r.logs["reward_failed"] == 1 and r.logs["error"]


def test_service_bounds_and_deadline():
    slow = {**STDIO, "cases": STDIO["cases"][:2]}
    svc = RewardService(workers=1, deadline=3.0, test_timeout=2.0)
    try:
        queries = [answer("while True: pass"), answer("while True: pass"), answer("print(2*int(input()))")]
        out = svc.score_batch(queries, [PROMPT] * 3, [rl(slow)] * 3)
        d = to_openrlhf(out)
        # one worker, 2 tests x 2 s each for the first loop: the rest cannot finish within 3 s
        assert d["rewards"][0] == 0.0
        assert d["extra_logs"]["reward_failed"][1] == 1.0 and "deadline" in out[1].logs["error"]
        assert len(d["rewards"]) == 3
    finally:
        svc.close()


def test_bad_tests_in_a_batch_only_zero_that_sample():
    svc = RewardService(workers=1)
    try:
        good = answer("n = int(input())\nprint(2 * n)")
        out = svc.score_batch(
            [good, good, good], [PROMPT] * 3, [rl(STDIO), rl({"type": "stdio", "cases": "not a list"}), rl(STDIO)]
        )
        assert [r.reward for r in out] == [1.0, 0.0, 1.0]
        assert out[1].logs["reward_failed"] == 1 and "sandbox" in out[1].logs["error"]
    finally:
        svc.close()
