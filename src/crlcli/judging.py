"""Problem records x candidates -> judgments (pass rate over all tests, verdict letters, the T/F label).

Records stream in and out in input order; candidates of many records are in flight at once so that every
sandbox worker stays busy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from .errors import CrlError
from .records import json_type
from .sandbox import Limits, SandboxPool
from .sandbox.jobs import prepare
from .sandbox.testtypes import trust_of


LABEL_THRESHOLD = 0.8  # the paper's: a candidate is labelled T when its pass rate is strictly above this


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
    return {"pass_rate": result["pass_rate"], "passed": result["passed"], "total": result["total"],
            "label": label_for(result["pass_rate"], threshold), "verdicts": result["verdicts"],
            "time_ms": result["time_ms"], "trust": trust_of(result)}  # without a level: in-process (the safe side)


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
    record is not yielded. on_candidate(tests_run) is called (in this thread) as each candidate finishes."""
    stats = stats if stats is not None else JudgeStats()
    window: deque[tuple[dict[str, Any], list[Future]]] = deque()
    in_flight = 0
    limit = 8 * pool.workers

    def drain(all_: bool) -> Iterator[dict[str, Any]]:
        nonlocal in_flight
        while window and (all_ or in_flight > limit or all(f.done() for f in window[0][1])):
            record, futures = window.popleft()
            for cand, fut in zip(record.get("candidates") or [], futures):
                result = fut.result()
                stats.judged(cand, result, threshold)
                in_flight -= 1
                if on_candidate is not None:
                    on_candidate(result["total"])
            stats.records += 1
            yield record

    for record in records:
        cands = record.get("candidates")
        if not cands:
            stats.no_candidates += 1
            window.append((record, []))
            yield from drain(False)
            continue
        codes = checked_codes(record, limits or pool.limits, stats, reject)
        if codes is None:
            continue
        futures = [pool.submit(code, record.get("tests"), limits) for code in codes]
        window.append((record, futures))
        in_flight += len(futures)
        yield from drain(False)
    yield from drain(True)


def checked_codes(record: dict[str, Any], limits: Limits, stats: JudgeStats,
                  reject: Callable[[dict[str, Any], str], None] | None) -> list[str] | None:
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
