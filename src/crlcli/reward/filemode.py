"""`reward_func` for OpenRLHF's `--reward.remote_url /abs/path/openrlhf_reward.py` (settings from env vars).

OpenRLHF loads the file inside every vLLM rollout actor and calls `reward_func` once per sample, each call in
its own thread (`asyncio.to_thread`). One `RewardService` per process bounds the sandbox work to
`CRL_REWARD_WORKERS` programs at a time however many threads call in.

Environment variables (read once, at the first call):
  CRL_REWARD_CRL_SCALE         multiplier of the CRL reward (default 1.0; the paper's first phase: 0.5)
  CRL_REWARD_WORKERS           sandbox processes per rollout actor (default: number of CPUs)
  CRL_REWARD_TIMEOUT           seconds one call may take before its RL sample gets 0 (default 120)
  CRL_REWARD_TEST_TIMEOUT      seconds per test case (default: the sandbox's, 6)
  CRL_REWARD_MEMORY_MB         memory limit per test run (default: the sandbox's, 1024)
  CRL_REWARD_ISOLATION         sandbox mode: auto | bwrap | limits (default auto)
  CRL_REWARD_REQUIRE_ISOLATION 1 to refuse to run candidates without namespace isolation
  CRL_REWARD_COMPARE           output comparator for RL tests that name none in tests.compare: tokens (default)
                               or lcb (LiveCodeBench's grader; for LiveCodeBench-style data)
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from ..sandbox.limits import SANDBOX_MODES
from .service import DEFAULT_DEADLINE, RewardService, to_openrlhf, zeros

_service: RewardService | None = None
_lock = threading.Lock()


def _env_float(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def service_from_env() -> RewardService:
    workers = os.environ.get("CRL_REWARD_WORKERS", "").strip()
    memory = os.environ.get("CRL_REWARD_MEMORY_MB", "").strip()
    return RewardService(
        crl_scale=_env_float("CRL_REWARD_CRL_SCALE", 1.0) or 0.0,
        workers=int(workers) if workers else None,
        deadline=_env_float("CRL_REWARD_TIMEOUT", DEFAULT_DEADLINE) or DEFAULT_DEADLINE,
        test_timeout=_env_float("CRL_REWARD_TEST_TIMEOUT", None),
        memory_mb=int(memory) if memory else None,
        mode=os.environ.get("CRL_REWARD_ISOLATION", "auto").strip() or "auto",
        require_isolation=os.environ.get("CRL_REWARD_REQUIRE_ISOLATION", "") not in ("", "0"),
        compare=os.environ.get("CRL_REWARD_COMPARE", "").strip() or None,
    )


def check_env() -> None:
    """Refuse, when the reward file is loaded (before any rollout), settings that would silently zero rewards:
    a misspelt sandbox mode would score every RL sample 0."""
    mode = os.environ.get("CRL_REWARD_ISOLATION", "auto").strip() or "auto"
    if mode not in SANDBOX_MODES:
        raise ValueError(f"CRL_REWARD_ISOLATION={mode!r}: use auto, bwrap or limits")
    from ..sandbox.compare import COMPARATORS

    compare = os.environ.get("CRL_REWARD_COMPARE", "").strip()
    if compare and compare not in COMPARATORS:
        raise ValueError(f"CRL_REWARD_COMPARE={compare!r}: use {' or '.join(COMPARATORS)}")
    for name in (
        "CRL_REWARD_CRL_SCALE",
        "CRL_REWARD_TIMEOUT",
        "CRL_REWARD_TEST_TIMEOUT",
        "CRL_REWARD_WORKERS",
        "CRL_REWARD_MEMORY_MB",
    ):
        raw = os.environ.get(name, "").strip()
        try:
            if raw:
                float(raw)
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not a number") from None


check_env()


def service() -> RewardService:
    """The process's one RewardService, made from the environment at first use."""
    global _service
    if _service is None:
        with _lock:
            if _service is None:
                _service = service_from_env()
                atexit.register(_service.close)
    return _service


def reset() -> None:
    """Close the service; the next reward reads the environment again (a caller that changed it, e.g. tests)."""
    global _service
    with _lock:
        if _service is not None:
            _service.close()
        _service = None


def reward_func(queries: list[str], prompts: list[str], labels: list[Any]) -> dict[str, Any]:
    """OpenRLHF's reward-file entry point. Never raises: a failure gives reward 0 with `reward_failed` = 1."""
    try:
        n = len(queries)
        if prompts is not None and len(prompts) != n or len(labels) != n:
            return zeros(n, "queries, prompts and labels differ in length")
        return to_openrlhf(service().score_batch(queries, prompts, labels))
    except Exception as exc:  # noqa: BLE001 - an exception here would only be logged at INFO by OpenRLHF
        try:
            return zeros(len(queries), f"internal error: {type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - queries is not even a sequence
            return zeros(1, "internal error")


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, **_: Any):
    """verl's custom reward function interface (rows from `crl mix --format verl`): `solution_str` is the decoded
    response alone and `ground_truth` our label string. Returns {"score": reward, **numeric logs}."""
    try:
        r = service().score_batch([solution_str], [""], [ground_truth])[0]
        return {"score": r.reward, **r.extra_logs()}
    except Exception as exc:  # noqa: BLE001
        logs = {k: v[0] for k, v in zeros(1, f"internal error: {exc}")["extra_logs"].items()}
        return {"score": 0.0, **logs}
