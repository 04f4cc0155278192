"""`crl eval score RUN_DIR`: rescore a run's samples, or score samples made elsewhere, as one library call.

The command resolves its flags (and the variables that stand for them) and prints; everything between, from
locking the run directory to writing its new run.json, is here.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..log import logger
from .base import Benchmark

# (total, what) -> a context manager whose value has `advance(n)`: the command's progress meter
MeterFactory = Callable[[int | None, str], AbstractContextManager[Any]]


def provenance_of(
    bench: Benchmark, opts: dict[str, Any], workers: int | None, model: str | None, sampling: Any, samples: Any = None
) -> dict[str, Any]:
    """run.json's provenance (crlcli.provenance): the data the benchmark read, the sandbox it scores in."""
    from ..provenance import record, sandbox_info

    data = [opts.get(k) for k in ("data", "subset_file")] + [samples]
    return record(
        data=data,
        sandbox=sandbox_info("auto", workers) if bench.needs_sandbox else None,
        workers=workers,
        model=model,
        sampling=sampling,
        benchmark_info=bench.describe(),
    )


def score_run(
    run_dir: Path,
    given: Callable[[str], dict[str, Any]],
    meter: MeterFactory,
    *,
    benchmark: str | None = None,
    samples: Path | None = None,
    samples_format: str = "auto",
    limit: int | None = None,
    workers: int | None = None,
    skip_invalid: Path | None = None,
    data_root: Any = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Score RUN_DIR's samples (or `samples`, another tool's file read as `samples_format`) with benchmark
    `benchmark` (default: the run's) and options `given(name)` (the command's, for that benchmark) over the
    run's own; returns (summary, how the samples were imported: {} for crl's own). Raises `UnknownOptions` for
    an option the benchmark does not take. `data_root`: where the benchmark looks for data without `data`."""
    from .. import locks
    from ..io import SkipLog, write_json
    from ..provenance import finish
    from . import get_benchmark, merge_options
    from .pipeline import read_samples, rescore
    from .rundir import RunDir

    rd = RunDir(run_dir)
    # held from here: reading samples.jsonl trims a torn tail, and the rescore rewrites it
    run_lock = locks.acquire(rd.path, directory=True)
    old = rd.read_run() or {}
    name = benchmark or old.get("benchmark_key")
    if not name:
        raise UsageError(f"{run_dir} has no run.json; say which benchmark with --benchmark")
    opts = merge_options(name, given(name), old.get("options"))
    bench = get_benchmark(name, data_root=data_root, limit=limit, **opts)
    if samples is not None:
        source = samples
        runinfo = {
            **old,
            "benchmark": bench.name,
            "benchmark_key": name,
            "benchmark_info": bench.describe(),
            "options": opts,
            "samples_file": str(samples),
        }
        runinfo.setdefault("model", old.get("model"))
    else:
        source = rd.samples_source()
        if not source.exists():
            raise UsageError(f"{source}: no samples to score", hint="give --samples FILE")
        runinfo = {**old, "options": opts}
    # the numbers are this scoring's: its provenance; how the samples were made stays beside it
    if old.get("provenance") is not None:
        runinfo["generated_with"] = old.get("generated_with") or old["provenance"]
    runinfo["provenance"] = provenance_of(bench, opts, workers, runinfo.get("model"), runinfo.get("sampling"), samples)
    tasks = bench.tasks()
    # Under --limit, a task id of the whole benchmark is only outside the limit (kept, not scored).
    all_ids = None if limit is None else {t.task_id for t in get_benchmark(name, data_root=data_root, **opts).tasks()}
    skip = SkipLog(skip_invalid) if skip_invalid else None
    try:
        imported: dict[str, Any] = {}
        recs, outside, left_out = read_samples(
            source,
            bench,
            {t.task_id for t in tasks},
            all_ids,
            skip,
            fmt=samples_format if samples is not None else "crl",
            tasks=tasks,
            imported=imported,
        )
        if imported:  # which tool's format the samples were read as, and how many gave no code
            runinfo["samples_import"] = imported
    finally:
        if skip is not None:
            skip.close()
    if not recs and not outside and not (left_out["unknown_task"] or left_out["invalid"]):
        raise UsageError(f"{source}: no samples to score", hint="give --samples FILE")
    if left_out["unknown_task"] or left_out["invalid"]:
        logger.warning(
            f"left out {left_out['unknown_task']} sample(s) of tasks not in {bench.name} and "
            f"{left_out['invalid']} invalid sample(s); see {skip_invalid}"
        )
    if outside:
        logger.info(f"{len(outside)} sample(s) of tasks outside --limit {limit} kept unscored")
    with meter(len(recs), f"score {bench.name}") as m:
        summary = rescore(
            bench,
            rd,
            recs,
            runinfo,
            workers=workers,
            progress=m.advance,
            tasks=tasks,
            keep=outside if samples is None else None,
            left_out=left_out,
            benchmark_tasks=None if all_ids is None else len(all_ids),
        )
    write_json(rd.path / "run.json", {**runinfo, "provenance": finish(runinfo["provenance"])})
    locks.release(run_lock)
    return summary, imported
