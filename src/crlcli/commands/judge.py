"""`crl judge`: run every candidate on every test case of its problem in the sandbox and label it T/F."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer

from ..sandbox.limits import MEMORY_MB, SANDBOX_MODES, TIMEOUT_S
from ..verdicts import LABEL_THRESHOLD  # not judging: --help must not load the sandbox
from ._common import InputOpt, OutputOpt, ResumeOpt, SkipInvalidOpt, Stage, check_numbers, renamed

HELP = """Run candidates on their tests in the sandbox; add a judgment to each.

Each candidate gets judgment = {pass_rate, passed, total, label, verdicts,
time_ms}; label is T when pass_rate > --threshold, else F. Verdicts, one
letter per test case: A accepted, W wrong answer, T time limit, M memory
limit, O output limit, R runtime error, C syntax error, S sandbox failure.
Records without candidates pass through (counted in a warning).

  crl filter --source leetcode data.parquet | crl judge > judged.jsonl

  crl gen-candidates ... | crl judge --test-timeout 4 --require-isolation -o judged.jsonl --resume

  crl judge -i lcb_style.jsonl --compare lcb > judged.jsonl   # LiveCodeBench's grader

  crl judge --ray-address auto -i cands.jsonl -o judged.jsonl --resume   # a Ray cluster

