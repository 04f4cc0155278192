"""`crl mix`: judged problem records -> mixed RL + CRL training rows for OpenRLHF (or verl)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from .. import jsonx
from ._common import InputOpt, OutputOpt, SkipInvalidOpt, Stage, check_distinct

HELP = """Build mixed RL + CRL training rows from judged problem records.

A seeded shuffle sends --crl-ratio of the problems to CRL (question + one
judged candidate, label T/F); the rest stay RL (question + tests).
Assert tests become parent-compared call cases where that is exact; RL
rows whose tests would still run in the candidate's process are refused
unless --allow-in-process-tests. Stats go to stderr (and --stats FILE).

  crl filter --source humaneval | crl gen-candidates --backend mutate \\
    | crl judge | crl mix > train.jsonl

  crl mix -i judged.jsonl --crl-ratio 0.5 --crl-pick balanced \\
    --tokenizer qwen3 --stats mix-stats.json -o train.jsonl
"""


def register(app: typer.Typer) -> None:
    @app.command("mix", help=HELP)
    def mix_cmd(
        input: InputOpt = None,
        output: OutputOpt = None,
        skip_invalid: SkipInvalidOpt = None,
        crl_ratio: Annotated[float, typer.Option("--crl-ratio", help="Fraction of problems made CRL rows.")] = 0.2,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the shuffle and of candidate picking.")] = 0,
        crl_pick: Annotated[
            str, typer.Option("--crl-pick", help="Which judged candidate a CRL row gets: random | balanced (even T/F).")
        ] = "random",
        crl_template: Annotated[
            str,
            typer.Option(
                "--crl-template", help="CRL prompt: a packaged name or a text file with {question}, {solution}."
            ),
        ] = "crl_critique.txt",
        rl_template: Annotated[
            str, typer.Option("--rl-template", help="RL solve prompt: a packaged name or a text file with {question}.")
        ] = "rl_solve.txt",
        fmt: Annotated[
            str, typer.Option("--format", help="openrlhf (chat messages + label string) | verl.")
        ] = "openrlhf",
        tokenizer: Annotated[
            str | None,
            typer.Option(
                "--tokenizer", help="Count prompt tokens (chat template applied): a tokenizer folder, or qwen3."
            ),
        ] = None,
        stats: Annotated[Path | None, typer.Option("--stats", help="Also write the stats as JSON here.")] = None,
        allow_in_process_tests: Annotated[
            bool,
            typer.Option(
                "--allow-in-process-tests",
                help="Keep RL rows whose assert tests run in the candidate's process (a policy can fool "
                "them); counted in the stats and warned about.",
            ),
        ] = False,
        allow_returns_only_tests: Annotated[
            bool,
            typer.Option(
                "--allow-returns-only-tests",
                help="Keep RL rows with call cases marked returns_only (they pass whatever the call "
                "returns); counted in the stats and warned about.",
            ),
        ] = False,
    ) -> None:
        from .. import locks
        from ..errors import UsageError
        from ..io import write_file
        from ..mixing import FORMATS, PICKS, MixStats, mix, token_counter

        if crl_pick not in PICKS:
            raise UsageError(f"--crl-pick must be one of {', '.join(PICKS)}, got {crl_pick!r}")
        if fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if not 0.0 <= crl_ratio <= 1.0:
            raise UsageError(f"--crl-ratio must be between 0 and 1, got {crl_ratio}")
        from ..provenance import finish, record

        prov = record(data=[input], tokenizer=tokenizer)
        counter = token_counter(tokenizer) if tokenizer else None
        check_distinct(("-o/--output", output), ("--stats", stats), ("--skip-invalid", skip_invalid))
        stats_lock = locks.acquire(stats) if stats is not None else None
        stage = Stage(input, output, skip_invalid, problems={})

        places: list[str] = []  # file:line of each problem, for messages about it
        kept: list[dict] = []

        def valid():
            for rec in stage.records():
                places.append(stage.reader.where())
                kept.append(rec)
                yield rec

        def set_aside(i: int, reason: str) -> None:
            source, _, line = places[i].rpartition(":")
            assert stage.reader.skip is not None  # passed on only with --skip-invalid
            stage.reader.skip.write(source, int(line), reason, jsonx.dumps(kept[i]), policy=True)

        st = MixStats()
        rows = mix(
            valid(),
            crl_ratio=crl_ratio,
            seed=seed,
            pick=crl_pick,
            crl_template=crl_template,
            rl_template=rl_template,
            fmt=fmt,
            count_tokens=counter,
            stats=st,
            allow_in_process=allow_in_process_tests,
            places=places,
            set_aside=set_aside if skip_invalid is not None else None,
            allow_returns_only=allow_returns_only_tests,
        )
        stage.run(lambda _records: iter(rows))
        report = st.to_dict()
        report["provenance"] = finish(prov)  # stats files say what made them
        _print_stats(report)
        if stats is not None and stats_lock is not None:  # (both or neither)
            stats.parent.mkdir(parents=True, exist_ok=True)
            write_file(stats, orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
            locks.release(stats_lock)


def _print_stats(report: dict) -> None:
    from rich.table import Table

    from ..log import console, logger

    if report["ratio_unreachable"]:
        logger.warning(
            f"--crl-ratio {report['crl_ratio_requested']} is unreachable: only {report['crl_eligible_problems']} of "
            f"{report['problems']} problems have a judged candidate; achieved CRL ratio "
            f"{report['crl_ratio_achieved']:.3f}"
        )
    if report["rl_rows_in_process"]:
        reasons = ", ".join(f"{k} {v}" for k, v in report["in_process_reasons"].items())
        logger.warning(
            f"{report['rl_rows_in_process']} RL row(s) keep in-process assert tests (--allow-in-process-tests): "
            f"a policy can fool them; not convertible because: {reasons}"
        )
    if report["rl_rows_returns_only"]:
        logger.warning(
            f"{report['rl_rows_returns_only']} RL row(s) keep call cases marked returns_only "
            "(--allow-returns-only-tests): those cases pass whatever the call returns"
        )
    if report["rl_rows_set_aside"]:
        logger.warning(
            f"{report['rl_rows_set_aside']} problem(s) left out (in --skip-invalid): their RL tests would run in "
            "the candidate's process or only check that a call returns"
        )
    if report["rl_rows_without_tests"]:
        logger.warning(f"{report['rl_rows_without_tests']} RL row(s) have no test case: their reward is always 0")
    table = Table(title="crl mix", show_header=True)
    table.add_column("stat")
    table.add_column("value", justify="right")
    table.add_row("problems", str(report["problems"]))
    table.add_row("rows rl / crl", f"{report['rows']['rl']} / {report['rows']['crl']}")
    table.add_row(
        "crl ratio requested / achieved", f"{report['crl_ratio_requested']} / {report['crl_ratio_achieved']:.3f}"
    )
    table.add_row("crl labels T / F", f"{report['crl_labels']['T']} / {report['crl_labels']['F']}")
    cases = report["test_cases_per_rl_row"]
    if cases:
        table.add_row("test cases per rl row (mean / max)", f"{cases['mean']} / {cases['max']}")
        table.add_row("test cases total", str(report["test_cases_total"]))
    if report["rl_rows_converted_from_assert"] or report["rl_rows_in_process"]:
        table.add_row(
            "rl rows assert -> call / in-process",
            f"{report['rl_rows_converted_from_assert']} / {report['rl_rows_in_process']}",
        )
    for kind, tok in (report["prompt_tokens"] or {}).items():
        if tok:
            table.add_row(f"prompt tokens {kind} (mean / p50 / max)", f"{tok['mean']} / {tok['p50']} / {tok['max']}")
    console.print(table)
