"""`crl train`: two-phase GRPO on OpenRLHF with crl rewards (`crl train CONFIG` = `crl train run CONFIG`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from ..log import logger

EXAMPLE = """
Example (train.jsonl from `crl mix`, one 8-GPU node):

  crl mix -i judged.jsonl > train.jsonl
  crl train critique-coder-4b --dry-run              # print the commands, start nothing
  crl train critique-coder-4b data.train=train.jsonl actor.lr=2e-6 -- --ds.adam_offload
"""


class _DefaultRun(TyperGroup):
    """`crl train CONFIG ...` means `crl train run CONFIG ...`; named subcommands win."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


train_app = typer.Typer(
    cls=_DefaultRun,
    help="Two-phase GRPO training on OpenRLHF with crl rewards.\n\n" + EXAMPLE,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigArg = Annotated[
    str, typer.Argument(help="TOML config file, or a shipped one: critique-coder-4b, critique-coder-8b, cpu-smoke.")
]


def _split(args: list[str]) -> tuple[list[str], list[str]]:
    """KEY=VALUE overrides come first; from the first token starting with '-' on, it is OpenRLHF's (after `--`)."""
    for i, token in enumerate(args):
        if token.startswith("-"):
            return args[:i], args[i:]
    return args, []


@train_app.command(
    "run",
    help="Train: reward server + OpenRLHF for each phase. KEY=VALUE overrides config keys; flags after `--` "
    "go to OpenRLHF untouched.\n\n" + EXAMPLE,
)
def run(
    config: ConfigArg,
    args: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE overrides, then `--` and OpenRLHF flags.")] = None,
    phase: Annotated[
        str, typer.Option("--phase", help="1, 2 or all (phase 2 starts from phase 1's final weights).")
    ] = "all",
    init: Annotated[
        str | None, typer.Option("--init", help="Start the first phase run from these weights (folder or hub id).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue each phase from its last checkpoint; skip finished phases.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the exact commands of every phase on stdout; start nothing.")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Submit to this Ray cluster with `ray job submit` (e.g. http://head:8265)."),
    ] = None,
    no_preflight: Annotated[
        bool, typer.Option("--no-preflight", help="Skip the GPU/package/dataset checks (stand-in trainers).")
    ] = False,
) -> None:
    from ..training.config import load_config
    from ..training.launcher import dry_run as render
    from ..training.launcher import launch
    from ..training.plan import plan_phases

    overrides, passthrough = _split(list(args or []))
    cfg = load_config(config, overrides)
    phases = plan_phases(cfg, phase, init=init, resume=resume)
    if dry_run:
        sys.stdout.write(render(cfg, phases, ray_address, passthrough))
        return
    final = launch(cfg, phases, ray_address=ray_address, passthrough=passthrough, check=not no_preflight)
    logger.info(f"training finished; final weights in {final}")


@train_app.command(
    "validate",
    help="Check a config (and overrides) and report every problem at once; start nothing.\n\n"
    "  crl train validate critique-coder-4b data.train=train.jsonl rollout.batch_size=64 --show > resolved.toml",
)
def validate(
    config: ConfigArg,
    overrides: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE overrides.")] = None,
    show: Annotated[
        bool, typer.Option("--show", help="Print the resolved config (defaults filled in) on stdout.")
    ] = False,
) -> None:
    from ..training.config import dump_toml, load_config

    cfg = load_config(config, list(overrides or []))
    if show:
        sys.stdout.write(dump_toml(cfg, [f"resolved from {cfg.source}"]))
    logger.info(f"{cfg.source}: config OK ({len(cfg.values)} keys; output in {cfg.output_dir})")
    from ..training.preflight import check_dataset

    # The data is not part of the config (it may be made later), but a missing or malformed file is said now.
    data: list[str] = []
    check_dataset(
        Path(cfg["data.train"]).expanduser().absolute(),
        cfg["data.input_key"],
        cfg["data.label_key"],
        cfg["data.apply_chat_template"],
        data,
    )
    for problem in data:
        logger.warning(problem)


@train_app.command(
    "select",
    help="Evaluate every saved HF checkpoint with `crl eval` and write the best one. One JSON record per "
    "checkpoint on stdout; options after `--` go to `crl eval`.\n\n"
    "  crl train select --checkpoints runs/critique-coder-4b --benchmark lcb-v5 --backend vllm -- --n 4",
)
def select(
    checkpoints: Annotated[Path, typer.Option("--checkpoints", help="Run folder or checkpoint folder to search.")],
    eval_args: Annotated[list[str] | None, typer.Argument(help="After `--`: more `crl eval` options.")] = None,
    benchmark: Annotated[
        str, typer.Option("--benchmark", help="Benchmark for `crl eval` (the paper: lcb-v5).")
    ] = "lcb-v5",
    backend: Annotated[str, typer.Option("--backend", help="crl eval backend: vllm, hf or openai.")] = "vllm",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where evaluations and best.json go; default CHECKPOINTS/selection."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            help="Run the evaluations as parallel Ray tasks, one per free GPU set "
            "(auto: the cluster this machine joined). docs/cluster.md",
        ),
    ] = None,
    gpus_per_eval: Annotated[
        float | None, typer.Option("--gpus-per-eval", help="With --ray-address: GPUs per evaluation (its --tp).")
    ] = None,
) -> None:
    from ..training.select import evaluate, select_best

    out = output or checkpoints / "selection"
    extra = ["--backend", backend, *(eval_args or [])]
    if ray_address:
        from ..distributed.select import evaluate_on_ray

        results = list(evaluate_on_ray(checkpoints, benchmark, out, extra, ray_address, gpus_per_eval))
    else:
        results = list(evaluate(checkpoints, benchmark, out, extra))
    best = select_best(results)
    for rec in results:
        rec["best"] = rec is best
        sys.stdout.write(json.dumps(rec) + "\n")
    (out / "best.json").write_text(json.dumps({"best": best, "results": results}, indent=2) + "\n", encoding="utf-8")
    logger.info(
        f"best on {benchmark}: {best['checkpoint']} (pass@1 {best['pass@1']:.4f}); written to {out / 'best.json'}"
    )


