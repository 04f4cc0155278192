"""Reward throughput: CRL rewards/s on one core, RL rewards/s with 30 trivial tests, and a GRPO step's batch
(prompts x 8 samples, 80/20 RL/CRL) through the HTTP server, one request per sample as OpenRLHF sends them,
with p50/p99 request latency. Optionally the full load test (--load-rl 1024, 64 clients).

    python bench/reward_bench.py [--crl 20000] [--rl 60] [--workers 2] [--prompts 16] [--load-rl 0]

The paper's step is --prompts 128 (1,024 samples); the default is smaller so that `make bench` stays short.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from crlcli.reward import score
from crlcli.reward.service import RewardService

PROMPT = (
    "<|im_start|>user\nYou will be given a question (problem specification) and a submitted solution. ... "
    "Conclude with \\conclusion{T} for correct, \\conclusion{F} for wrong.<|im_end|>\n<|im_start|>assistant\n"
)
N_TESTS = 30
TESTS = {
    "type": "stdio",
    "fn_name": None,
    "class_name": None,
    "program": None,
    "cases": [{"input": f"{i}\n", "output": f"{i * 3}\n"} for i in range(N_TESTS)],
}
RL_LABEL = json.dumps({"kind": "rl", "tests": TESTS})
# A critique of realistic length: ~6 KB of thinking, a short answer.
THINKING = "Let me trace the code on the examples. " * 160


def crl_sample(rng: random.Random) -> tuple[str, str, str, float]:
    truth, said = rng.choice("TF"), rng.choice("TF")
    query = PROMPT + f"<think>\n{THINKING}\n</think>\n\nThe loop bound is right.\n\n\\conclusion{{{said}}}<|im_end|>"
    return query, PROMPT, json.dumps({"kind": "crl", "label": truth}), float(truth == said)


def rl_sample(rng: random.Random) -> tuple[str, str, str, float]:
    k = rng.randint(0, N_TESTS)
    code = f"n = int(input())\nprint(n * 3 if n < {k} else -1)\n"
    query = PROMPT + f"<think>\n{THINKING[:2000]}\n</think>\n\n```python\n{code}```<|im_end|>"
    return query, PROMPT, RL_LABEL, k / N_TESTS


def bench_crl(n: int) -> None:
    rng = random.Random(0)
    samples = [crl_sample(rng) for _ in range(min(n, 1000))]
    t = time.perf_counter()
    for i in range(n):
        q, p, lab, want = samples[i % len(samples)]
        assert score(q, p, lab).reward == want
    dt = time.perf_counter() - t
    print(
        f"CRL rewards (score(), one thread, {len(samples[0][0])} chars/query): {n / dt:,.0f} rewards/s "
        f"(target >= 5,000/s)"
    )


def bench_rl(n: int, workers: int) -> None:
    rng = random.Random(1)
    samples = [rl_sample(rng) for _ in range(n)]
    svc = RewardService(workers=workers)
    try:
        svc.pool()
        svc.score_batch([samples[0][0]], [PROMPT], [RL_LABEL])  # warm-up: isolation probe, first fork
        t = time.perf_counter()
        out = svc.score_batch([s[0] for s in samples], [s[1] for s in samples], [s[2] for s in samples])
        dt = time.perf_counter() - t
    finally:
        svc.close()
    bad = sum(abs(r.reward - s[3]) > 1e-9 for r, s in zip(out, samples))
    print(
        f"RL rewards ({N_TESTS} trivial tests each, {workers} sandbox workers): {n / dt:,.2f} rewards/s = "
        f"{n * N_TESTS / dt:,.0f} tests/s ({bad} wrong)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    crl = str(Path(sys.executable).with_name("crl"))
    proc = subprocess.Popen(
        [crl, "reward", "serve", "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(base + "/health", timeout=2):
                return proc, base + "/get_reward"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("reward server did not start")


def post(url: str, sample) -> tuple[float, float, int, float]:
    body = json.dumps({"query": [sample[0]], "prompts": [sample[1]], "labels": [sample[2]]}).encode()
    t = time.perf_counter()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=180) as resp:
            body = json.loads(resp.read())
            reward, status, failed = body["rewards"][0], resp.status, body["extra_logs"]["reward_failed"][0]
    except urllib.error.HTTPError as exc:
        reward, status, failed = -1.0, exc.code, 1.0
    except OSError:  # client-side timeout (OpenRLHF's is 180 s too) or a refused connection
        reward, status, failed = -1.0, 0, 1.0
    return time.perf_counter() - t, reward, status, failed


def through_server(samples, workers: int, clients: int, title: str) -> None:
    proc, url = start_server(workers)
    try:
        post(url, samples[0])  # warm-up
        t = time.perf_counter()
        with ThreadPoolExecutor(clients) as ex:
            results = list(ex.map(lambda s: post(url, s), samples))
        wall = time.perf_counter() - t
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    lat = sorted(r[0] for r in results)
    failed = sum(r[2] != 200 for r in results)
    zeroed = sum(r[2] == 200 and r[3] > 0 for r in results)  # deadline or sandbox failure: reward forced to 0
    wrong = sum(abs(r[1] - s[3]) > 1e-9 for r, s in zip(results, samples) if r[2] == 200 and not r[3])
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(
        f"{title}: {len(samples)} samples in {wall:.1f} s ({len(samples) / wall:,.1f} samples/s); request latency "
        f"p50 {statistics.median(lat):.2f} s, p99 {p99:.2f} s; requests failed {failed}, rewards zeroed by the "
        f"deadline/sandbox {zeroed}, wrong {wrong}; "
        f"server exit code {proc.returncode}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crl", type=int, default=20000, help="CRL samples scored in one thread")
    ap.add_argument("--rl", type=int, default=60, help="RL samples (30 tests each) through the sandbox pool")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="sandbox workers")
    ap.add_argument("--prompts", type=int, default=16, help="GRPO batch prompts (x8 samples, 80%% RL); paper: 128")
    ap.add_argument("--load-rl", type=int, default=0, help="also run the load test: N RL + N/2 CRL, 64 clients")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs (figures on a shared machine are noisy)")
    if args.crl:
        bench_crl(args.crl)
    if args.rl:
        bench_rl(args.rl, args.workers)
    if args.prompts:
        rng = random.Random(2)
        n = args.prompts * 8
        n_rl = round(n * 0.8)
        batch = [rl_sample(rng) for _ in range(n_rl)] + [crl_sample(rng) for _ in range(n - n_rl)]
        rng.shuffle(batch)
        # OpenRLHF posts each rollout's reward as soon as it is generated: all samples in flight at once.
        through_server(batch, args.workers, clients=n, title=f"GRPO batch {args.prompts}x8 (80/20) via HTTP")
    if args.load_rl:
        rng = random.Random(3)
        load = [rl_sample(rng) for _ in range(args.load_rl)] + [crl_sample(rng) for _ in range(args.load_rl // 2)]
        rng.shuffle(load)
        through_server(
            load, args.workers, clients=64, title=f"load test {args.load_rl} RL + {args.load_rl // 2} CRL, 64 clients"
        )


if __name__ == "__main__":
    main()
