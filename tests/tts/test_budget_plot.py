"""Issue 15, item 11: the budget-forcing plot of an all-zero run had a -0.04..0.04 accuracy axis and round
labels drawn over each other."""

from __future__ import annotations

import pytest

from crlcli.tts.plots import plot_budget


def _summary(rounds):
    return {
        "kind": "budget-force",
        "rounds": [{"round": r, "problems": 5, "accuracy": acc, "mean_thinking_tokens": tok} for r, tok, acc in rounds],
    }


def test_all_zero_run_axis_and_labels(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib", reason="plots need the plot extra (matplotlib)")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    saved = []
    real = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (saved.append(self), real(self, *a, **k))[1])
    out = plot_budget(
        {"m": _summary([(0, 100.0, 0.0), (1, 101.0, 0.0), (2, 103.0, 0.0), (3, 400.0, 0.0)])}, tmp_path / "p.png"
    )
    assert out.read_bytes()[:4] == b"\x89PNG"
    ax = saved[0].axes[0]
    low, high = ax.get_ylim()
    assert low <= 0 and high >= 100  # the whole accuracy range, not -0.04..0.04
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["r0-r2", "r3"], labels  # three rounds on one spot: one label
