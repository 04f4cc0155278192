"""`crl eval` end to end: generate what is missing, score, summarise. Resumable at the sample level.

A streaming backend (vllm, openai, Ray engines) gets every missing sample at once and samples are scored and
appended to samples.jsonl as they complete (evaluation/streaming.py); other backends go in batches of tasks, each
scored and appended before the next. Either way a rerun with the same settings only generates what is missing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

from ..errors import CrlError
from ..locks import holds_run_dir
from .base import Benchmark, Task
from .rundir import RunDir
from .scoring import Stopwatch, mark_env_error, mark_trust, score_many, summarize
from .streaming import stream_generate_and_score, streams

Progress = Callable[[int], None]


def run_info(
    key: str,
    bench: Benchmark,
    model: str | None,
    backend: str | None,
    params: Any,
    thinking: bool,
    options: dict[str, Any],
) -> dict[str, Any]:
    return {
        "benchmark": bench.name,
        "benchmark_key": key,
        "benchmark_info": bench.describe(),
        "model": model,
        "backend": backend,
        "sampling": None if params is None else {k: v for k, v in asdict(params).items() if k != "n"},
        "thinking": thinking,
        "options": options,
    }


@holds_run_dir("rd")
def evaluate(
    bench: Benchmark,
    rd: RunDir,
    backend: Any,
    params: Any,
    thinking: bool,
    run: dict[str, Any],
    workers: int | None = None,
    batch_tasks: int = 16,
    progress: Progress | None = None,
    set_total: Callable[[int], None] | None = None,
    benchmark_tasks: int | None = None,
    ordered: bool = False,
    reorder_window: int = 1024,
) -> dict[str, Any]:
    """Generate params.n samples per task (keeping those already in rd), score new ones, write the summary.
    benchmark_tasks: the benchmark's size without --limit (default: the tasks run), for `counts.benchmark_tasks`.
    ordered: a streaming backend appends new samples in task order, then sample index (a reorder buffer of at
    most `reorder_window` tasks), as the batch path does; without it, as they complete."""
    watch = Stopwatch()
    with watch("load"):
        tasks = bench.tasks()
    if not tasks:
        raise CrlError(f"benchmark {bench.name} has no tasks")
    by_id = {t.task_id: t for t in tasks}
    rd.start(run)
    existing = [s for s in rd.samples() if s["task_id"] in by_id]
    have = Counter(s["task_id"] for s in existing)
    todo = [(t, params.n - have[t.task_id]) for t in tasks if have[t.task_id] < params.n]
    if set_total:
        set_total(sum(m for _, m in todo))
    unscored = [s for s in existing if "metrics" not in s]
    with bench.open_pool(workers) as pool, rd.writer() as out:
        threads = max(2, (workers or 2) * 2)
        if streams(backend, bench):  # no batch barrier: scoring overlaps generation (evaluation/streaming.py)
            stream_generate_and_score(
                bench,
                by_id,
                todo,
                have,
                backend,
                params,
                thinking,
                pool,
                threads,
                out.write,
                watch,
                batch_tasks,
                progress,
                ordered,
                reorder_window,
            )
            todo = []
        for start in range(0, len(todo), batch_tasks):
            batch = todo[start : start + batch_tasks]
            new: list[dict[str, Any]] = []
            by_missing: dict[int, list[Task]] = defaultdict(list)
            for task, missing in batch:
                by_missing[missing].append(task)
            for missing, group in by_missing.items():
                if bench.multi_turn:  # multi-turn (Aider's two tries): it generates and scores
                    with watch("generation+scoring"):
                        recs = bench.run_samples(
                            group,
                            missing,
                            backend,
                            params,
                            thinking,
                            first_sample={t.task_id: have[t.task_id] for t in group},
                        )
                    for rec in recs:
                        out.write(mark_trust(bench, mark_env_error(rec)))
                        if progress:
                            progress(1)
                    continue
                with watch("generation"):
                    outs = backend.chat(
                        [t.messages for t in group], replace(params, n=missing), enable_thinking=thinking
                    )
                for task, comps in zip(group, outs):
                    for j, comp in enumerate(comps):
                        new.append(
                            {
                                "task_id": task.task_id,
                                "sample": have[task.task_id] + j,
                                "prompt": task.messages,
                                "completion": comp.text,
                                "tokens": comp.tokens,
                                "finish_reason": comp.finish_reason,
                            }
                        )
            with watch("scoring"):

                def done(s: dict[str, Any]) -> None:
                    out.write(s)
                    if progress:
                        progress(1)

                score_many(bench, by_id, new, pool, threads, done)
        if unscored:
            with watch("scoring"):
                score_many(bench, by_id, unscored, pool, threads, lambda s: None)
    samples = rd.samples()
    if unscored:
        rd.rewrite_samples(_dedupe(samples, unscored))
        samples = rd.samples()
    samples = [s for s in samples if s["task_id"] in by_id]
    timing = dict(watch.totals)
    if isinstance(run.get("provenance"), dict):  # the end time: run.json and the summary both carry it
        from ..provenance import finish

        run["provenance"] = finish(run["provenance"])
        rd.write_run(run)
    summary = summarize(bench, samples, run, timing)
    summary["counts"]["benchmark_tasks"] = benchmark_tasks or len(tasks)
    rd.write_summary(summary)
    return summary


def _dedupe(samples: list[dict[str, Any]], rescored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fresh = {(s["task_id"], s.get("sample")): s for s in rescored}
    return [fresh.get((s["task_id"], s.get("sample")), s) for s in samples]


def read_samples(
    path: Any,
    bench: Benchmark,
    task_ids: set[str],
    all_ids: set[str] | None = None,
    skip: Any = None,
    fmt: str = "crl",
    tasks: list[Task] | None = None,
    imported: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Samples to rescore from a JSON Lines file (a run's samples.jsonl or `--samples FILE`): (those for
    `task_ids`, those outside a --limit, left-out counts). A record that cannot be scored, or whose task_id is not
    in the benchmark (`all_ids`, default `task_ids`), stops with file:line, or goes to the skip file.
    `fmt`: the file's format (evaluation/sample_formats.py; other tools' samples are converted, with `tasks` for
    their prompts); `imported` receives {format, samples, no_code} of a conversion."""
    from ..io import JsonlReader
    from .rundir import sample_problem
    from .sample_formats import ArrayReader, Converter, detect, is_json_array, prompt_lookup

    reader = ArrayReader(path, skip) if is_json_array(path) else JsonlReader(path, skip, skip_option=True)
    # BBEH answers are text and Aider's are files in several languages: only Python answers are read as code
    python = not bench.name.startswith(("bbeh", "aider"))
    conv = (
        None if fmt == "crl" else Converter(fmt, prompt_lookup(tasks or []), [t.task_id for t in tasks or []], python)
    )
    found: list[str] = []

    def records():
        for raw in reader:
            if conv is None:
                yield raw
                continue
            if not found:  # auto: the first record decides; completions are looked at one by one
                kind = detect(raw)  # crl-run: another crl run's samples.jsonl, scored exactly as that run did
                found.append(fmt if fmt != "auto" else {"crl": "auto", "crl-run": "crl"}.get(kind, kind))
            try:
                yield from conv.convert(raw, found[0])
            except ValueError as exc:
                reader.reject(raw, str(exc))

    wanted: list[dict[str, Any]] = []
    outside: list[dict[str, Any]] = []
    unknown = invalid = 0
    known = task_ids if all_ids is None else all_ids
    lines: dict[tuple[str, int], int] = {}  # (task_id, sample) -> its line: each pair is scored once
    for rec in records():
        reason = sample_problem(rec)
        if reason is not None:
            invalid += 1
        elif rec["task_id"] not in known:
            reason = (
                f"task_id {rec['task_id']!r} is not in benchmark {bench.name} "
                "(check --benchmark/--data, or the samples' task ids)"
            )
            unknown += 1
        elif rec.get("sample") is not None:
            pair = (rec["task_id"], rec["sample"])
            if pair in lines:
                reason = (
                    f"task {pair[0]!r} sample {pair[1]} again (first on line {lines[pair]}): two runs wrote "
                    "into one directory, or the file was concatenated twice"
                )
                invalid += 1
            else:
                lines[pair] = reader.lineno
        if reason is not None:
            reader.reject(rec, reason)
            continue
        (wanted if rec["task_id"] in task_ids else outside).append(rec)
    if conv is not None and imported is not None:
        imported.update(format=found[0] if found else fmt, samples=conv.samples, no_code=conv.no_code)
    return wanted, outside, {"unknown_task": unknown, "invalid": invalid, "outside_limit": len(outside)}


