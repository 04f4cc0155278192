"""`crl tts`: test-time scaling. `budget-force` (sequential, s1) and `critique-select` (parallel, CRL critiques),
each with a `score RUN_DIR` subcommand that rescores a saved run without a model (docs/tts.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError
from ..generation.defaults import TEMPERATURE, TOP_K, TOP_P
from ..options import parse_key_values
from ._common import EnginesOpt, OrderedOpt, RayAddressOpt, ReorderWindowOpt, backend_options, check_numbers, renamed

Opt = typer.Option
Bench = Annotated[str | None, Opt("--benchmark", help="A `crl eval` benchmark name (lcb, humaneval+, ...).")]
Inp = Annotated[Path | None, Opt("--input", "-i", help="Problem records (JSON Lines) instead of --benchmark.")]
Data = Annotated[str | None, Opt("--data", help="Benchmark data file or folder (offline copy).")]
Limit = Annotated[int | None, Opt("--limit", help="Only the first N problems.")]
BenchOpt = Annotated[list[str], Opt("--benchmark-option", "-B", help="Benchmark setting KEY=VALUE (release=v6).")]
RunOut = Annotated[Path | None, Opt("--output", "-o", help="RUN_DIR: generations, results, summary (resumable).")]
Backend = Annotated[str, Opt("--backend", "-b", help="vllm | openai | hf.")]
Model = Annotated[str | None, Opt("--model", "-m", help="Model path or name (openai: served name).")]
BaseUrl = Annotated[str | None, Opt("--base-url", help="openai: server URL, e.g. http://127.0.0.1:8000/v1.")]
Device = Annotated[str | None, Opt(help="hf: cpu, cuda, ...")]
TP = Annotated[int | None, Opt("--tensor-parallel-size", "--tp", help="vllm: GPUs per model.")]
BOpt = Annotated[list[str], Opt("--backend-option", "-O", help="Extra backend option KEY=VALUE (repeatable).")]
Tok = Annotated[str | None, Opt("--tokenizer", help="Tokenizer folder (needed with openai).")]
Temp = Annotated[float, Opt(help="Sampling temperature (0 = greedy).")]
TopP = Annotated[float, Opt("--top-p")]
TopK = Annotated[int, Opt("--top-k", help="0 disables top-k.")]
Seed = Annotated[int | None, Opt(help="Sampling seed.")]
Batch = Annotated[int, Opt("--batch-size", help="Problems (critique-select: conversations) per backend call.")]
Workers = Annotated[int | None, Opt("--workers", help="Sandbox workers for scoring.")]
Timeout = Annotated[float | None, Opt("--test-timeout", help="Seconds per test case (record problems).")]
OldTimeout = Annotated[float | None, Opt("--timeout", hidden=True, help="Deprecated: use --test-timeout.")]
Plot = Annotated[Path | None, Opt("--plot", help="Write accuracy vs thinking tokens as a PNG.")]
RunDirArg = Annotated[Path, typer.Argument(help="A RUN_DIR written by this command.", exists=True, file_okay=False)]
Selector = Annotated[str, Opt("--selector", help="Headline selector: crl-votes | majority | random | public-tests.")]

BF_HELP = """Sequential budget forcing (s1): when the model closes its thinking, drop the marker, append "Wait", continue; after every round force and score an answer.

Examples:

crl tts budget-force --benchmark lcb --data LCB_DIR -b vllm -m ckpt/ --rounds 4 -o runs/bf --plot bf.png

crl tts budget-force -i problems.jsonl -b hf -m tiny/ --min-thinking-tokens 32 --max-thinking-tokens 64 -o runs/bf

crl tts budget-force score runs/bf --plot bf.png     # rescore saved generations, no model needed

crl tts budget-force plot runs/bf-base runs/bf-crl --label base --label CRL -o fig5.png
"""
CS_HELP = """Parallel critique selection: k candidates, m CRL critiques each, pick the candidate with most \\conclusion{T}.

