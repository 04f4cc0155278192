"""The server under concurrent load on loopback: many clients, RL and CRL mixed, every reward checked.

The issue's full size (1,024 RL samples x 30 tests + CRL, 64 clients) takes minutes on a 2-core machine, so it
lives in `bench/reward_bench.py --load-rl 1024`; this default test runs the same traffic at a smaller size.
"""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

PROMPT = "<|im_start|>user\nSolve or judge.<|im_end|>\n<|im_start|>assistant\n"
N_TESTS = 30
TESTS = {
    "type": "stdio",
    "fn_name": None,
    "class_name": None,
    "program": None,
    "cases": [{"input": f"{i}\n", "output": f"{i * 3}\n"} for i in range(N_TESTS)],
}
RL_LABEL = json.dumps({"kind": "rl", "tests": TESTS})


def samples(n_rl: int, n_crl: int, seed: int = 0) -> list[tuple[str, str, str, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n_rl):
        k = rng.randint(0, N_TESTS)  # passes exactly the cases with input < k
        code = f"n = int(input())\nprint(n * 3 if n < {k} else -1)\n"
        out.append((PROMPT + f"<think>t</think>\n```python\n{code}```<|im_end|>", PROMPT, RL_LABEL, k / N_TESTS))
    for _ in range(n_crl):
        truth, said = rng.choice("TF"), rng.choice("TF")
        out.append(
            (
                PROMPT + f"<think>t</think>\\conclusion{{{said}}}<|im_end|>",
                PROMPT,
                json.dumps({"kind": "crl", "label": truth}),
                1.0 if truth == said else 0.0,
            )
        )
    rng.shuffle(out)
    return out


@pytest.mark.slow
def test_concurrent_clients_every_reward_correct(srv):
    n_rl = int(os.environ.get("CRL_LOAD_RL", "64"))
    work = samples(n_rl, n_rl // 2)
    clients = 64
    # requests of 1..4 samples (OpenRLHF sends one per rollout; bigger batches must work too)
    rng = random.Random(1)
    requests, i = [], 0
    while i < len(work):
        size = rng.randint(1, 4)
        requests.append(work[i : i + size])
        i += size
    with srv.reward_server("--workers", "2", "--max-inflight", "32") as (base, proc):
        url = base + "/get_reward"

        def send(req):
            payload = {"query": [s[0] for s in req], "prompts": [s[1] for s in req], "labels": [s[2] for s in req]}
            return srv.post(url, payload, timeout=170)

        with ThreadPoolExecutor(clients) as ex:
            results = list(ex.map(send, requests))
        pids = srv.descendants(proc.pid)
    failed = [r for r in results if r[0] != 200]
    assert not failed, failed[:3]
    wrong = []
    for req, (_, body) in zip(requests, results):
        for s, got, err in zip(req, body["rewards"], body["extra_logs"]["reward_failed"]):
            if abs(got - s[3]) > 1e-9 or err:
                wrong.append((s[2][:20], s[3], got, err))
    assert not wrong, wrong[:5]
    assert proc.returncode == 0
    assert not [p for p in pids if srv.alive(p)]
