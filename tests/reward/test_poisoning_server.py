"""Through `crl reward serve --workers 1` (one sandbox worker for every request): an RL reward is the same after
hostile candidates as alone, and the server stays right, not merely "healthy"."""

from __future__ import annotations

import json

PROMPT = "<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\n"
# Expected values are floats: a naive comparison of a huge int against them overflows.
TESTS = {"type": "call", "fn_name": "f", "cases": [{"input": [k], "output": k * 1.5} for k in range(4)]}
SET_TESTS = {
    "type": "assert",
    "fn_name": "f",
    "program": "def check(candidate):\n    assert candidate(1) == {1.0}\n\ncheck(f)\n",
}
MANY = {"type": "call", "fn_name": "f", "cases": [{"input": [k], "output": k} for k in range(40)]}

HONEST = "def f(k):\n    return k * 1.5\n"
WRONG = "def f(k):\n    return k * 1.5 + (k % 2)\n"  # half right: reward 0.5
HOSTILE = [
    ("def f(k):\n    return 10 ** 400\n", TESTS),
    ("def f(k):\n    return -(10 ** 400)\n", TESTS),
    ("def f(k):\n    return {complex(1.7e308, 1.7e308)}\n", SET_TESTS),
    ("def f(k):\n    v = 1.5\n    for _ in range(195):\n        v = [v]\n    return v\n", TESTS),
    ("def f(k):\n    return 10 ** 400 if k == 0 else k\n", MANY),  # fails at the first case, 39 frames to come
    (
        "import os\nos.write(3, b'\\x00\\x00\\x00\\x06\\x00\\x00\\x00\\x00vA' * 40)\ndef f(k):\n    return k * 1.5\n",
        TESTS,
    ),
]


def sample(code: str, tests: dict) -> tuple[str, str, str]:
    answer = PROMPT + f"```python\n{code}```<|im_end|>"
    return answer, PROMPT, json.dumps({"kind": "rl", "tests": tests})


def rewards(srv, url, samples) -> list[float]:
    status, body = srv.post(
        url, {"query": [s[0] for s in samples], "prompts": [s[1] for s in samples], "labels": [s[2] for s in samples]}
    )
    assert status == 200, body
    return body["rewards"]


def test_rewards_after_hostile_candidates_equal_their_solo_rewards(srv):
    honest, wrong = sample(HONEST, TESTS), sample(WRONG, TESTS)
    with srv.reward_server("--workers", "1") as (base, proc):
        url = base + "/get_reward"
        solo = [rewards(srv, url, [s])[0] for s in (honest, wrong)]
        assert solo == [1.0, 0.5]
        for code, tests in HOSTILE:
            attack = rewards(srv, url, [sample(code, tests)])
            assert attack[0] < 1.0, (code, attack)
            # one request at a time, as a trainer's step sends them, then a batch mixing them
            assert [rewards(srv, url, [s])[0] for s in (honest, wrong, honest, wrong)] == solo * 2, code
        mixed = [honest] + [sample(c, t) for c, t in HOSTILE] + [wrong, honest]
        got = rewards(srv, url, mixed)
        assert got[0] == 1.0 and got[-2:] == [0.5, 1.0] and all(r < 1.0 for r in got[1:-2])
    assert proc.returncode == 0
