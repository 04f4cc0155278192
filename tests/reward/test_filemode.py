"""The reward file as OpenRLHF uses it: loaded by path, called once per sample from many threads."""

from __future__ import annotations

import importlib.util
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

import crlcli.reward.filemode as filemode
from crlcli.reward import EXTRA_LOG_KEYS, reward_file

PROMPT = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
TESTS = {
    "type": "stdio",
    "fn_name": None,
    "class_name": None,
    "program": None,
    "cases": [{"input": f"{i}\n", "output": f"{i + 1}\n"} for i in range(5)],
}


@pytest.fixture
def fresh_service():
    filemode.reset()
    yield
    filemode.reset()


def load_by_path():
    # exactly OpenRLHF 0.11.2's loader (openrlhf/utils/agent.py)
    spec = importlib.util.spec_from_file_location("reward_func", str(reward_file()))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def test_crl_path_command_prints_the_file(crl):
    res = crl("reward", "path")
    assert res.returncode == 0
    path = res.stdout.decode().strip()
    assert path == str(reward_file()) and path.startswith("/") and path.endswith(".py")


def test_env_settings_and_shape(monkeypatch, fresh_service):
    monkeypatch.setenv("CRL_REWARD_CRL_SCALE", "0.25")
    monkeypatch.setenv("CRL_REWARD_WORKERS", "3")
    monkeypatch.setenv("CRL_REWARD_TIMEOUT", "42")
    func = load_by_path()
    out = func([PROMPT + "<think>a</think>\\conclusion{F}"], [PROMPT], [json.dumps({"kind": "crl", "label": "F"})])
    assert out["rewards"] == [0.25] and out["scores"] == [1.0]
    assert set(out["extra_logs"]) == set(EXTRA_LOG_KEYS) and all(len(v) == 1 for v in out["extra_logs"].values())
    svc = filemode.service()
    assert (svc.crl_scale, svc.workers, svc.deadline) == (0.25, 3, 42.0)


def test_never_raises(fresh_service):
    func = load_by_path()
    assert func(["a", "b"], ["x"], ["y"])["rewards"] == [0.0, 0.0]  # length mismatch
    assert func([None], [None], [None])["rewards"] == [0.0]
    assert func(None, None, None)["rewards"] == [0.0]


def test_many_threads_share_one_bounded_pool(monkeypatch, fresh_service):
    monkeypatch.setenv("CRL_REWARD_WORKERS", "2")
    func = load_by_path()
    pools = []
    real_pool = filemode.RewardService.pool

    def counting_pool(self):
        p = real_pool(self)
        if p not in pools:
            pools.append(p)
        return p

    monkeypatch.setattr(filemode.RewardService, "pool", counting_pool)
    good = "```python\nprint(int(input()) + 1)\n```"
    half = "```python\nn = int(input())\nprint(n + 1 if n < 2 else n)\n```"
    jobs = []
    for i in range(48):
        if i % 3 == 0:
            jobs.append(
                (
                    f"<think>x</think>\\conclusion{{{'T' if i % 2 else 'F'}}}",
                    {"kind": "crl", "label": "T"},
                    1.0 if i % 2 else 0.0,
                )
            )
        else:
            jobs.append(
                (f"<think>x</think>{good if i % 2 else half}", {"kind": "rl", "tests": TESTS}, 1.0 if i % 2 else 0.4)
            )

    def one(job):
        resp, label, _ = job
        return func([PROMPT + resp + "<|im_end|>"], [PROMPT], [json.dumps(label)])

    with ThreadPoolExecutor(16) as ex:
        results = list(ex.map(one, jobs))
    for (_, _, want), got in zip(jobs, results):
        assert got["rewards"] == [pytest.approx(want)], got
    assert len(pools) == 1  # one process-wide pool of 2 workers, whatever the number of calling threads


def test_verl_compute_score(fresh_service):
    spec = importlib.util.spec_from_file_location("verl_reward", str(reward_file()))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    label = json.dumps({"kind": "crl", "label": "F"})
    out = module.compute_score("crl/crl", "<think>a</think>\\conclusion{F}<|im_end|>", label, {"index": 0})
    assert out["score"] == 1.0 and out["crl_match"] == 1.0
    assert module.compute_score("crl/crl", "no verdict", label)["score"] == 0.0
    bad = module.compute_score("crl/x", "x", "{broken")
    assert bad["score"] == 0.0 and bad["reward_failed"] == 1.0


def test_a_misspelt_sandbox_mode_stops_the_reward_file_from_loading():
    """A typo would otherwise score every RL sample 0 for a whole run: the file refuses to load instead."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, CRL_REWARD_ISOLATION="bwarp")
    proc = subprocess.run(
        [sys.executable, "-c", "import crlcli.reward.filemode"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "CRL_REWARD_ISOLATION='bwarp'" in proc.stderr
    env["CRL_REWARD_ISOLATION"] = "limits"
    ok = subprocess.run(
        [sys.executable, "-c", "import crlcli.reward.filemode"], env=env, capture_output=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
