"""Tables of eval results: one run's summary, and the paper-style table across runs (Rich, Markdown, CSV, plot).

A report row is a model (runs of the same model on different benchmarks merge into one row, like the paper's
Table 3); a column is a headline number of some benchmark (evalplus contributes humaneval, humaneval+, mbpp,
mbpp+ and evalplus; bbeh its subtasks and their average). Scores are pass@1 in percent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from ..errors import CrlError
from .rundir import RunDir

# Preferred column order; columns not listed follow in first-seen order.
ORDER = (
    "humaneval",
    "humaneval+",
    "mbpp",
    "mbpp+",
    "evalplus",
    "bigcodebench-full",
    "bigcodebench-hard",
    "aider-polyglot",
    "lcb-v5",
    "bbeh:time_arithmetic",
    "bbeh:disambiguation_qa",
    "bbeh:zebra_puzzles",
    "bbeh:boardgame_qa",
    "bbeh",
)


MARK = "†"
FOOTNOTE = (
    f"{MARK} scored in-process: the tests ran inside the candidate's own process, where code written "
    "against the harness can forge a pass (hardened, not a trust boundary; see docs/judge.md)"
)


GRADING_MARK = "‡"
GRADING_NOTE = (
    f"{GRADING_MARK} graded differently from the benchmark's official harness, so not comparable with "
    "published numbers: {notes}"
)


class Cell(float):
    """A headline score: a float everywhere, marked in tables when it was (partly) obtained in-process, when its
    run was graded by a rule other than the official harness's (`grading`: why), and, when its run covered only
    part of the benchmark (--limit, tasks left out), with `(n/N)` tasks."""

    in_process = False
    coverage: tuple[int, int] | None = None
    grading: str | None = None


def pct(value: float | None) -> str:
    if value is None:
        return "-"
    cov = getattr(value, "coverage", None)
    return (
        f"{100 * value:.1f}"
        + (MARK if getattr(value, "in_process", False) else "")
        + (GRADING_MARK if getattr(value, "grading", None) else "")
        + (f" ({cov[0]}/{cov[1]})" if cov else "")
    )


def grading_differs(summary: dict[str, Any]) -> str | None:
    """Why a run's grading differs from its benchmark's official harness (docs/eval.md, one table per benchmark),
    or None. A benchmark states its rule in `benchmark_info.grading` ({"rule", "official", "note"}); LiveCodeBench
    runs scored before it had LiveCodeBench's own rule say nothing and were graded by the judge's
    token comparator (`crl eval score RUN_DIR` regrades them)."""
    info = summary.get("benchmark_info")
    if not isinstance(info, dict):  # not written by `crl eval` (hand-made summaries): nothing known
        return None
    grading = info.get("grading")
    if isinstance(grading, dict):
        return None if grading.get("official", True) else str(grading.get("note") or grading.get("rule") or "")
    if str(summary.get("benchmark", "")).startswith("lcb"):
        return (
            f"{summary['benchmark']} scored with the token comparator, not LiveCodeBench's rule "
            "(rescore: crl eval score RUN_DIR)"
        )
    return None


def _grading_notes(rows: list[tuple[str, dict[str, float | None]]]) -> list[str]:
    notes = sorted({g for _, row in rows for v in row.values() if (g := getattr(v, "grading", None))})
    return [GRADING_NOTE.format(notes="; ".join(notes))] if notes else []


def coverage(summary: dict[str, Any]) -> tuple[int, int] | None:
    """(tasks scored, tasks in the benchmark) when a run covered only part of it; None when whole (or unknown:
    summaries written before `counts.benchmark_tasks`)."""
    counts = summary.get("counts") or {}
    n, total = counts.get("tasks"), counts.get("benchmark_tasks")
    if isinstance(n, int) and isinstance(total, int) and n < total:
        return n, total
    return None


def in_process(summary: dict[str, Any]) -> bool:
    """Whether a run's scored samples include any that a test harness inside the candidate's process decided."""
    trust = summary.get("trust") or {}
    return trust.get("scored") in ("in-process", "mixed")


def _any_marked(rows: list[tuple[str, dict[str, float | None]]]) -> bool:
    return any(getattr(v, "in_process", False) for _, row in rows for v in row.values())


def _any_partial(rows: list[tuple[str, dict[str, float | None]]]) -> bool:
    return any(getattr(v, "coverage", None) for _, row in rows for v in row.values())


PARTIAL_NOTE = "(n/N): the run scored n of the benchmark's N tasks (--limit, or tasks left out)"


def summary_table(summary: dict[str, Any]) -> Table:
    """One run: headline numbers, every metric's pass@k, then the breakdown."""
    t = Table(title=f"{summary['benchmark']} · {summary.get('model') or 'samples'} · n={summary.get('n')}")
    t.add_column("what")
    t.add_column("score (%)", justify="right")
    t.add_column("tasks", justify="right")
    part = coverage(summary)
    for name, value in summary.get("headline", {}).items():
        t.add_row(f"[bold]{name}[/]", pct(value), f"{part[0]}/{part[1]}" if part else str(summary["counts"]["tasks"]))
    for metric, ks in summary.get("metrics", {}).items():
        for k, value in ks.items():
            t.add_row(f"{metric} {k}", pct(value), "")
    for key, values in summary.get("breakdown", {}).items():
        for value, scores in values.items():
            shown = ", ".join(f"{m} {pct(v)}" for m, v in scores.items() if m != "tasks")
            t.add_row(f"{key}={value}", shown, str(scores.get("tasks", "")))
    if in_process(summary):
        n = (summary.get("trust") or {}).get("samples", {}).get("in-process", 0)
        t.add_row(f"[yellow]scored in-process{MARK}[/]", f"{n} samples", "")
    c = summary.get("counts", {})
    env = c.get("env_errors", 0)
    if env:  # not wrong answers: missing libraries/toolchains, left out of every score above
        t.add_row(
            "[yellow]environment errors (not scored)[/]",
            f"{env} samples",
            str(len(summary.get("env_errors", {}).get("task_ids", []))),
        )
    t.caption = (
        f"{c.get('samples', 0)} samples, {env} environment errors, "
        f"{c.get('no_extraction', 0)} without code/answer, "
        f"{c.get('truncated', 0)} truncated; time "
        + ", ".join(f"{k} {v:.1f}s" for k, v in summary.get("time", {}).items())
    )
    if in_process(summary):
        t.caption += "\n" + FOOTNOTE
    differs = grading_differs(summary)
    if differs:
        t.caption += "\n" + GRADING_NOTE.format(notes=differs)
    return t