Outputs are compared token by token (floats within 1e-6) unless a record's
tests.compare or --compare says otherwise: lcb = LiveCodeBench's rule
(stripped lines, same count, equal as text or as exact Decimals).
"""

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)i?b?", re.I)


def parse_size(text: str) -> int:
    """`16M`, `512k`, `1G` or plain bytes."""
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise typer.BadParameter(f"not a size: {text!r} (use bytes or a k/M/G suffix)")
    return int(float(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()])


def with_compare(records: Iterable[dict[str, Any]], name: str) -> Iterator[dict[str, Any]]:
    """Every record's tests judged with comparator `name`, which the output records say (tests.compare), so
    that `crl mix` carries the rule into the RL labels and the reward applies the same one."""
    for record in records:
        tests = record.get("tests") if isinstance(record, dict) else None
        if isinstance(tests, dict):
            record["tests"] = {**tests, "compare": name}
        yield record


def _counted(records: Iterable[dict[str, Any]], meter: Any) -> Iterator[dict[str, Any]]:
    for record in records:
        meter.advance(1)
        yield record


def register(app: typer.Typer) -> None:
    @app.command("judge", help=HELP)
    def judge_cmd(
        input: InputOpt = None,
        output: OutputOpt = None,
        skip_invalid: SkipInvalidOpt = None,
        resume: ResumeOpt = False,
        workers: Annotated[int, typer.Option("--workers", help="Parallel sandboxes (0 = all cores).")] = 0,
        test_timeout: Annotated[
            float | None,
            typer.Option(
                "--test-timeout",
                help=f"Seconds per test case (CPU and wall). [default: {TIMEOUT_S:g}]",
                show_default=False,
            ),
        ] = None,
        old_timeout: Annotated[float | None, typer.Option("--timeout", hidden=True)] = None,
        memory_mb: Annotated[
            int | None,
            typer.Option(
                "--memory-mb", help=f"Memory limit per process, MB. [default: {MEMORY_MB}]", show_default=False
            ),
        ] = None,
        old_memory: Annotated[int | None, typer.Option("--memory", hidden=True)] = None,
        max_output: Annotated[
            str, typer.Option("--max-output", help="Output cap per test case (bytes, or 16M, 1G...).")
        ] = "16M",
        max_tests: Annotated[int, typer.Option("--max-tests", help="Run only the first N cases (0 = all).")] = 0,
        sandbox: Annotated[
            str, typer.Option("--sandbox", help="auto | bwrap | limits (limits: no isolation).")
        ] = "auto",
        require_isolation: Annotated[
            bool, typer.Option("--require-isolation", help="Refuse to run without the bwrap sandbox.")
        ] = False,
        threshold: Annotated[
            float, typer.Option("--threshold", help="Label T when pass_rate > this.")
        ] = LABEL_THRESHOLD,
        compare: Annotated[
            str | None,
            typer.Option(
                "--compare",
                help="Output comparator for every record: tokens | lcb (LiveCodeBench's "
                "grader). Default: each record's tests.compare, else tokens.",
            ),
        ] = None,
        ray_address: Annotated[
            str | None,
            typer.Option(
                "--ray-address",
                help="Judge on a Ray cluster, one sandbox pool per node (auto = the "
                "cluster this machine joined; --workers caps each node). "
                "docs/cluster.md",
            ),
        ] = None,
    ) -> None:
        from ..errors import CrlError, UsageError
        from ..io import count_lines
        from ..judging import Judge, JudgeStats, LocalJudge
        from ..log import console, logger
        from ..progress import Meter
        from ..sandbox import Limits
        from ..sandbox.compare import COMPARATORS

        timeout = renamed("--test-timeout", test_timeout, "--timeout", old_timeout)
        timeout = TIMEOUT_S if timeout is None else timeout
        memory = renamed("--memory-mb", memory_mb, "--memory", old_memory)
        memory = MEMORY_MB if memory is None else memory
        if compare is not None and compare not in COMPARATORS:
            raise UsageError(f"--compare must be one of {', '.join(COMPARATORS)}, got {compare!r}")
        if sandbox not in SANDBOX_MODES:
            raise UsageError(f"--sandbox must be auto, bwrap or limits, got {sandbox!r}")
        check_numbers(
            ("--workers", workers, 0, False),
            ("--max-tests", max_tests, 0, False),
            ("--test-timeout", timeout, 0, True),
            ("--memory-mb", memory, 32, False),
            ("--threshold", threshold, 0, False),
        )
        if not threshold <= 1.0:
            raise UsageError(f"--threshold must be between 0 and 1, got {threshold}")
        if require_isolation and sandbox == "limits":
            raise UsageError(
                "--require-isolation and --sandbox limits contradict each other",
                hint="limits is the mode without isolation: drop one of them",
            )
        try:
            limits = Limits(timeout=timeout, memory_mb=memory, max_output=parse_size(max_output), max_tests=max_tests)
        except typer.BadParameter as exc:
            raise UsageError(f"--max-output: {exc}") from None
        except CrlError as exc:
            raise UsageError(exc.message, exc.hint) from None
        # tests are needed (and checked by the sandbox's prepare) only for records with candidates
        stage = Stage(input, output, skip_invalid, resume, problems={"question": False, "tests": False})
        # SIGTERM unwinds like Ctrl-C (crlcli.cli's boundary), so every sandbox is killed and every cgroup removed.
        judge: Judge
        if ray_address:
            from ..distributed.judge import RayJudge

            judge = RayJudge(
                ray_address, limits=limits, mode=sandbox, require_isolation=require_isolation, workers=workers
            )
        else:
            judge = LocalJudge.open(workers, limits, mode=sandbox, require_isolation=require_isolation)
        with judge:
            for level, message in judge.describe():
                (logger.warning if level == "warning" else logger.info)(message)
            stats = JudgeStats()
            # A file's records are counted first (a quick line count), so the bar has a total and an ETA.
            total = count_lines(input) if console.is_terminal else None
            with Meter(
                "judging", total=total, unit="rec", extra=("cand", "tests"), enabled=console.is_terminal
            ) as meter:
                records = stage.records() if compare is None else with_compare(stage.records(), compare)
                judged = judge.judge_records(
                    records,
                    threshold,
                    reject=stage.reader.reject,
                    on_candidate=lambda n: meter.advance(0, cand=1, tests=n),
                    stats=stats,
                )
                stage.run(lambda _records: _counted(judged, meter))
            rate = stats.candidates / meter.elapsed if meter.elapsed > 0 else 0.0
            logger.info(
                f"judged {stats.candidates} candidate(s) of {stats.records - stats.no_candidates} "
                f"record(s): {stats.tests} tests, {stats.passed} passed, {stats.labels_t} labelled T "
                f"({rate:.1f} cand/s, {stats.tests / max(meter.elapsed, 1e-9):.0f} tests/s)"
            )
            if stats.in_process:
                logger.warning(
                    f"{stats.in_process} candidate(s) were judged by assert tests that stay in the "
                    'candidate\'s process (judgment.trust "in-process": a candidate can fool them); '
                    "crl mix refuses them for RL unless --allow-in-process-tests"
                )
            if stats.returns_only:
                logger.warning(
                    f"{stats.returns_only} candidate(s) had call cases marked returns_only (they pass "
                    'whatever the call returns; judgment.trust "returns-only"); crl mix keeps them out '
                    "of RL rows unless --allow-returns-only-tests"
                )
            if stats.no_candidates:
                logger.warning(f"{stats.no_candidates} record(s) had no candidates and passed through unjudged")
