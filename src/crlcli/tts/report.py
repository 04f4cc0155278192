"""Summary tables on stderr (stdout keeps the machine-readable summary line)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ..log import console


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}"


def show(summary: dict[str, Any]) -> None:
    if summary.get("kind") == "budget-force":
        t = Table(title=f"budget forcing: {summary['problems']} problem(s)")
        for col in ("round", "accuracy %", "mean thinking tok", "mean answer tok", "closed by model"):
            t.add_column(col, justify="right")
        for r in summary["rounds"]:
            t.add_row(
                str(r["round"]),
                _pct(r["accuracy"]),
                _num(r["mean_thinking_tokens"]),
                _num(r["mean_answer_tokens"]),
                f"{r['closed_by_model']}/{r['problems']}",
            )
        console.print(t)
        return
    t = Table(title=f"critique selection: {summary['problems']} problem(s), k={summary['k']}, m={summary['m']}")
    t.add_column("selector")
    t.add_column("accuracy %", justify="right")
    for name, s in summary["selectors"].items():
        mark = " *" if name == summary.get("headline") else ""
        t.add_row(name + mark, "n/a" if s is None else _pct(s["accuracy"]))
    t.add_row("mean pass@1 (all candidates)", _pct(summary["mean_pass@1"]))
    t.add_row("oracle pass@k", _pct(summary["oracle_pass@k"]))
    console.print(t)
    c = summary["critic"]
    console.print(
        f"critic vs executed truth: accuracy {_pct(c['accuracy'])}%, precision {_pct(c['precision'])}%, "
        f"recall {_pct(c['recall'])}%, mean per-problem AUC {_num(c['mean_auc'])} over {c['auc_problems']} "
        f"problem(s); {c['missing_conclusion']} of {c['critiques']} critiques without a conclusion"
    )
