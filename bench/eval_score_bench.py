"""Scoring throughput of `crl eval`: HumanEval+ canonical solutions on all their base + plus inputs.

Prints samples/s and test inputs/s (ground-truth computation, cached after the first run, is timed apart).

    .venv/bin/python bench/eval_score_bench.py [--limit 40] [--workers 2] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=40, help="first K HumanEval+ tasks (164 = all)")
    ap.add_argument("--workers", type=int, default=None, help="sandbox workers (default: CPU count)")
    args = ap.parse_args()

    from crlcli.evaluation import get_benchmark
    from crlcli.evaluation.scoring import score_many

    bench = get_benchmark("humaneval+", data=args.data, limit=args.limit)
    t0 = time.monotonic()
    tasks = {t.task_id: t for t in bench.tasks()}
    bench.prepare(list(tasks.values()))
    t1 = time.monotonic()
    samples = [
        {"task_id": tid, "solution": t.data["record"]["prompt"] + t.data["record"]["canonical_solution"]}
        for tid, t in tasks.items()
    ]
    inputs = sum(len(t.data["inputs"]["base"]) + len(t.data["inputs"]["plus"]) for t in tasks.values())
    workers = args.workers or os.cpu_count() or 1
    with bench.open_pool(workers) as pool:
        t2 = time.monotonic()
        score_many(bench, tasks, samples, pool, 2 * workers, lambda s: None)
        t3 = time.monotonic()
    passed = sum(s["metrics"]["plus"] for s in samples)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} (shared with other work: figures are noisy)")
    print(f"HumanEval+ canonical: {len(samples)} samples, {inputs} test inputs, {passed}/{len(samples)} pass plus")
    print(f"load + ground truth: {t1 - t0:.1f}s")
    print(
        f"scoring: {t3 - t2:.1f}s  ->  {len(samples) / (t3 - t2):.2f} samples/s, {inputs / (t3 - t2):,.0f} inputs/s "
        f"({workers} workers)"
    )


if __name__ == "__main__":
    main()
