"""Decontamination: training problems that overlap the evaluation benchmarks are found (and dropped or flagged).

    from crlcli.decontam import open_index, parse_specs, Decontaminator
    deco = Decontaminator(open_index(parse_specs("humaneval+,mbpp+"), data="../shared/data"))
    hits = deco.screen(record)   # [{"id", "benchmark", "task_id", "kind", "match", "size", ...}]

A record is contaminated by a benchmark problem when its statement shares an n-gram of normalised words with
the problem's statement (default n = 13), or one of its reference solutions shares a run of at least
`code_n` normalised code tokens (default 50) with the problem's canonical solution (normalize.py says what
"normalised" means). LiveCodeBench specs also warn about training records dated inside their window or from
one of their contests. The method, its defaults and measurements: docs/filter.md.
"""

from __future__ import annotations

from typing import Any

from .benchmarks import NAMES, Spec, parse_specs
from .index import DEFAULT_CODE_RUN, DEFAULT_NGRAM, KINDS, Index, open_index
from .screen import Decontaminator, contaminating

__all__ = [
    "DEFAULT_CODE_RUN",
    "DEFAULT_NGRAM",
    "Decontaminator",
    "Index",
    "NAMES",
    "Screen",
    "Spec",
    "contaminating",
    "open_index",
    "parse_specs",
    "prepare",
    "report_state",
    "split_data",
]


class Screen:
    """The `screen` of `crlcli.filtering.filter_records`: screens a record, writes its hits to the report, and
    returns the benchmarks it is contaminated with. With `keep`, contaminated records stay, marked with a
    `contamination` list.

    Report lines carry the record's `action` (dropped, flagged, or warned for date-window warnings alone), so a
    resumed run treats dropped ids as done; `reported` holds the ids a resumed report already has, whose lines
    are not written twice. The report is written before the record is, so no hit of a written record is lost.
    """

    def __init__(self, deco: Decontaminator, report: Any = None, keep: bool = False, reported: set[str] | None = None):
        self.deco, self.report, self.keep = deco, report, keep
        self.reported = reported or set()
        self.window_warnings = 0

    def __call__(self, record: dict[str, Any]) -> list[str]:
        hits = self.deco.screen(record)
        if not hits:
            return []
        labels = contaminating(hits)
        action = ("flagged" if self.keep else "dropped") if labels else "warned"
        self.window_warnings += sum(1 for h in hits if h["kind"] not in KINDS)
        if self.report is not None and str(record.get("id")) not in self.reported:
            for h in hits:
                self.report.write({**h, "action": action})
        if self.keep and labels:
            record["contamination"] = [
                {k: h[k] for k in ("benchmark", "task_id", "kind", "size")} for h in hits if h["kind"] in KINDS
            ]
        return labels


def prepare(
    benchmarks: str | None,
    against: list[Any] | None,
    data: list[str] | None,
    ngram: int | None,
    code_run: int | None,
    data_root: Any = None,
) -> Index:
    """The index the command-line options ask for (`--data` values as given; None: the defaults; `data_root`:
    the folder searched without --data, evaluation.base.DataRoot)."""
    from ..errors import UsageError

    specs = parse_specs(benchmarks, against)
    if not specs:
        raise UsageError("no benchmark to screen against", hint="name some, or give a JSONL file of problems")
    if (ngram is not None and ngram < 1) or (code_run is not None and code_run < 1):
        raise UsageError("--ngram and --code-run must be >= 1")
    shared, overrides = split_data(data)
    return open_index(
        specs,
        shared,
        overrides,
        DEFAULT_NGRAM if ngram is None else ngram,
        DEFAULT_CODE_RUN if code_run is None else code_run,
        data_root,
    )


def split_data(values: list[str] | None) -> tuple[str | None, dict[str, str]]:
    """`--data PATH` (every benchmark) and `--data NAME=PATH` (one benchmark) -> (PATH, {NAME: PATH})."""
    from ..errors import UsageError

    shared, overrides = None, {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if sep and name and "/" not in name:
            overrides[name.strip().lower()] = path
        elif shared is None:
            shared = v
        else:
            raise UsageError(f"--data given twice ({shared}, {v})", hint="one shared folder; NAME=PATH for others")
    return shared, overrides


def report_state(path: Any) -> tuple[set[str], set[str]]:
    """For --resume: (ids the report already has, ids it says were dropped, which a rerun must skip)."""
    from pathlib import Path

    from .. import jsonx
    from ..io import open_binary_read, trim_torn_tail

    p = Path(path)
    reported: set[str] = set()
    dropped: set[str] = set()
    if not p.is_file():
        return reported, dropped
    trim_torn_tail(p)
    with open_binary_read(p) as fh:
        for raw in fh:
            try:
                hit = jsonx.loads(raw)
            except jsonx.JSONDecodeError:
                continue
            if isinstance(hit, dict) and "id" in hit:
                reported.add(str(hit["id"]))
                if hit.get("action") == "dropped":
                    dropped.add(str(hit["id"]))
    return reported, dropped
