"""BigCodeBench canonical-solution pass rate through our sandbox, and the time it takes.

Every task whose libraries the task interpreter has is run with its canonical solution (complete_prompt +
canonical_solution, as the official ground-truth check does); tasks with missing libraries are counted apart.
Target: >= 98% of the runnable tasks pass; the rest are listed with their verdicts.

    python bench/bcb_canonical_bench.py                       # first 60 tasks, .venv-bcb when built
    python bench/bcb_canonical_bench.py --limit 0 --workers 2 # all 1,140
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from crlcli.evaluation.bigcodebench import BigCodeBench, default_data, is_env_error  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=default_data(), help="BigCodeBench jsonl (or its folder)")
    ap.add_argument("--subset-file", default=None, help="only these task ids (e.g. the hard subset)")
    ap.add_argument("--limit", type=int, default=60, help="first N tasks (0 = all)")
    bcb_env = Path(__file__).resolve().parents[1] / ".venv-bcb" / "bin" / "python"
    ap.add_argument(
        "--task-python",
        default=str(bcb_env) if bcb_env.exists() else None,
        help="interpreter of the task environment (default: .venv-bcb from `make bcb-env` when built, "
        "else this one, whose current library releases fail some old-API tasks)",
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=None, help="per-task limit (default: the official 240 s)")
    args = ap.parse_args()

    bench = BigCodeBench(
        data=args.data,
        subset_file=args.subset_file,
        task_python=args.task_python,
        task_timeout=args.timeout,
        workers=args.workers,
        calibrated=False,
    )
    rows = bench.rows[: args.limit] if args.limit else bench.rows
    start = time.monotonic()
    runnable, env = [], {}
    for row in rows:
        missing = bench.missing_libraries(row)
        (env.__setitem__(row["task_id"], missing) if missing else runnable.append(row))

    def one(row):
        t = time.monotonic()
        score = bench.check(row, row["complete_prompt"] + "\n" + row["canonical_solution"])
        return row["task_id"], score, time.monotonic() - t

    results = []
    with ThreadPoolExecutor(args.workers) as ex:
        for i, res in enumerate(ex.map(one, runnable), 1):
            results.append(res)
            if i % 50 == 0:
                print(f"  {i}/{len(runnable)} done, {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    bench.close()
    wall = time.monotonic() - start
    for task_id, score, _ in results:  # environment errors found at check time (e.g. NLTK data)
        if is_env_error(score):
            env[task_id] = [score.verdicts["env_error"]]
    results = [r for r in results if not is_env_error(r[1])]
    runnable = [r for r in runnable if r["task_id"] not in env]
    passed = [r for r in results if r[1].metrics.get("pass")]
    failed = [r for r in results if not r[1].metrics.get("pass")]
    print(f"BigCodeBench canonical solutions ({bench.path.name}, interpreter {bench.python})")
    print(f"tasks: {len(rows)}; runnable (libraries installed): {len(runnable)}; environment errors: {len(env)}")
    rate = 100 * len(passed) / len(runnable) if runnable else float("nan")
    print(f"pass rate over runnable tasks: {len(passed)}/{len(runnable)} = {rate:.2f}% (target >= 98%)")
    print(
        f"wall time: {wall:.1f} s with {args.workers} workers; mean per task "
        f"{sum(r[2] for r in results) / max(1, len(results)):.2f} s; slowest: "
        + ", ".join(f"{t} {s:.1f}s" for t, _, s in sorted(results, key=lambda r: -r[2])[:5])
    )
    if failed:
        print("failing canonical solutions:")
        for task_id, score, secs in sorted(failed, key=lambda r: int(r[0].split("/")[-1])):
            print(f"  {task_id}: verdict {score.verdicts.get('pass')} ({score.detail}) {secs:.1f}s")
    if env:
        counts = collections.Counter(m.split(" (")[0] for missing in env.values() for m in missing)
        print("environment errors (tasks): " + ", ".join(f"{m} ({n})" for m, n in counts.most_common()))
        print("  " + " ".join(sorted(env, key=lambda t: int(t.split("/")[-1]))))


if __name__ == "__main__":
    main()
