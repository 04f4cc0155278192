"""Problem records x candidates -> judgments (pass rate over all tests, verdict letters, the T/F label).

Records stream in and out in input order; candidates of many records are in flight at once so that every
sandbox worker stays busy. One ordered window (`judge_window`) does this for every judge; only what runs the
candidates differs (a `Runner`): this machine's pool (`LocalJudge`, or `judge_records` over a pool the caller
owns) or a pool per node of a Ray cluster (distributed/judge.py's RayJudge). `crl judge` holds either as a
`Judge`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import CrlError
from .records import json_type
from .sandbox import Limits, SandboxPool
from .sandbox.jobs import prepare
from .sandbox.testtypes import trust_of
from .verdicts import LABEL_THRESHOLD as LABEL_THRESHOLD  # re-exported: the stages use this name


def label_for(pass_rate: float, threshold: float = LABEL_THRESHOLD) -> str:
    """The CRL ground truth: "T" iff the pass rate is strictly above the threshold (paper: 0.8)."""
    return "T" if pass_rate > threshold else "F"


@dataclass
class JudgeStats:
    records: int = 0
    candidates: int = 0
    tests: int = 0
    passed: int = 0
    no_candidates: int = 0
    rejected: int = 0
    labels_t: int = 0
    in_process: int = 0  # candidates whose tests ran in their own process (trust "in-process")
    returns_only: int = 0  # candidates with call cases that check only that the call returns (testtypes.RETURNS_ONLY)

    def judged(self, cand: dict[str, Any], result: dict[str, Any], threshold: float) -> None:
        """Give `cand` the judgment of its sandbox result, and count it."""
        cand["judgment"] = judgment(result, threshold)
        self.candidates += 1
        self.tests += result["total"]
        self.passed += result["passed"]
        self.labels_t += cand["judgment"]["label"] == "T"
        self.in_process += cand["judgment"]["trust"] == "in-process"
        self.returns_only += cand["judgment"]["trust"] == "returns-only"


def judgment(result: dict[str, Any], threshold: float) -> dict[str, Any]:
    return {
        "pass_rate": result["pass_rate"],
        "passed": result["passed"],
        "total": result["total"],
        "label": label_for(result["pass_rate"], threshold),
        "verdicts": result["verdicts"],
        "time_ms": result["time_ms"],
        "trust": trust_of(result),
    }  # without a level: in-process (the safe side)


class Judge(Protocol):
    """What `crl judge` drives: the local pool (LocalJudge) or the pools of a Ray cluster (distributed.judge's
    RayJudge). Both judge exactly alike (same checks, same sandbox, same window), and are context managers that
    stop their sandboxes on exit."""

    def describe(self) -> list[tuple[str, str]]:
        """("info" | "warning", message) lines saying where candidates will run and how isolated they are."""
        ...

    def judge_records(
        self,
        records: Iterable[dict[str, Any]],
        threshold: float = LABEL_THRESHOLD,
        reject: Callable[[dict[str, Any], str], None] | None = None,
        on_candidate: Callable[[int], None] | None = None,
        stats: JudgeStats | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Add `judgment` to every candidate of every record, in input order (see the module function)."""
        ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: Any) -> Any: ...


class Runner(Protocol):
    """How the ordered window gets candidates run: one instance per judge_records call."""

    limit: int  # candidates in flight (submitted, not yet yielded) past which the window waits for its head

    def submit(self, tests: Any, codes: list[str]) -> list[Future]:
        """Queue one record's candidates; each future gives run_tests()'s dict."""
        ...

    def flush(self) -> None:
        """Send whatever submit() held back (a part-filled batch): no more records are coming."""
        ...

    def wait(self, futures: list[Future]) -> None:
        """Block until some progress is made towards `futures` being done (not necessarily all of them)."""
        ...

    def abandon(self) -> None:
        """The run stopped early (an error, an interrupt): drop what is still queued, where that is possible."""
        ...


NO_ISOLATION_WARNING = "RUNNING UNTRUSTED CODE WITHOUT ISOLATION; --require-isolation refuses to"


def judge_window(
    records: Iterable[dict[str, Any]],
    runner: Runner,
    limits: Limits,
    threshold: float = LABEL_THRESHOLD,
    reject: Callable[[dict[str, Any], str], None] | None = None,
    on_candidate: Callable[[int], None] | None = None,
    stats: JudgeStats | None = None,
) -> Iterator[dict[str, Any]]:
    """The ordered window every judge shares: records are checked (`limits`: what the sandbox will refuse),
    their candidates handed to `runner`, and each record is yielded, judged, once its last candidate is back and
    every record before it was yielded. At most `runner.limit` candidates wait in the window; past that the
    window waits for its head record (so memory stays bounded however slow one record is)."""
    stats = stats if stats is not None else JudgeStats()
    window: deque[tuple[dict[str, Any], list[Future]]] = deque()
    in_flight = 0

    def drain(all_: bool) -> Iterator[dict[str, Any]]:
        nonlocal in_flight
        while window:
            record, futures = window[0]
            if not all(f.done() for f in futures):
                if not (all_ or in_flight > runner.limit):
                    return
                runner.wait(futures)
                continue
            window.popleft()
            for cand, fut in zip(record.get("candidates") or [], futures):
                result = fut.result()
                stats.judged(cand, result, threshold)
                in_flight -= 1
                if on_candidate is not None:
                    on_candidate(result["total"])
            stats.records += 1
            yield record

    try:
        for record in records:
            cands = record.get("candidates")
            if not cands:
                stats.no_candidates += 1
                window.append((record, []))
                yield from drain(False)
                continue
            codes = checked_codes(record, limits, stats, reject)
            if codes is None:
                continue
            futures = runner.submit(record.get("tests"), codes)
            window.append((record, futures))
            in_flight += len(futures)
            yield from drain(False)
        runner.flush()
        yield from drain(True)
    except BaseException:
        runner.abandon()
        raise