def collect(
    run_dirs: Sequence[str | Path], label: str = "model"
) -> tuple[list[str], list[tuple[str, dict[str, float | None]]]]:
    """(columns, rows) from the runs' summary.json files; rows keyed by model (or by run directory)."""
    rows: dict[str, dict[str, float | None]] = {}
    seen: list[str] = []
    for d in run_dirs:
        if not Path(d).exists() and any(ch in str(d) for ch in "*?["):
            # an unmatched shell pattern reaches us as is
            raise CrlError(
                f"nothing matched {str(d)!r}: no run directory there",
                hint="check the pattern and that the runs exist (`ls` it)",
            )
        rd = RunDir(d)
        s = rd.read_summary()
        rd.check_samples()
        key = str(s.get("model") or Path(d).name) if label == "model" else Path(d).name
        row = rows.setdefault(key, {})
        marked, part, grading = in_process(s), coverage(s), grading_differs(s)
        for name, value in s.get("headline", {s["benchmark"]: s.get("pass@1")}).items():
            if (marked or part or grading) and value is not None:
                value = Cell(value)
                value.in_process, value.coverage, value.grading = marked, part, grading
            if name in row and row[name] != value:
                raise CrlError(f"{d}: a second {name} score for {key}", hint="use --label run to show one row per run")
            row[name] = value
            if name not in seen:
                seen.append(name)
    columns = [c for c in ORDER if c in seen] + [c for c in seen if c not in ORDER]
    return columns, list(rows.items())