@holds_run_dir("rd")
def rescore(
    bench: Benchmark,
    rd: RunDir,
    samples: list[dict[str, Any]],
    run: dict[str, Any],
    workers: int | None = None,
    progress: Progress | None = None,
    tasks: list[Task] | None = None,
    keep: list[dict[str, Any]] | None = None,
    left_out: dict[str, int] | None = None,
    benchmark_tasks: int | None = None,
) -> dict[str, Any]:
    """Score `samples` afresh (a scorer fix, or completions made elsewhere) and rewrite the run's files. `keep`:
    samples written back unscored (outside a --limit); `left_out`: counts of samples not scored, for the summary."""
    watch = Stopwatch()
    with watch("load"):
        by_id = {t.task_id: t for t in (bench.tasks() if tasks is None else tasks)}
    seen: Counter = Counter()
    for s in samples:
        if s.get("sample") is None:
            s["sample"] = seen[s["task_id"]]
        seen[s["task_id"]] += 1
    wanted = [s for s in samples if s["task_id"] in by_id]
    if not wanted:
        raise CrlError(
            f"none of the {len(samples)} samples belongs to benchmark {bench.name}'s tasks",
            hint="check --benchmark/--data, or that the samples' task_id values match",
        )
    with bench.open_pool(workers) as pool, watch("scoring"):
        score_many(bench, by_id, wanted, pool, max(2, (workers or 2) * 2), lambda s: progress(1) if progress else None)
    rd.path.mkdir(parents=True, exist_ok=True)
    rd.rewrite_samples(wanted + list(keep or []))
    if isinstance(run.get("provenance"), dict):
        from ..provenance import finish

        run = {**run, "provenance": finish(run["provenance"])}
    summary = summarize(bench, wanted, run, dict(watch.totals))
    summary["counts"]["benchmark_tasks"] = benchmark_tasks or len(by_id)
    if left_out:
        summary["counts"]["left_out"] = dict(left_out)
    rd.write_summary(summary)
    return summary
