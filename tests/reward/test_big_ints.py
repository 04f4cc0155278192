"""Issue 15, item 1: the reward server parses labels with integers beyond 64 bits exactly (before: as floats,
so a candidate returning 2**64 for 2**64 + 1 got reward 1.0)."""

from __future__ import annotations

import json

PROMPT = "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"


def sample(body: str, expected: int) -> tuple[str, str, str]:
    label = (
        '{"kind": "rl", "tests": {"type": "call", "fn_name": "f", "cases": [{"input": [1], "output": '
        + str(expected)
        + "}]}}"
    )
    query = PROMPT + f"<think>ok</think>\n\n```python\ndef f(x):\n    return {body}\n```<|im_end|>"
    return query, PROMPT, label


def test_reward_server_compares_big_ints_exactly(srv):
    samples = [
        sample("2**64", 2**64 + 1),
        sample("2**64 + x", 2**64 + 1),
        sample("10**399 + 6", 10**399 + 7),
        sample("10**399 + 6 + x", 10**399 + 7),
    ]
    payload = {"query": [s[0] for s in samples], "prompts": [s[1] for s in samples], "labels": [s[2] for s in samples]}
    with srv.reward_server("--workers", "1") as (base, _proc):
        status, body = srv.post(base + "/get_reward", json.dumps(payload).encode())
    assert status == 200, body
    assert body["rewards"] == [0.0, 1.0, 0.0, 1.0]