@train_app.command(
    "report",
    help="Per step and per phase: rewards over every scored sample by kind, CRL accuracy and confusion, "
    "missing conclusions, RL pass rate, response length, groups dropped by dynamic filtering and rows consumed "
    "to refill, reward latency, step and weight-sync time. From the run's phaseN/rewards.jsonl (the reward "
    "server's record) and phaseN/steps.jsonl (the trainer's).\n\n"
    "  crl train cpu-smoke && crl train report runs/cpu-smoke --format markdown --plot curve.png",
)
def report(
    run_dir: Annotated[Path, typer.Argument(help="The run folder (output.dir), or one phase folder of it.")],
    fmt: Annotated[
        str, typer.Option("--format", help="table (Rich, on stderr), markdown, csv or json (one row a line, stdout).")
    ] = "table",
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Also draw reward by kind and CRL accuracy against step to this PNG (needs the plot extra)."
        ),
    ] = None,
) -> None:
    from ..errors import UsageError
    from ..log import console
    from ..training import report as rep

    if fmt not in rep.FORMATS:
        raise UsageError(f"--format must be one of {', '.join(rep.FORMATS)}, got {fmt!r}")
    rows = rep.run_rows(run_dir)
    if fmt == "table":
        from rich.console import Console

        # a log file or pipe gets every column unwrapped (Rich would squeeze 20 columns into 80 characters)
        out = console if console.is_terminal else Console(stderr=True, highlight=False, width=240)
        out.print(rep.rich_table(rows, title=str(run_dir)))
    else:
        sys.stdout.write({"markdown": rep.markdown, "csv": rep.to_csv, "json": rep.to_json}[fmt](rows))
    if plot is not None:
        logger.info(f"plot: {rep.plot(rows, plot, title=run_dir.name)}")


@train_app.command(
    "smoke-assets",
    help="Write what `crl train cpu-smoke` trains: a tiny coin-flip critic (random \\conclusion{T}/{F}) and "
    "the shortest CRL rows of a `crl mix` output.\n\n"
    "  make demo && crl train smoke-assets && crl train cpu-smoke",
)
def smoke_assets(
    out: Annotated[Path, typer.Option("--out", help="Folder for model/ and train.jsonl.")] = Path(
        "runs/cpu-smoke-assets"
    ),
    rows: Annotated[Path, typer.Option("--rows", help="Training rows from `crl mix` (default: make demo's).")] = Path(
        "demo-out/train.jsonl"
    ),
    n: Annotated[int, typer.Option("--n", help="CRL rows to keep (2 per rollout step in cpu-smoke).")] = 4,
    task: Annotated[
        str,
        typer.Option(
            "--task",
            help="demo: the shortest CRL rows of --rows; marker: N synthetic rows whose "
            "verdict a stamp word gives away, so the critic can learn it (docs/train.md).",
        ),
    ] = "demo",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the marker rows.")] = 0,
) -> None:
    from ..errors import UsageError
    from ..training.smoke import build_coinflip_model, marker_rows, smoke_rows

    if task not in ("demo", "marker"):
        raise UsageError(f"--task is demo or marker, got {task!r}")
    if task == "marker":
        picked = marker_rows(out / "train.jsonl", n, seed=seed)
    else:
        picked = smoke_rows(rows, out / "train.jsonl", n)
    model = build_coinflip_model(out / "model")
    logger.info(f"{len(picked)} CRL rows in {out / 'train.jsonl'}; coin-flip critic in {model}")


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
