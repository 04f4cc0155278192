"""Test-case filtering (paper, Section 2.2 and Table 2), streaming over problem records.

Per problem: drop cases whose input has more than `max_case_tokens` tokens, then keep at most
`max_cases` cases chosen at random (seeded by `seed` and the problem id, so the choice does not depend on the
order or the company of other problems), in their original order; drop problems left with fewer than
`min_cases`. Which tests have inputs is the test-type table's word (`has_inputs`, sandbox/testtypes.py): `assert`
tests have none, their programs are never token-filtered, and a problem with only a `program` counts as one case.

Statistics are kept in constant memory except one small integer per problem for the medians.
"""

from __future__ import annotations

import random
import statistics
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .sandbox.testtypes import get_type
from .tokens import DEFAULT_NAME, CaseTokenLimit


@dataclass
class FilterOptions:
    max_case_tokens: int = 200  # 0 disables the token filter
    max_cases: int = 30  # 0 keeps every case
    min_cases: int = 1
    seed: int = 0
    tokenizer: str | None = None  # None: the packaged Qwen3 tokenizer
    decontaminate: tuple[str, ...] = ()  # benchmark labels screened against (crlcli.decontam)
    keep_contaminated: bool = False  # flag contaminated problems instead of dropping them


class Side:
    """One column of Table 2 (before or after), accumulated one problem at a time."""

    def __init__(self) -> None:
        self.questions = 0
        self.cases = 0
        self.input_cases = 0
        self.input_chars = 0
        self.counts = array("I")  # per-problem case counts, for the median

    def add(self, n_cases: int, input_cases: int, input_chars: int) -> None:
        self.questions += 1
        self.cases += n_cases
        self.input_cases += input_cases
        self.input_chars += input_chars
        self.counts.append(n_cases)

    def summary(self) -> dict[str, Any]:
        q = self.questions
        return {
            "questions": q,
            "test_cases": self.cases,
            "avg_test_cases": round(self.cases / q, 2) if q else 0.0,
            "median_test_cases": statistics.median(self.counts) if q else 0,
            "avg_test_input_chars_per_case": round(self.input_chars / self.input_cases, 1) if self.input_cases else 0.0,
            "avg_test_input_chars_per_question": round(self.input_chars / q, 1) if q else 0.0,
            "test_input_chars": self.input_chars,
        }


@dataclass
class FilterStats:
    options: FilterOptions
    before: Side = field(default_factory=Side)
    after: Side = field(default_factory=Side)
    long_cases_dropped: int = 0
    sampled_out: int = 0
    problems_dropped: int = 0
    tokenizer_loaded: bool = False
    contaminated: dict[str, int] = field(default_factory=dict)  # benchmark -> problems (one may count in several)
    contaminated_questions: int = 0

    def contaminated_counts(self) -> dict[str, int]:
        """Problems found contaminated, per screened benchmark (zeros included), in the order asked for."""
        return {b: self.contaminated.get(b, 0) for b in self.options.decontaminate}

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        out = {
            "options": {
                "max_case_tokens": o.max_case_tokens,
                "max_cases": o.max_cases,
                "min_cases": o.min_cases,
                "seed": o.seed,
                "tokenizer": o.tokenizer or DEFAULT_NAME,
                "tokenizer_loaded": self.tokenizer_loaded,
            },
            "before": self.before.summary(),
            "after": self.after.summary(),
            "dropped": {
                "long_cases": self.long_cases_dropped,
                "sampled_out_cases": self.sampled_out,
                "questions": self.problems_dropped,
            },
        }
        if o.decontaminate:  # only then, so that the statistics of a plain run keep their shape
            out["options"]["decontaminate"] = list(o.decontaminate)
            per = self.contaminated_counts()
            if o.keep_contaminated:
                out["flagged_contaminated"] = {"questions": self.contaminated_questions, "by_benchmark": per}
            else:
                out["dropped"]["contaminated"] = per
                out["dropped"]["contaminated_questions"] = self.contaminated_questions
        return out


def sample_indices(n: int, k: int, seed: int, problem_id: str) -> list[int]:
    """k of range(n), sorted; the same for the same (seed, id) on every machine (str seeds hash with SHA-512)."""
    rng = random.Random(f"{seed}\x00{problem_id}")
    return sorted(rng.sample(range(n), k))


def filter_records(
    records: Iterable[dict[str, Any]],
    options: FilterOptions,
    stats: FilterStats | None = None,
    reject: Callable[[dict[str, Any], str], None] | None = None,
    limit: CaseTokenLimit | None = None,
    screen: Callable[[dict[str, Any]], list[str]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Filtered problem records. `reject(record, why)` is called for a record whose cases are malformed
    (it raises to stop, or records the skip); without it such a record raises ValueError. `screen(record)`
    names the benchmarks a record is contaminated with (crlcli.decontam.Screen): such a record is counted
    (before: yes, after: no) and dropped, unless `options.keep_contaminated`."""
    stats = stats if stats is not None else FilterStats(options)
    limit = limit or CaseTokenLimit(options.max_case_tokens, options.tokenizer)
    for record in records:
        tests = record["tests"]
        kind = tests["type"]
        ttype = get_type(kind)
        cases = tests.get("cases")
        cases = cases if isinstance(cases, list) else []
        if ttype.has_inputs:
            kept: list = []
            chars_before = chars_after = 0
            bad = None
            for i, case in enumerate(cases):
                text = ttype.input_text(case)
                if text is None:
                    bad = f"record {record.get('id')!r}: tests.cases[{i}] has no valid input for {kind} tests"
                    break
                n = len(text)
                chars_before += n
                if limit.over(text):
                    continue
                kept.append((case, n))
            if bad is not None:
                if reject is None:
                    raise ValueError(bad)
                reject(record, bad)
                continue
            stats.before.add(len(cases), len(cases), chars_before)
            stats.long_cases_dropped += len(cases) - len(kept)
            kept_cases = _sample(kept, options, record)
            stats.sampled_out += len(kept) - len(kept_cases)
            n_after = len(kept_cases)
            chars_after = sum(n for _, n in kept_cases)
            new_cases = [c for c, _ in kept_cases]
            inputs_after = n_after
        else:  # e.g. assert: programs are not inputs; a lone program is one case
            n_before = len(cases) if cases else (1 if tests.get("program") else 0)
            stats.before.add(n_before, 0, 0)
            new_cases = [c for c, _ in _sample([(c, 0) for c in cases], options, record)]
            stats.sampled_out += len(cases) - len(new_cases)
            n_after = len(new_cases) if cases else n_before
            chars_after = inputs_after = 0
        if screen is not None and (benchmarks := screen(record)):
            stats.contaminated_questions += 1
            for b in benchmarks:
                stats.contaminated[b] = stats.contaminated.get(b, 0) + 1
            if not options.keep_contaminated:
                continue
        if n_after < options.min_cases:
            stats.problems_dropped += 1
            continue
        stats.after.add(n_after, inputs_after, chars_after)
        if new_cases is not cases and (ttype.has_inputs or cases):
            record = {**record, "tests": {**tests, "cases": new_cases}}
        yield record
    stats.tokenizer_loaded = stats.tokenizer_loaded or limit.loaded


def _sample(kept: list, options: FilterOptions, record: dict) -> list:
    k = options.max_cases
    if k <= 0 or len(kept) <= k:
        return kept
    return [kept[i] for i in sample_indices(len(kept), k, options.seed, str(record.get("id")))]
