"""Batches of rewards with the sandbox work bounded by one shared pool (used by the reward file and the server).

OpenRLHF calls the reward file once per sample from many threads at once, and the HTTP server handles many
requests at once: in both, the sandbox runs go through one `SandboxPool` of `workers` processes, so the number of
programs running at the same time never exceeds `workers`, whatever the number of callers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, wait
from typing import Any

import orjson

from ..log import logger
from .core import EXTRA_LOG_KEYS, Reward, RlJob, finish, prepare

DEFAULT_DEADLINE = 120.0  # seconds per request; OpenRLHF's client gives up after 180 s


class _LogLimiter:
    """Warn about failed samples without flooding a training log: the first 20, then one in 100."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def warn(self, message: str) -> None:
        with self._lock:
            self.count += 1
            n = self.count
        if n <= 20 or n % 100 == 0:
            logger.warning(f"reward 0: {message} (failure #{n})")


class _InProcessCounter:
    """RL rewards computed from in-process tests (the harness ran inside the candidate's process, so a hostile
    candidate can fake its pass): a warning at the first, then the running count at most once a minute."""

    def __init__(self, every: float = 60.0) -> None:
        self.rl = 0  # RL rewards computed from a sandbox result
        self.in_process = 0
        self.every = every
        self._last: float | None = None
        self._lock = threading.Lock()

    def add(self, rl: int, in_process: int) -> None:
        with self._lock:
            self.rl += rl
            self.in_process += in_process
            now = time.monotonic()
            first = self._last is None
            due = in_process > 0 and (self._last is None or now - self._last >= self.every)  # (None: first)
            if due:
                self._last = now
            n, total = self.in_process, self.rl
        if not due:
            return
        if first:
            logger.warning(
                "RL reward computed from in-process tests (assert/unittest harness run inside the candidate's "
                "process: a hostile candidate can fake a pass); `crl mix` keeps such rows out unless "
                "--allow-in-process-tests. Counted in /health and in the tests_in_process log"
            )
        else:
            logger.warning(f"in-process tests so far: {n} of {total} RL rewards")

    def summary(self) -> str | None:
        with self._lock:
            n, total = self.in_process, self.rl
        if not total:
            return None
        return (
            f"{n} of {total} RL rewards came from in-process tests" if n else f"{total} RL rewards, all parent-compared"
        )


