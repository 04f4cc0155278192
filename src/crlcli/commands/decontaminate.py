"""`crl decontaminate`: report the problems that overlap the evaluation benchmarks; nothing is dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..log import console, logger
from ._common import InputOpt, OutputOpt, SkipInvalidOpt, Stage

HELP = """Report training problems that overlap the evaluation benchmarks (no filtering).

Reads problem records and writes one JSON line per hit: training id, benchmark, task id, kind (statement, solution, lcb-window), the matched normalised text and its size, as crl filter --contamination-report does; a table of the problems hit per benchmark goes to stderr. A statement hit is a shared 13-gram of normalised words, a solution hit a shared run of 50 normalised code tokens (docs/filter.md).

Examples:

  crl decontaminate -b evalplus,bigcodebench,aider-polyglot --data ../shared/data -i problems.jsonl > hits.jsonl

  crl filter -s leetcode lc.json --max-cases 0 | crl decontaminate -b lcb --data lcb=lcb_release/ -o hits.jsonl
"""


def _table(counts: dict[str, int], screened: int, warned: int):
    from rich.table import Table

    t = Table(title="crl decontaminate", title_justify="left")
    t.add_column("benchmark")
    t.add_column("problems hit", justify="right")
    for bench, n in counts.items():
        t.add_row(bench, f"{n:,}")
    t.caption = f"{screened:,} problems screened; {warned:,} dated inside a LiveCodeBench window (warnings)"
    t.caption_justify = "left"
    return t


def register(app: typer.Typer) -> None:
    @app.command("decontaminate", help=HELP)
    def decontaminate_cmd(
        benchmarks: Annotated[
            str | None,
            typer.Option(
                "--benchmarks",
                "-b",
                help="humaneval[+], mbpp[+], evalplus, lcb[:vN[:START:END]], bigcodebench, aider-polyglot (comma-separated).",
            ),
        ] = None,
        against: Annotated[
            list[Path] | None,
            typer.Option("--against", help="Also against the problems of this JSONL file (repeatable)."),
        ] = None,
        data: Annotated[
            list[str] | None,
            typer.Option(
                "--data",
                help="Benchmark data folder, as crl eval's (default: $CRL_EVAL_DATA); NAME=PATH for one benchmark. Repeatable.",
            ),
        ] = None,
        ngram: Annotated[
            int | None, typer.Option(help="Statement n-gram length in normalised words (default 13).")
        ] = None,
        code_run: Annotated[
            int | None, typer.Option(help="Shared reference-solution run, in normalised code tokens (default 50).")
        ] = None,
        input: InputOpt = None,
        output: OutputOpt = None,
        skip_invalid: SkipInvalidOpt = None,
    ) -> None:
        from .. import decontam
        from ._env import data_root

        index = decontam.prepare(benchmarks, against, data, ngram, code_run, data_root)
        logger.info(index.cache_note)
        deco = decontam.Decontaminator(index)
        stage = Stage(input, output, skip_invalid, problems={})
        counts = {b: 0 for b in index.benchmarks}
        tally = {"screened": 0, "warned": 0}

        def hits(records):
            for rec in records:
                tally["screened"] += 1
                found = deco.screen(rec)
                for b in decontam.contaminating(found):
                    counts[b] += 1
                tally["warned"] += any(h["kind"] == "lcb-window" for h in found)
                yield from found

        stage.run(hits)
        console.print(_table(counts, tally["screened"], tally["warned"]))