def rich_table(columns: list[str], rows: list[tuple[str, dict[str, float | None]]]) -> Table:
    t = Table(title="pass@1 (%)")
    t.add_column("model")
    for c in columns:
        t.add_column(c, justify="right")
    for key, row in rows:
        t.add_row(key, *[pct(row.get(c)) for c in columns])
    notes = (
        ([FOOTNOTE] if _any_marked(rows) else [])
        + _grading_notes(rows)
        + ([PARTIAL_NOTE] if _any_partial(rows) else [])
    )
    if notes:
        t.caption = "\n".join(notes)
    return t


def markdown(columns: list[str], rows: list[tuple[str, dict[str, float | None]]]) -> str:
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for key, row in rows:
        lines.append(f"| {key} | " + " | ".join(pct(row.get(c)) for c in columns) + " |")
    notes = (
        ([FOOTNOTE] if _any_marked(rows) else [])
        + _grading_notes(rows)
        + ([PARTIAL_NOTE] if _any_partial(rows) else [])
    )
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def to_csv(columns: list[str], rows: list[tuple[str, dict[str, float | None]]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    marked = _any_marked(rows)  # then a last column names the columns of the row that were scored in-process
    partial = _any_partial(rows)  # then one more gives `column:n/N` for columns of runs that covered part of it
    graded = bool(_grading_notes(rows))  # then one names the columns graded unlike the official harness
    w.writerow(
        [
            "model",
            *columns,
            *(["scored_in_process"] if marked else []),
            *(["grading_differs"] if graded else []),
            *(["partial"] if partial else []),
        ]
    )
    for key, row in rows:
        extra = [" ".join(c for c in columns if getattr(row.get(c), "in_process", False))] if marked else []
        if graded:
            extra.append(" ".join(c for c in columns if getattr(row.get(c), "grading", None)))
        if partial:
            extra.append(
                " ".join(f"{c}:{cov[0]}/{cov[1]}" for c in columns if (cov := getattr(row.get(c), "coverage", None)))
            )
        w.writerow([key, *["" if (v := row.get(c)) is None else f"{100 * v:.2f}" for c in columns], *extra])
    return buf.getvalue()


def plot(columns: list[str], rows: list[tuple[str, dict[str, float | None]]], path: str | Path) -> Path:
    """Grouped bar chart: a group per benchmark column, a bar per model. Needs matplotlib (extra `plot`)."""
    from ..errors import require_module

    require_module("matplotlib", "plot", "--plot")
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(columns) * max(1, len(rows)) ** 0.5 + 2), 4.5))
    for i, (key, row) in enumerate(rows):
        xs = [j + (i - (len(rows) - 1) / 2) * width for j in range(len(columns))]
        ys = [100 * v if (v := row.get(c)) is not None else 0 for c in columns]
        bars = ax.bar(xs, ys, width, label=key)
        ax.bar_label(bars, labels=[pct(row.get(c)) for c in columns], fontsize=7, padding=1)
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def provenances(run_dirs: Sequence[str | Path]) -> dict[str, dict[str, Any] | None]:
    """Each run's provenance (from its summary.json, which carries run.json's), keyed by run directory."""
    out: dict[str, dict[str, Any] | None] = {}
    for d in run_dirs:
        prov = RunDir(d).read_summary().get("provenance")
        out[str(d)] = prov if isinstance(prov, dict) else None
    return out


def provenance_table(runs: dict[str, dict[str, Any] | None]) -> Table | None:
    """The provenance fields that differ between runs (a column per run), or None when none differ."""
    from ..provenance import differences

    rows = differences({k: v for k, v in runs.items() if v is not None})
    if not rows:
        return None
    t = Table(title="provenance differences")
    t.add_column("field")
    for name in runs:
        t.add_column(name)
    for label, values in rows:
        t.add_row(label, *[str(values.get(name, "-")) for name in runs])
    return t