class _PoolRunner:
    """A local SandboxPool behind the window: one future per candidate, straight from the pool."""

    def __init__(self, pool: SandboxPool, limits: Limits | None):
        self.pool, self.limits = pool, limits
        self.limit = 8 * pool.workers  # enough queued to keep every worker busy between two records

    def submit(self, tests: Any, codes: list[str]) -> list[Future]:
        return [self.pool.submit(code, tests, self.limits) for code in codes]

    def flush(self) -> None:
        pass

    def wait(self, futures: list[Future]) -> None:
        wait_all(futures)  # the pool's own threads fill them

    def abandon(self) -> None:
        pass  # closing the pool (its owner's business) cancels what is queued


class LocalJudge:
    """The Judge over one SandboxPool on this machine. `LocalJudge.open(...)` starts a pool of its own (closed
    with the judge); `LocalJudge(pool)` judges with a pool the caller owns."""

    def __init__(self, pool: SandboxPool, limits: Limits | None = None, owns_pool: bool = False):
        self.pool, self.limits, self._owns = pool, limits, owns_pool

    @classmethod
    def open(
        cls, workers: int = 0, limits: Limits = Limits(), mode: str = "auto", require_isolation: bool = False
    ) -> LocalJudge:
        pool = SandboxPool(
            workers=workers or os.cpu_count(), limits=limits, mode=mode, require_isolation=require_isolation
        )
        return cls(pool, limits, owns_pool=True)

    def describe(self) -> list[tuple[str, str]]:
        if self.pool.mode == "bwrap":
            return [("info", f"sandbox: bwrap ({self.pool.info.detail})")]
        return [("warning", f"sandbox: limits only. {self.pool.info.detail}"), ("warning", NO_ISOLATION_WARNING)]

    def judge_records(
        self,
        records: Iterable[dict[str, Any]],
        threshold: float = LABEL_THRESHOLD,
        reject: Callable[[dict[str, Any], str], None] | None = None,
        on_candidate: Callable[[int], None] | None = None,
        stats: JudgeStats | None = None,
    ) -> Iterator[dict[str, Any]]:
        return judge_window(
            records,
            _PoolRunner(self.pool, self.limits),
            self.limits or self.pool.limits,
            threshold,
            reject,
            on_candidate,
            stats,
        )

    def __enter__(self) -> LocalJudge:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._owns:
            self.pool.__exit__(exc_type, *exc)


def judge_records(
    records: Iterable[dict[str, Any]],
    pool: SandboxPool,
    threshold: float = LABEL_THRESHOLD,
    limits: Limits | None = None,
    reject: Callable[[dict[str, Any], str], None] | None = None,
    on_candidate: Callable[[int], None] | None = None,
    stats: JudgeStats | None = None,
) -> Iterator[dict[str, Any]]:
    """Add `judgment` to every candidate of every record; records without candidates pass through unchanged.

    reject(record, reason) is called for a record whose `tests` cannot be used (it may raise to stop); such a
    record is not yielded. on_candidate(tests_run) is called (in this thread) as each candidate finishes.
    `limits`: the candidates' limits when not the pool's own."""
    return LocalJudge(pool, limits).judge_records(records, threshold, reject, on_candidate, stats)


def checked_codes(
    record: dict[str, Any], limits: Limits, stats: JudgeStats, reject: Callable[[dict[str, Any], str], None] | None
) -> list[str] | None:
    """The code of each candidate of a record that has some, or None when the record is rejected (counted, and
    `reject` told why): candidates that are not objects with string code, or tests the sandbox would refuse."""
    cands = record["candidates"]
    if not isinstance(cands, list) or not all(isinstance(c, dict) for c in cands):
        why = "'candidates' must be a list of objects with 'code'"
    else:
        try:
            codes = [_code(c) for c in cands]
            prepare("", record.get("tests"), limits)  # the sandbox's own checks, before anything runs
            return codes
        except CrlError as exc:
            why = f"record {record.get('id')!r}: {exc.message}"
    stats.rejected += 1
    _reject(reject, record, why)
    return None


def _code(cand: dict[str, Any]) -> str:
    """A candidate's code; absent, null or not a string is bad input (judged, it would be a silent F)."""
    code = cand.get("code")
    if "code" not in cand:
        raise CrlError(f"candidate {cand.get('id')!r}: missing string field 'code'")
    if not isinstance(code, str):
        raise CrlError(f"candidate {cand.get('id')!r}: field 'code' must be a string, got {json_type(code)}")
    return code


def _reject(reject, record: dict[str, Any], reason: str) -> None:
    if reject is None:
        raise CrlError(reason)
    reject(record, reason)