class RewardService:
    def __init__(
        self,
        *,
        crl_scale: float = 1.0,
        workers: int | None = None,
        deadline: float = DEFAULT_DEADLINE,
        test_timeout: float | None = None,
        memory_mb: int | None = None,
        mode: str = "auto",
        require_isolation: bool = False,
        python: str | None = None,
        compare: str | None = None,
    ):
        from ..errors import CrlError
        from ..sandbox.compare import COMPARATORS

        self.crl_scale = float(crl_scale)
        # The comparator for RL labels whose tests do not name one (None: the sandbox's default, tokens).
        if compare is not None and compare not in COMPARATORS:
            raise CrlError(f"unknown reward comparator {compare!r}", hint=f"use one of: {', '.join(COMPARATORS)}")
        self.compare = compare
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.deadline = float(deadline)
        self.test_timeout = test_timeout
        self.memory_mb = memory_mb
        self.mode = mode
        self.require_isolation = require_isolation
        self.python = python
        self._pool = None
        self._lock = threading.Lock()
        self.failures = _LogLimiter()
        self.trust = _InProcessCounter()
        self._summary: str | None = None

    def pool(self):
        """The shared sandbox pool, created on first use (a CRL-only run never starts one)."""
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    from ..sandbox import Limits, SandboxPool

                    limits_kw: dict[str, Any] = {}
                    if self.test_timeout is not None:
                        limits_kw["timeout"] = self.test_timeout
                    if self.memory_mb is not None:
                        limits_kw["memory_mb"] = self.memory_mb
                    self._pool = SandboxPool(
                        workers=self.workers,
                        limits=Limits(**limits_kw),
                        mode=self.mode,
                        require_isolation=self.require_isolation,
                        python=self.python,
                    )
        return self._pool

    def score_batch(
        self,
        queries: Sequence[Any],
        prompts: Sequence[Any] | None,
        labels: Sequence[Any],
        deadline: float | None = None,
    ) -> list[Reward]:
        """One Reward per query, in order, within `deadline` seconds; never raises."""
        started = time.monotonic()
        limit = self.deadline if deadline is None else deadline
        prompts = prompts if prompts is not None else [None] * len(queries)
        out: list[Reward | None] = []
        pending: list[tuple[int, RlJob, Future | None]] = []
        for i, (query, prompt, label) in enumerate(zip(queries, prompts, labels)):
            item = prepare(query, prompt, label, crl_scale=self.crl_scale, compare=self.compare)
            out.append(item if isinstance(item, Reward) else None)
            if isinstance(item, RlJob):
                pending.append((i, item, None))
        if pending:
            try:
                pool = self.pool()
            except Exception as exc:  # noqa: BLE001 - no sandbox: every RL sample gets 0, logged
                for i, job, _ in pending:
                    out[i] = finish(job, error=f"sandbox unavailable: {type(exc).__name__}: {exc}")
                pending = []
            submitted = []
            # The pool stops working on a candidate shortly after our own deadline, so an abandoned sample
            # does not keep a worker busy (we log the deadline ourselves, hence the small margin).
            pool_deadline = started + limit + 0.25
            for i, job, _ in pending:
                try:
                    submitted.append((i, job, pool.submit(job.code, job.tests, deadline=pool_deadline)))
                except Exception as exc:  # noqa: BLE001 - bad tests (CrlError): this sample only
                    out[i] = finish(job, error=f"sandbox: {type(exc).__name__}: {exc}")
            pending = submitted
            futures = [f for _, _, f in pending if f is not None]
            if futures:
                wait(futures, timeout=max(0.0, limit - (time.monotonic() - started)))
            for i, job, fut in pending:
                assert fut is not None
                if not fut.done():
                    fut.cancel()
                    out[i] = finish(job, error=f"deadline: not finished within {limit:g} s")
                    continue
                try:
                    out[i] = finish(job, fut.result())
                except Exception as exc:  # noqa: BLE001 - bad tests or a pool failure
                    out[i] = finish(job, error=f"sandbox: {type(exc).__name__}: {exc}")
        rewards = [r for r in out if r is not None]
        computed = [r for r in rewards if "trust" in r.logs]  # RL rewards that came from a sandbox result
        if computed:
            self.trust.add(len(computed), sum(1 for r in computed if r.logs["tests_in_process"]))
        debug = logger.isEnabledFor(logging.DEBUG)
        for r in rewards:
            if r.logs.get("error"):
                self.failures.warn(f"{r.logs.get('kind')} sample: {r.logs['error']}")
            if debug:  # `crl -v reward serve`: one line per sample (kind, match/pass rate, verdicts, time, found)
                logger.debug("sample reward=%s %s", r.reward, orjson.dumps(r.logs, default=str).decode())
        return rewards

    def stats(self) -> dict[str, int]:
        """Running counts, for /health and the logs."""
        return {
            "rl_rewards": self.trust.rl,
            "in_process_rewards": self.trust.in_process,
            "failed_rewards": self.failures.count,
        }

    def close(self, kill: bool = False) -> None:
        """Stop the sandbox pool; kill: at once, killing running sandboxes (a second signal)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(kill=kill)
        summary = self.trust.summary()
        if summary and summary != self._summary:  # closed twice (atexit after an explicit close): say it once
            self._summary = summary
            (logger.warning if self.trust.in_process else logger.info)(summary)


def to_openrlhf(rewards: Sequence[Reward]) -> dict[str, Any]:
    """The dict OpenRLHF 0.11.2 reads from a reward file or an HTTP reward server (plain lists, JSON-ready)."""
    return {
        "rewards": [r.reward for r in rewards],
        "scores": [r.score for r in rewards],
        "extra_logs": {k: [r.extra_logs()[k] for r in rewards] for k in EXTRA_LOG_KEYS},
    }


def zeros(n: int, reason: str) -> dict[str, Any]:
    failed = Reward(0.0, 0.0, {"error": reason, "reward_failed": 1})
    return to_openrlhf([failed] * n)
