"""The reward server's own record of every sample it scored, one JSON line each (`crl reward serve --record FILE`).

OpenRLHF's `rollout/reward_mean` covers only the samples kept after dynamic filtering; the reward server sees every
sample, including those of the groups the filter throws away, so its record is the unfiltered truth that
`crl train report` reads. Each line carries the training step it belongs to: crl's trainer wrapper announces the
step it is about to generate (POST /step) before it asks vLLM for samples, and every request scored after that is
tagged with it (OpenRLHF generates, scores, then trains, one step at a time, so a step's requests all arrive
between its announcement and the next). A server nobody announces steps to tags its lines with step null.

Only numbers and short labels are kept (never the prompt or the response), so a long run's record stays small.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson


def sample_line(reward: Any, step: int | None, latency_s: float, arrived: float) -> dict[str, Any]:
    """The record of one scored sample (`reward` is a reward.core.Reward)."""
    logs = reward.logs
    line: dict[str, Any] = {
        "t": round(arrived, 3),
        "step": step,
        "kind": logs.get("kind"),
        "reward": reward.reward,
        "score": reward.score,
        "chars": logs.get("response_chars"),
        "latency_ms": round(latency_s * 1000, 3),
    }
    if logs.get("kind") == "crl":
        line.update(label=logs.get("expected"), conclusion=logs.get("conclusion"), match=int(logs.get("crl_match", 0)))
    elif logs.get("kind") == "rl":
        line.update(pass_rate=logs.get("pass_rate", 0.0), code_found=int(logs.get("code_found", 0) or 0))
    if logs.get("reward_failed"):
        line["failed"] = str(logs.get("error", ""))[:200]
    return line


class SampleRecorder:
    """Appends sample lines to a file from many handler threads; knows the step the trainer last announced."""

    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        self.step: int | None = None
        self._lock = threading.Lock()
        self._fh = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")  # appended: a resumed phase continues the same record

    def announce(self, step: int) -> None:
        with self._lock:
            self.step = step

    def current_step(self) -> int | None:
        with self._lock:
            return self.step

    def write(self, rewards: list, step: int | None, latency_s: float, arrived: float) -> None:
        if self._fh is None:
            return
        data = b"".join(orjson.dumps(sample_line(r, step, latency_s, arrived)) + b"\n" for r in rewards)
        with self._lock:
            self._fh.write(data)
            self._fh.flush()  # a reader (crl train's per-step line) sees each request as soon as it is answered

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
