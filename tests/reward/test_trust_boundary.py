"""Hostile RL answers through a real `crl reward serve` on loopback: nothing a candidate writes earns a reward
(the sandbox's trust-boundary attacks, end to end through OpenRLHF's HTTP protocol)."""

from __future__ import annotations

import json

from tests.sandbox.test_trust_boundary import CALL_ATTACKS, EQ_ALWAYS_TRUE, HONEST_ADD, STDIO_ATTACKS

PROMPT = "<|im_start|>user\nWrite add(a, b).<|im_end|>\n<|im_start|>assistant\n"
CALL = {"type": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3}, {"input": [40, 2], "output": 42}]}
ASSERTS = {
    "type": "assert",
    "program": "def check(candidate):\n    assert candidate(1, 2) == 3\n"
    "    assert candidate(40, 2) == 42\n\ncheck(add)\n",
}
STDIO = {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3 4\n"}]}


def rl_sample(code: str, tests: dict) -> tuple[str, str, str]:
    return (PROMPT + f"```python\n{code}```<|im_end|>", PROMPT, json.dumps({"kind": "rl", "tests": tests}))


def test_attacks_earn_nothing_through_the_reward_server(srv):
    samples = [rl_sample(code, CALL) for code in CALL_ATTACKS.values()]
    samples += [rl_sample(EQ_ALWAYS_TRUE, ASSERTS)]
    samples += [rl_sample(code, STDIO) for code in STDIO_ATTACKS.values()]
    honest = [
        rl_sample(HONEST_ADD, CALL),
        rl_sample(HONEST_ADD, ASSERTS),
        rl_sample("a, b = map(int, input().split())\nprint(a + b, a + b + 1)\n", STDIO),
    ]
    with srv.reward_server("--workers", "2", "--test-timeout", "2") as (base, _):
        status, body = srv.post(
            base + "/get_reward",
            {
                "query": [s[0] for s in samples + honest],
                "prompts": [s[1] for s in samples + honest],
                "labels": [s[2] for s in samples + honest],
            },
        )
    assert status == 200
    rewards = body["rewards"]
    assert rewards[: len(samples)] == [0.0] * len(samples), rewards
    assert rewards[len(samples) :] == [1.0, 1.0, 1.0], rewards
    # the converted assert tests were compared in the parent: no in-process reward among them
    assert body["extra_logs"]["tests_in_process"] == [0.0] * len(rewards)
