"""What a training run did, step by step: `crl train report RUN_DIR` and the line `crl train` prints per step.

Two records per phase folder, joined on the step number (OpenRLHF's global step, as in `global_step<N>_hf`):

- `rewards.jsonl`, written by the reward server: one line per scored sample, *every* sample, also those of the
  groups dynamic filtering throws away (reward/record.py). Rewards, CRL accuracy and its confusion, missing
  conclusions, RL pass rates and reward latency come from here. The server tags each sample with the step crl's
  trainer wrapper announced before generating it.
- `steps.jsonl`, written by crl's wrapper inside OpenRLHF's trainer (openrlhf_steps.py): step and weight-sync
  time, groups generated / dropped, rows consumed to refill the batch, response lengths in tokens over every
  generated sample, and OpenRLHF's own `rollout/reward_mean`, which covers only the samples kept for training.

Library code: returns rows and strings, prints nothing.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ..errors import CrlError, require_module

STEPS, REWARDS = "steps.jsonl", "rewards.jsonl"

# (key, column header, format) in report order; the JSON format has every key of a row, these and more
COLUMNS: list[tuple[str, str, str]] = [
    ("phase", "phase", "s"),
    ("step", "step", "s"),
    ("samples", "samples", "d"),
    ("reward", "reward", ".3f"),
    ("reward_crl", "reward crl", ".3f"),
    ("reward_rl", "reward rl", ".3f"),
    ("crl_accuracy", "crl acc", ".3f"),
    ("confusion", "T→T/T→F/F→T/F→F", "s"),
    ("missing_rate", "no concl.", ".3f"),
    ("rl_pass_rate", "rl pass", ".3f"),
    ("response_mean", "resp len", ".1f"),
    ("response_max", "resp max", "d"),
    ("groups_dropped", "dropped", "d"),
    ("refill_rows", "refill", "d"),
    ("latency_p50_ms", "lat p50 ms", ".1f"),
    ("latency_p99_ms", "lat p99 ms", ".1f"),
    ("latency_max_ms", "lat max ms", ".1f"),
    ("step_s", "step s", ".1f"),
    ("sync_s", "sync s", ".2f"),
    ("openrlhf_reward_mean", "OpenRLHF reward (kept)", ".3f"),
]
FORMATS = ("table", "markdown", "csv", "json")


def read_jsonl(path: Path) -> list[dict]:
    """Every whole line of `path` (a line still being written at the end is left for later)."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_bytes().split(b"\n"):
        if line.strip():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a torn last line of a file still being written
    return out


def phase_dirs(run_dir: Path | str) -> list[Path]:
    """The phase folders of a run (`phase1/`, `phase2/`, ...), or the folder itself when it is one."""
    root = Path(run_dir)
    if not root.is_dir():
        raise CrlError(f"{root}: no such directory", hint="give the run folder (output.dir) of `crl train`")
    if (root / STEPS).is_file() or (root / REWARDS).is_file():
        return [root]
    found = [p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"phase\d+", p.name)
             and ((p / STEPS).is_file() or (p / REWARDS).is_file())]  # fmt: skip
    if not found:
        raise CrlError(
            f"{root}: no {STEPS} or {REWARDS} in it or in its phase folders",
            hint="runs started by this version of `crl train` write them into each phase folder",
        )
    return sorted(found, key=lambda p: int(p.name[5:]))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def summarize(samples: list[dict], step: dict | None = None) -> dict[str, Any]:
    """One row: the server's samples of a step (or a phase) plus the trainer's record of it (when there is one)."""
    crl = [s for s in samples if s.get("kind") == "crl"]
    rl = [s for s in samples if s.get("kind") == "rl"]
    confusion = {f"{a}→{b}": 0 for a in "TF" for b in "TF"}
    for s in crl:
        if s.get("label") in ("T", "F") and s.get("conclusion") in ("T", "F"):
            confusion[f"{s['label']}→{s['conclusion']}"] += 1
    latency = sorted(float(s.get("latency_ms") or 0.0) for s in samples)
    row: dict[str, Any] = {
        "samples": len(samples),
        "reward": _mean([float(s.get("reward") or 0.0) for s in samples]),
        "reward_crl": _mean([float(s.get("reward") or 0.0) for s in crl]),
        "reward_rl": _mean([float(s.get("reward") or 0.0) for s in rl]),
        "crl_samples": len(crl),
        "rl_samples": len(rl),
        "crl_accuracy": _mean([float(s.get("match") or 0) for s in crl]),
        "confusion": "/".join(str(v) for v in confusion.values()) if crl else None,
        "confusion_counts": confusion,
        "missing_rate": _mean([float(s.get("conclusion") is None) for s in crl]),
        "rl_pass_rate": _mean([float(s.get("pass_rate") or 0.0) for s in rl]),
        "failed": sum(1 for s in samples if s.get("failed")),
        "latency_p50_ms": _quantile(latency, 0.5),
        "latency_p99_ms": _quantile(latency, 0.99),
        "latency_max_ms": latency[-1] if latency else None,
        "response_mean": _mean([float(s["chars"]) for s in samples if s.get("chars") is not None]),
        "response_max": max((int(s["chars"]) for s in samples if s.get("chars") is not None), default=None),
        "response_unit": "chars",
    }
    if step:
        for key in (
            "step_s",
            "sync_s",
            "generation_s",
            "train_s",
            "groups_generated",
            "groups_trained",
            "groups_dropped",
            "rows_consumed",
            "refill_rows",
            "openrlhf_reward_mean",
            "policy_loss",
        ):
            row[key] = step.get(key)
        if step.get("response_tokens_mean") is not None:  # tokens, over every generated sample: preferred
            row.update(
                response_mean=step["response_tokens_mean"],
                response_max=step.get("response_tokens_max"),
                response_unit="tokens",
            )
    return row