Examples:

crl tts critique-select --benchmark lcb -b vllm -m ckpt/ --k 10 --m 64 -o runs/cs

crl gen-candidates -b vllm -m gen/ --n 10 < problems.jsonl | crl tts critique-select --reuse-candidates -i - -b vllm -m ckpt/ -o runs/cs

crl tts critique-select score runs/cs --selector majority
"""


def _source(benchmark, input, data, limit, options):
    from ..tts.problems import Source

    if (benchmark is None) == (input is None):
        raise UsageError("give either --benchmark NAME or -i PROBLEMS.jsonl")
    options = parse_key_values(options, "--benchmark-option")
    if benchmark:  # as crl eval's flags: the variables the benchmark declares fill in, an undeclared key is refused
        from ..evaluation import check_options
        from ._env import benchmark_options

        options = check_options(benchmark, benchmark_options(benchmark, options))
    from ._env import data_root

    return Source(benchmark, input, data, limit, options, data_root)


def _critic_options(pairs: list[str], critic_backend: str | None, backend: str) -> dict[str, Any]:
    """--critic-option's; with its backend's environment fallbacks where the critic does not simply take the
    generator's options (those it inherits already have theirs)."""
    from ._env import backend_env

    options = parse_key_values(pairs, "--critic-option")
    if options or (critic_backend or backend) != backend:
        options = backend_env(critic_backend or backend, options)
    return options


def _test_timeout(timeout: float | None, old: float | None) -> float | None:
    return renamed("--test-timeout", timeout, "--timeout", old)


def _emit(summary: dict[str, Any], plot: Path | None = None, label: str = "") -> None:
    from ..io import dumps
    from ..tts.report import show

    show(summary)
    typer.echo(dumps(summary))
    if plot is not None:
        from ..log import logger
        from ..tts.plots import plot_budget

        logger.info(f"plot written to {plot_budget({label: summary}, plot)}")


def _check_common(limit, batch_size, workers, timeout, reorder_window=None) -> None:
    check_numbers(
        ("--limit", limit, 1, False),
        ("--batch-size", batch_size, 1, False),
        ("--workers", workers, 0, False),
        ("--test-timeout", timeout, 0, True),
        ("--reorder-window", reorder_window, 1, False),
    )


def _config(cls, **settings):
    """A run's config; what it refuses is a bad option value: a usage error (exit 2)."""
    from ..errors import CrlError

    try:
        return cls(**settings)
    except CrlError as exc:
        raise UsageError(exc.message, exc.hint) from None


def _need_output(ctx: typer.Context, output: Path | None, name: str) -> bool:
    if ctx.invoked_subcommand is not None:  # `score` / `plot`: this group callback has nothing to do
        return False
    if output is None:
        raise UsageError("missing -o RUN_DIR", hint=f"crl tts {name} --help")
    return True


