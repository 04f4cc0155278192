"""Accuracy against mean thinking tokens, one point per budget-forcing round (the paper's Figure 5 shape).

matplotlib is imported here only, so nothing else in `crl` pays for it; it is the `plot` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CrlError, require_module


def load_summaries(run_dirs: list[Path], labels: list[str]) -> dict[str, dict[str, Any]]:
    """label -> summary.json of each scored budget-force run (labels default to the run's model)."""
    import json

    if labels and len(labels) != len(run_dirs):
        raise CrlError(f"{len(labels)} --label for {len(run_dirs)} run(s)",
                       hint="give one --label per RUN_DIR, or none")
    out: dict[str, dict[str, Any]] = {}
    for i, run in enumerate(run_dirs):
        path = Path(run) / "summary.json"
        if not path.is_file():
            raise CrlError(f"{path}: missing", hint=f"score the run first: crl tts budget-force score {run}")
        summary = json.loads(path.read_text())
        if summary.get("kind") != "budget-force":
            raise CrlError(f"{run} is not a budget-force run")
        label = labels[i] if labels else str(summary.get("config", {}).get("model") or run)
        out[label if label not in out else f"{label} ({run})"] = summary
    return out


def plot_budget(summaries: dict[str, dict[str, Any]], path: Path | str, title: str | None = None) -> Path:
    """One line per run (label -> budget-force summary), points labelled by round; written as PNG."""
    require_module("matplotlib", "plot", "--plot")
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise CrlError(f"{path}: the plot is written as PNG", hint="give a file name ending in .png")
    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=120)
    drawn = 0
    for label, summary in summaries.items():
        pts = [(r["mean_thinking_tokens"], 100 * r["accuracy"], r["round"]) for r in summary.get("rounds", [])
               if r.get("problems") and r.get("accuracy") is not None]
        if not pts:
            continue
        xs, ys, rs = zip(*pts)
        ax.plot(xs, ys, marker="o", label=label)
        for x, y, r in pts:
            ax.annotate(f"r{r}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        drawn += 1
    if not drawn:
        plt.close(fig)
        raise CrlError("nothing to plot: no scored rounds", hint="run or rescore the budget-force run first")
    ax.set_xlabel("mean thinking tokens")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title or "Budget forcing: accuracy vs thinking tokens")
    ax.grid(alpha=0.3)
    if drawn > 1:
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