def _phase_total(rows: list[dict], samples: list[dict], name: str) -> dict[str, Any]:
    total = summarize(samples)
    total.update(phase=name, step="all")
    for key in ("step_s", "sync_s", "groups_dropped", "refill_rows", "rows_consumed"):
        values = [r[key] for r in rows if r.get(key) is not None]
        total[key] = sum(values) if values else None
    tokens = [r for r in rows if r.get("response_unit") == "tokens"]
    if tokens and len(tokens) == len(rows):
        weights = [r.get("groups_generated") or 1 for r in tokens]
        total["response_mean"] = sum(r["response_mean"] * w for r, w in zip(tokens, weights)) / sum(weights)
        total["response_max"] = max(r["response_max"] for r in tokens)
        total["response_unit"] = "tokens"
    return total


def phase_rows(phase_dir: Path, name: str | None = None) -> list[dict[str, Any]]:
    """One row per step of a phase folder, in step order, then the phase's total (step "all")."""
    name = name or phase_dir.name
    steps = {int(s["step"]): s for s in read_jsonl(phase_dir / STEPS) if isinstance(s.get("step"), int)}
    by_step: dict[int | None, list[dict]] = {}
    samples = read_jsonl(phase_dir / REWARDS)
    for s in samples:
        by_step.setdefault(s.get("step") if isinstance(s.get("step"), int) else None, []).append(s)
    rows = []
    for number in sorted({*steps, *(k for k in by_step if k is not None)}):
        row = summarize(by_step.get(number, []), steps.get(number))
        row.update(phase=name, step=number)
        rows.append(row)
    if None in by_step:  # a server nobody announced steps to (reward.urls of an older crl): one row for all
        row = summarize(by_step[None])
        row.update(phase=name, step="?")
        rows.append(row)
    return rows + [_phase_total(rows, samples, name)] if rows else rows


def run_rows(run_dir: Path | str) -> list[dict[str, Any]]:
    """Every phase's step rows and total, phase by phase."""
    return [row for phase in phase_dirs(run_dir) for row in phase_rows(phase)]


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "s":
        return str(value)
    if fmt == "d":
        return str(int(value))
    return format(float(value), fmt)


def cells(rows: Iterable[dict]) -> list[list[str]]:
    return [[_cell(r.get(key), fmt) for key, _, fmt in COLUMNS] for r in rows]


def markdown(rows: list[dict]) -> str:
    head = [h for _, h, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c) + " |" for c in cells(rows)]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([key for key, _, _ in COLUMNS])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else row[key] for key, _, _ in COLUMNS])
    return buf.getvalue()


