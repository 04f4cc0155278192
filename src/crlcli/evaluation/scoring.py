"""Scoring samples (in parallel through the sandbox) and turning scored samples into summary.json."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ..errors import CrlError
from .base import IN_PROCESS, PARENT, TRUST_LEVELS, Benchmark, Task, weakest_trust
from .passk import ks_for, summarize_counts


def score_one(bench: Benchmark, task: Task, sample: dict[str, Any], pool: Any) -> dict[str, Any]:
    """Score one sample in place: a `solution` field is code used as is; else the completion is parsed."""
    turns = sample.get("turns") or []
    if sample.get("solution") is not None:
        score = bench.score_code(task, sample["solution"], pool)
    elif len(turns) > 1 and bench.multi_turn:  # a multi-turn sample (Aider's try 2): rescore every turn
        scores = [bench.score(task, t.get("completion") or "", pool) for t in turns]
        for t, sc in zip(turns, scores):
            t["verdict"] = sc.verdicts.get("try", "S")
        score = bench.merge(scores)
        score.trust = weakest_trust(score.trust, *(sc.trust for sc in scores))
    else:
        score = bench.score(task, sample.get("completion") or "", pool)
    missing = [m for m in bench.metrics if m not in score.metrics]
    if missing:
        raise CrlError(f"benchmark {bench.name} returned no {missing} for {task.task_id} (a bug)")
    sample.update(
        extracted=score.extracted,
        metrics={m: bool(score.metrics[m]) for m in bench.metrics},
        passed=bool(score.metrics[bench.metrics[0]]),
        verdicts=score.verdicts,
        detail=score.detail,
        group=task.group,
        trust=score.trust,
    )
    return mark_env_error(sample)


def sample_trust(bench: Benchmark, sample: dict[str, Any]) -> str:
    """How a scored sample's verdict was obtained: its own `trust` field, else the benchmark's default (samples
    scored before the field existed)."""
    value = sample.get("trust")
    return value if value in TRUST_LEVELS else bench.trust


def mark_trust(bench: Benchmark, sample: dict[str, Any]) -> dict[str, Any]:
    """Give a sample scored outside `score_one` (a benchmark's own `run_samples`) its `trust`."""
    sample["trust"] = sample_trust(bench, sample)
    return sample


def mark_env_error(sample: dict[str, Any]) -> dict[str, Any]:
    """Lift a benchmark's `verdicts["env_error"]` (a library or toolchain missing) onto the sample, so that the
    summary can leave it out of pass@k; a rescore that no longer hits the problem clears the mark."""
    reason = (sample.get("verdicts") or {}).get("env_error") if isinstance(sample.get("verdicts"), dict) else None
    if reason:
        sample["env_error"] = str(reason)
    else:
        sample.pop("env_error", None)
    return sample


def score_many(
    bench: Benchmark,
    tasks: dict[str, Task],
    samples: Iterable[dict[str, Any]],
    pool: Any,
    threads: int,
    on_done: Callable[[dict[str, Any]], None],
) -> None:
    """Score samples on `threads` threads (each blocks on the sandbox), calling on_done in completion order."""
    samples = list(samples)
    for s in samples:
        if s["task_id"] not in tasks:
            raise CrlError(
                f"sample for unknown task {s['task_id']!r} (not in benchmark {bench.name})",
                hint="check --benchmark and --data, or the task ids of the samples file",
            )
    needed = {s["task_id"] for s in samples}
    bench.prepare([t for tid, t in tasks.items() if tid in needed])
    if threads <= 1 or len(samples) <= 1:
        for s in samples:
            on_done(score_one(bench, tasks[s["task_id"]], s, pool))
        return
    with ThreadPoolExecutor(max_workers=threads) as ex:
        futures = [ex.submit(score_one, bench, tasks[s["task_id"]], s, pool) for s in samples]
        for fut in futures:
            on_done(fut.result())


def summarize(
    bench: Benchmark, samples: list[dict[str, Any]], run: dict[str, Any], timing: dict[str, float]
) -> dict[str, Any]:
    """summary.json: pass@1 averaged over each task's samples, unbiased pass@k for k <= n, breakdowns, counts."""
    per_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    env_errors: list[dict[str, Any]] = []
    for s in samples:
        if "metrics" not in s:
            raise CrlError(
                f"sample {s['task_id']}#{s.get('sample')} is not scored", hint="run `crl eval score RUN_DIR`"
            )
        # An environment error says nothing about the model: it is neither a pass nor a failure, so it is left
        # out of pass@k and the breakdowns and only counted (a task whose every sample hit one drops out).
        if mark_env_error(s).get("env_error"):
            env_errors.append(s)
        else:
            per_task[s["task_id"]].append(s)
    scored = [s for ss in per_task.values() for s in ss]
    n_min = min((len(v) for v in per_task.values()), default=0)
    n_max = max((len(v) for v in per_task.values()), default=0)
    ks = ks_for(n_min) if n_min else [1]

    def counts(task_ids: Iterable[str], metric: str) -> list[tuple[int, int]]:
        return [(len(per_task[t]), sum(s["metrics"][metric] for s in per_task[t])) for t in task_ids]

    metrics = {m: summarize_counts(counts(per_task, m), ks) for m in bench.metrics}
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for tid, ss in per_task.items():
        for key in bench.group_keys:
            groups[key][str(ss[0].get("group", {}).get(key, "unknown"))].append(tid)
    breakdown: dict[str, dict[str, dict[str, Any]]] = {}
    group_scores: dict[str, dict[str, dict[str, float | None]]] = {}
    for key, values in groups.items():
        breakdown[key], group_scores[key] = {}, {}
        for value, tids in sorted(values.items()):
            scores = {m: summarize_counts(counts(tids, m), [1])["pass@1"] for m in bench.metrics}
            breakdown[key][value] = {"tasks": len(tids), **scores}
            group_scores[key][value] = scores
    primary = bench.metrics[0]
    pass1 = {m: metrics[m].get("pass@1") for m in bench.metrics}
    return {
        **run,
        "benchmark": bench.name,
        "n": max([n_max, *Counter(s["task_id"] for s in env_errors).values()]),
        "pass@1": metrics[primary].get("pass@1"),
        "pass@k": metrics[primary],
        "metrics": metrics,
        "headline": bench.headline(pass1, group_scores),
        "breakdown": breakdown,
        "counts": {
            "tasks": len(per_task),
            "samples": len(samples),
            "scored_samples": len(scored),
            "samples_per_task": [n_min, n_max],
            "passed": {m: sum(s["metrics"][m] for s in scored) for m in bench.metrics},
            "no_extraction": sum(1 for s in scored if s.get("extracted") is None),
            "truncated": sum(1 for s in samples if s.get("finish_reason") == "length"),
            "env_errors": len(env_errors),
        },
        "env_errors": _env_error_report(env_errors, per_task),
        "trust": trust_report(bench, scored),
        "time": {k: round(v, 3) for k, v in timing.items()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _env_error_report(env_errors: list[dict[str, Any]], per_task: dict[str, list]) -> dict[str, Any]:
    """How many samples hit an environment error, on which tasks (those left out entirely are listed apart),
    and the distinct reasons with their counts: what to install to score the rest."""
    tasks = sorted({s["task_id"] for s in env_errors})
    reasons: dict[str, int] = defaultdict(int)
    for s in env_errors:
        reasons[s["env_error"]] += 1
    return {
        "samples": len(env_errors),
        "task_ids": tasks,
        "tasks_left_out": [t for t in tasks if t not in per_task],
        "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }


def trust_report(bench: Benchmark, scored: list[dict[str, Any]]) -> dict[str, Any]:
    """How the run's scored samples (those in pass@k) were obtained: counts per trust level and the run's
    overall `scored`: "parent" (every verdict decided by the trusted parent), "in-process" (every one by a test
    harness inside the candidate's process) or "mixed". Reports mark in-process and mixed runs."""
    counts = Counter(sample_trust(bench, s) for s in scored)
    n_in = counts.get(IN_PROCESS, 0)
    scored_as = PARENT if not n_in else IN_PROCESS if n_in == len(scored) else "mixed"
    return {"scored": scored_as, "samples": {PARENT: counts.get(PARENT, 0), IN_PROCESS: n_in}}


class Stopwatch:
    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.totals[name] += time.monotonic() - start