def register(app: typer.Typer) -> None:
    tts = typer.Typer(help="Test-time scaling: budget forcing, critique selection.", no_args_is_help=True)
    bf, cs = typer.Typer(help=BF_HELP, no_args_is_help=True), typer.Typer(help=CS_HELP, no_args_is_help=True)

    @bf.callback(invoke_without_command=True)
    def budget_force(
        ctx: typer.Context,
        output: RunOut = None,
        benchmark: Bench = None,
        input: Inp = None,
        data: Data = None,
        limit: Limit = None,
        benchmark_option: BenchOpt = [],
        backend: Backend = "vllm",
        model: Model = None,
        base_url: BaseUrl = None,
        device: Device = None,
        tensor_parallel_size: TP = None,
        backend_option: BOpt = [],
        engines: EnginesOpt = 1,
        ray_address: RayAddressOpt = None,
        tokenizer: Tok = None,
        rounds: Annotated[int, Opt(help="Forced continuations after the first close.")] = 4,
        wait_token: Annotated[str, Opt("--wait-token", help="Appended where the end marker was.")] = "Wait",
        min_thinking_tokens: Annotated[int, Opt("--min-thinking-tokens", help="Keep forcing until this many.")] = 0,
        max_thinking_tokens: Annotated[int, Opt("--max-thinking-tokens", help="Cap per continuation.")] = 16384,
        answer_tokens: Annotated[int, Opt("--answer-tokens", help="Max tokens of each forced answer.")] = 4096,
        prefix_cache: Annotated[bool, Opt("--prefix-cache/--no-prefix-cache", help="vllm prefix caching.")] = True,
        temperature: Temp = TEMPERATURE,
        top_p: TopP = TOP_P,
        top_k: TopK = TOP_K,
        seed: Seed = 0,
        batch_size: Batch = 64,
        workers: Workers = None,
        timeout: Timeout = None,
        old_timeout: OldTimeout = None,
        plot: Plot = None,
        ordered: OrderedOpt = False,
        reorder_window: ReorderWindowOpt = 1024,
    ) -> None:
        if not _need_output(ctx, output, "budget-force"):
            return
        timeout = _test_timeout(timeout, old_timeout)
        from ..distributed.engines import open_backend
        from ..progress import Meter
        from ..tts import BudgetConfig
        from ..tts import budget_force as run

        _check_common(limit, batch_size, workers, timeout, reorder_window)
        cfg = _config(
            BudgetConfig,
            rounds=rounds,
            wait_token=wait_token,
            min_thinking_tokens=min_thinking_tokens,
            max_thinking_tokens=max_thinking_tokens,
            answer_tokens=answer_tokens,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            seed=seed,
        )
        opts = backend_options(
            backend,
            base_url=base_url,
            device=device,
            tensor_parallel_size=tensor_parallel_size,
            prefix_cache=prefix_cache,
            engines=engines,
            ray_address=ray_address,
            extra=backend_option,
        )
        source = _source(benchmark, input, data, limit, benchmark_option)
        with Meter("budget-force", unit="prob") as meter:
            summary = run(
                source,
                output,
                cfg,
                backend,
                model,
                opts,
                tokenizer,
                batch_size,
                workers,
                timeout,
                progress=meter.advance,
                ordered=ordered,
                reorder_window=reorder_window,
                open_backend=open_backend,
            )
        _emit(summary, plot, model or str(output))

    @bf.command("score", help="Rescore a budget-force RUN_DIR from its saved generations (no model).")
    def bf_score(
        run_dir: RunDirArg,
        workers: Workers = None,
        timeout: Timeout = None,
        old_timeout: OldTimeout = None,
        plot: Plot = None,
    ) -> None:
        from ..tts import score_budget

        _check_common(None, None, workers, timeout)
        from ._env import data_root

        summary = score_budget(run_dir, workers, _test_timeout(timeout, old_timeout), data_root=data_root)
        _emit(summary, plot, summary["config"].get("model") or str(run_dir))

    @bf.command("plot", help="Draw several scored budget-force runs on one figure (e.g. base vs CRL model).")
    def bf_plot(
        run_dirs: Annotated[list[Path], typer.Argument(help="Scored RUN_DIRs.", exists=True, file_okay=False)],
        output: Annotated[Path, Opt("--output", "-o", help="PNG file to write.")],
        label: Annotated[list[str], Opt("--label", help="Legend label per RUN_DIR (default: model).")] = [],
        title: Annotated[str | None, Opt(help="Figure title.")] = None,
    ) -> None:
        from ..tts.plots import load_summaries, plot_budget

        plot_budget(load_summaries(run_dirs, label), output, title)

    @cs.callback(invoke_without_command=True)
    def critique_select(
        ctx: typer.Context,
        output: RunOut = None,
        benchmark: Bench = None,
        input: Inp = None,
        data: Data = None,
        limit: Limit = None,
        benchmark_option: BenchOpt = [],
        backend: Backend = "vllm",
        model: Model = None,
        base_url: BaseUrl = None,
        device: Device = None,
        tensor_parallel_size: TP = None,
        backend_option: BOpt = [],
        engines: EnginesOpt = 1,
        ray_address: RayAddressOpt = None,
        tokenizer: Tok = None,
        k: Annotated[int, Opt("--k", help="Candidates per problem.")] = 10,
        m: Annotated[int, Opt("--m", help="Critiques per candidate.")] = 64,
        critic: Annotated[str | None, Opt("--critic", help="Critic model (default: --model).")] = None,
        critic_backend: Annotated[str | None, Opt("--critic-backend", help="Default: --backend.")] = None,
        critic_option: Annotated[list[str], Opt("--critic-option", help="Critic backend KEY=VALUE.")] = [],
        candidate_tokens: Annotated[int, Opt("--candidate-tokens", help="Max tokens per candidate.")] = 16384,
        critique_tokens: Annotated[int, Opt("--critique-tokens", help="Max tokens per critique.")] = 16384,
        reuse_candidates: Annotated[bool, Opt("--reuse-candidates", help="Critique the records' candidates.")] = False,
        selector: Selector = "crl-votes",
        temperature: Temp = TEMPERATURE,
        top_p: TopP = TOP_P,
        top_k: TopK = TOP_K,
        seed: Seed = 0,
        batch_size: Batch = 16,
        workers: Workers = None,
        timeout: Timeout = None,
        old_timeout: OldTimeout = None,
        ordered: OrderedOpt = False,
        reorder_window: ReorderWindowOpt = 1024,
    ) -> None:
        from ..tts import SELECTORS
        from ._common import check_choice

        check_choice("--selector", selector, SELECTORS)
        if not _need_output(ctx, output, "critique-select"):
            return
        timeout = _test_timeout(timeout, old_timeout)
        from ..distributed.engines import open_backend
        from ..progress import Meter
        from ..tts import CritiqueConfig
        from ..tts import critique_select as run

        _check_common(limit, batch_size, workers, timeout, reorder_window)
        cfg = _config(
            CritiqueConfig,
            k=k,
            m=m,
            candidate_tokens=candidate_tokens,
            critique_tokens=critique_tokens,
            reuse_candidates=reuse_candidates,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            seed=seed,
        )
        opts = backend_options(
            backend,
            base_url=base_url,
            device=device,
            tensor_parallel_size=tensor_parallel_size,
            engines=engines,
            ray_address=ray_address,
            extra=backend_option,
        )
        source = _source(benchmark, input, data, limit, benchmark_option)
        with Meter("critique-select", unit="prob") as meter:
            summary = run(
                source,
                output,
                cfg,
                backend,
                model,
                opts,
                critic_backend,
                critic,
                _critic_options(critic_option, critic_backend, backend),
                tokenizer,
                selector,
                batch_size,
                workers,
                timeout,
                progress=meter.advance,
                ordered=ordered,
                reorder_window=reorder_window,
                open_backend=open_backend,
            )
        _emit(summary)

    @cs.command("score", help="Rescore a critique-select RUN_DIR from its saved generations (no model).")
    def cs_score(
        run_dir: RunDirArg,
        selector: Selector = "crl-votes",
        workers: Workers = None,
        timeout: Timeout = None,
        old_timeout: OldTimeout = None,
        tokenizer: Tok = None,
    ) -> None:
        from ..tokens import counting_tokenizer
        from ..tts import SELECTORS, score_critique
        from ._common import check_choice

        check_choice("--selector", selector, SELECTORS)
        _check_common(None, None, workers, timeout)
        from ._env import data_root

        _emit(
            score_critique(
                run_dir,
                workers,
                _test_timeout(timeout, old_timeout),
                selector,
                tokenizer=counting_tokenizer(tokenizer) if tokenizer else None,
                data_root=data_root,
            )
        )

    tts.add_typer(bf, name="budget-force")
    tts.add_typer(cs, name="critique-select")
    app.add_typer(tts, name="tts")