def to_json(rows: list[dict]) -> str:
    return "".join(orjson.dumps(r).decode() + "\n" for r in rows)


def rich_table(rows: list[dict], title: str | None = None):
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for _, head, fmt in COLUMNS:
        table.add_column(head, justify="left" if fmt == "s" else "right")
    for row, values in zip(rows, cells(rows)):
        table.add_row(*values, style="bold" if row.get("step") == "all" else None)
    return table


def step_line(row: dict) -> str:
    """The compact line `crl train` prints when a step ends."""

    def f(key: str, fmt: str = ".2f") -> str:
        return _cell(row.get(key), fmt)

    kinds = []
    if row.get("crl_samples"):
        kinds.append(f"crl {f('reward_crl')} (acc {f('crl_accuracy')}, n={row['crl_samples']})")
    if row.get("rl_samples"):
        kinds.append(f"rl {f('reward_rl')} (pass {f('rl_pass_rate')}, n={row['rl_samples']})")
    return (
        f"step {row.get('step')}: reward {f('reward')} over {row.get('samples', 0)} samples"
        f"{': ' + ', '.join(kinds) if kinds else ''} | dropped {f('groups_dropped', 'd')} group(s), "
        f"{f('refill_rows', 'd')} refill row(s) | {f('step_s', '.1f')} s (sync {f('sync_s', '.2f')} s)"
    )


def plot(rows: list[dict], path: Path | str, title: str | None = None) -> Path:
    """Reward by kind and CRL accuracy against step, phases side by side (needs matplotlib: extra `plot`)."""
    require_module("matplotlib", "plot", "--plot")
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise CrlError(f"{path}: the plot is written as PNG", hint="give a file name ending in .png")
    steps = [r for r in rows if isinstance(r.get("step"), int)]
    if not steps:
        raise CrlError("nothing to plot: no step has both a number and samples")
    phases = list(dict.fromkeys(r["phase"] for r in steps))
    fig, axes = plt.subplots(1, len(phases), figsize=(6.5 * len(phases), 4.2), squeeze=False, sharey=True)
    series = [("reward", "reward, all samples", "-", "o"), ("reward_crl", "reward, CRL", "-", "s"),
              ("reward_rl", "reward, RL", "-", "^"), ("crl_accuracy", "CRL accuracy", ":", "x"),
              ("openrlhf_reward_mean", "OpenRLHF reward_mean (kept groups only)", "--", None)]  # fmt: skip
    for ax, phase in zip(axes[0], phases):
        mine = [r for r in steps if r["phase"] == phase]
        for key, label, style, marker in series:
            points = [(r["step"], r[key]) for r in mine if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), style, marker=marker, label=label)
        ax.set_title(phase)
        ax.set_xlabel("step (OpenRLHF global step)")
        ax.set_ylim(-0.02, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("mean over the step's samples")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


class StepMonitor:
    """Follows a running phase's two records and returns one row per step as soon as the trainer finishes it."""

    def __init__(self, phase_dir: Path):
        self.dir = phase_dir
        # a resumed phase appends to its records: only what comes from now on is new
        self.offsets = {name: self._size(phase_dir / name) for name in (STEPS, REWARDS)}
        self.partial = {STEPS: b"", REWARDS: b""}
        self.samples: dict[Any, list[dict]] = {}

    @staticmethod
    def _size(path: Path) -> int:
        try:
            return path.stat().st_size
        except OSError:
            return 0

    def _new_lines(self, name: str) -> list[dict]:
        path = self.dir / name
        try:
            with open(path, "rb") as fh:
                fh.seek(self.offsets[name])
                data = fh.read()
        except OSError:
            return []
        self.offsets[name] += len(data)
        *lines, self.partial[name] = (self.partial[name] + data).split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return out

    def poll(self) -> list[dict]:
        for s in self._new_lines(REWARDS):
            self.samples.setdefault(s.get("step"), []).append(s)
        rows = []
        for step in self._new_lines(STEPS):  # written after the step's samples were all scored and trained on
            row = summarize(self.samples.pop(step.get("step"), []), step)
            row.update(phase=self.dir.name, step=step.get("step"))
            rows.append(row)
        return rows
