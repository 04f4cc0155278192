"""Reward at scale: a server reports its capacity (tests/s) at /health, and two servers on loopback share the
load that OpenRLHF's own client round-robins over `reward.urls` (docs/cluster.md)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from crlcli.reward.capacity import ServedRate, calibrate
from crlcli.sandbox import Limits, SandboxPool


def test_calibration_measures_the_pool():
    with SandboxPool(workers=1, limits=Limits()) as pool:
        rate = calibrate(pool, seconds=0.5)
    assert 20 < rate < 100_000  # tests/s of a trivial program on one worker: real runs, not a constant


def test_served_rate_counts_busy_time_only():
    served = ServedRate()
    assert served.rate() == 0.0
    served.start()
    time.sleep(0.2)
    served.stop(10)
    time.sleep(0.3)  # idle time does not dilute the rate
    assert 30 < served.rate() <= 50 and served.tests == 10
    served.start()
    served.start()  # overlapping batches count their wall time once
    time.sleep(0.2)
    served.stop(5)
    served.stop(5)
    assert 40 < served.rate() <= 50 and served.tests == 20


def health(base: str) -> dict:
    with urllib.request.urlopen(base + "/health", timeout=10) as resp:
        return json.loads(resp.read())


def test_two_servers_report_capacity_and_share_openrlhfs_load(srv):
    agent = pytest.importorskip("openrlhf.utils.agent", reason="openrlhf==0.11.2 not installed (make test does it)")
    pytest.importorskip("transformers", reason="transformers (extra 'tok') not installed")
    from crlcli.mixing import mix
    from crlcli.tokens import load_tokenizer
    from tests.reward.test_openrlhf import judged_problems, rollout

    tokenizer = load_tokenizer("qwen3")
    rows = mix(judged_problems(), crl_ratio=0.0, seed=0)
    good = "<think>\nSum.\n</think>\n\n```python\ndef add(a, b):\n    return a + b\n```"
    with srv.reward_server("--workers", "1") as (a, _), srv.reward_server("--workers", "1") as (b, _):
        for base in (a, b):
            cap = health(base)["capacity"]
            assert cap["workers"] == 1 and cap["calibrated_tests_per_s"] > 20 and cap["served_tests"] == 0
        # OpenRLHF's remote reward client, given both URLs (what reward.urls becomes), round-robins over them.
        executor = agent.SingleTurnAgentExecutor([a + "/get_reward", b + "/get_reward"])
        for row in rows:
            out, _ = rollout(executor, tokenizer, row, good)
            assert out["reward"] == [1.0]
        served = [health(base)["capacity"] for base in (a, b)]
    assert all(c["served_tests"] > 0 and c["served_tests_per_s"] > 0 for c in served), served
    assert sum(c["served_tests"] for c in served) == 2 * len(rows)  # 2 cases per problem, each scored once
