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
        raise CrlError(
            f"{len(labels)} --label for {len(run_dirs)} run(s)", hint="give one --label per RUN_DIR, or none"
        )
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
    fig, ax = _draw(plt, summaries)
    if ax is None:
        raise CrlError("nothing to plot: no scored rounds", hint="run or rescore the budget-force run first")
    ax.set_xlabel("mean thinking tokens")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title or "Budget forcing: accuracy vs thinking tokens")
    ax.grid(alpha=0.3)
    if len(ax.get_lines()) > 1:
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _draw(plt: Any, summaries: dict[str, dict[str, Any]]) -> tuple[Any, Any]:
    """The lines and their round labels on a 0..100 % accuracy axis (an all-zero run had a -0.04..0.04 axis);
    labels of points that would overlap are merged into one ("r0-r3"). (fig, None) when nothing was drawn."""
    fig, ax = plt.subplots(figsize=(5.5, 4), dpi=120)
    points: list[tuple[float, float, int]] = []
    for label, summary in summaries.items():
        pts = [
            (r["mean_thinking_tokens"], 100 * r["accuracy"], r["round"])
            for r in summary.get("rounds", [])
            if r.get("problems") and r.get("accuracy") is not None
        ]
        if not pts:
            continue
        xs, ys, _ = zip(*pts)
        ax.plot(xs, ys, marker="o", label=label)
        points += pts
    if not points:
        plt.close(fig)
        return fig, None
    ax.set_ylim(-3, 103)
    all_x = [p[0] for p in points]
    span = (max(all_x) - min(all_x)) or 1.0
    groups: list[list[tuple[float, float, int]]] = []
    for x, y, r in sorted(points, key=lambda p: (p[1], p[0])):
        for g in groups:  # near in both directions, as fractions of the axes: one label
            gx, gy, _ = g[0]
            if abs(x - gx) / span < 0.08 and abs(y - gy) / 106 < 0.05:
                g.append((x, y, r))
                break
        else:
            groups.append([(x, y, r)])
    for g in groups:
        rounds = sorted({r for _, _, r in g})
        text = (
            f"r{rounds[0]}"
            if len(rounds) == 1
            else (
                f"r{rounds[0]}-r{rounds[-1]}"
                if rounds == list(range(rounds[0], rounds[-1] + 1))
                else ",".join(f"r{r}" for r in rounds)
            )
        )
        ax.annotate(text, g[0][:2], textcoords="offset points", xytext=(4, 4), fontsize=8)
    return fig, ax
