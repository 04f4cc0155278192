"""`crl eval`'s run directory: samples.jsonl (one line per sample, appended as they finish), summary.json and
run.json, on the shared run-directory core (`crlcli.rundir`).

run.json records what the run is (benchmark, options, model, sampling) so that a rerun into the same directory
resumes the same run instead of silently mixing two; samples.jsonl lines are keyed by (task_id, sample).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import rundir
from ..errors import CrlError
from ..io import JsonlReader, JsonlWriter, trim_torn_tail, write_json

SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
RUN = rundir.RUN
# Settings that must match for a rerun to resume (others, such as --limit or workers, may change).
IDENTITY = ("benchmark", "model", "sampling", "options")


DUPLICATE_HINT = (
    "two runs wrote into this directory at once, so its scores count samples twice: run it again "
    "into a new directory (runs are locked now), or remove the repeated lines and `crl eval score` it"
)


class RunDir(rundir.RunDir):
    def __init__(self, path: str | Path):
        super().__init__(path, IDENTITY)

    @property
    def samples_path(self) -> Path:
        return self.path / SAMPLES

    def start(self, run: dict[str, Any]) -> None:
        """Create the directory, or check that it holds the same run before resuming it."""
        old = self.read_run()
        if old is not None:
            for key in self.changed(old, run)[:1]:
                raise CrlError(
                    f"{self.path} holds another run ({key}: {old.get(key)!r} there, {run.get(key)!r} now)",
                    hint="use a new -o directory, or the same settings to resume",
                )
        self.write_run(run)

    def samples(self) -> list[dict[str, Any]]:
        if not self.samples_path.exists():
            return []
        trim_torn_tail(self.samples_path)
        out = []
        reader = JsonlReader(self.samples_path)
        lines: dict[tuple[str, Any], int] = {}
        for rec in reader:
            reason = sample_problem(rec) or self._duplicate(rec, lines, reader.lineno)
            if reason:
                raise CrlError(f"{reader.where()}: {reason}", hint=DUPLICATE_HINT if "again" in reason else None)
            out.append(rec)
        return out

    @staticmethod
    def _duplicate(rec: dict[str, Any], lines: dict[tuple[str, Any], int], lineno: int) -> str | None:
        pair = (rec["task_id"], rec.get("sample"))
        if pair[1] is None:
            return None
        if pair in lines:
            return f"task {pair[0]!r} sample {pair[1]} again (first on line {lines[pair]})"
        lines[pair] = lineno
        return None

    def check_samples(self) -> None:
        """Refuse a run whose samples.jsonl holds a (task_id, sample) pair twice (two runs wrote into it at once,
        before runs were locked): its scores count those samples twice."""
        if not self.samples_path.exists():
            return
        lines: dict[tuple[str, Any], int] = {}
        reader = JsonlReader(self.samples_path)
        for rec in reader:
            if isinstance(rec.get("task_id"), str):
                why = self._duplicate(rec, lines, reader.lineno)
                if why:
                    raise CrlError(f"{reader.where()}: {why}", hint=DUPLICATE_HINT)

    def samples_source(self) -> Path:
        """samples.jsonl to read, a torn last line (a crash mid-write) trimmed first."""
        if self.samples_path.exists():
            trim_torn_tail(self.samples_path)
        return self.samples_path

    def writer(self, append: bool = True) -> JsonlWriter:
        self.path.mkdir(parents=True, exist_ok=True)
        return JsonlWriter(self.samples_path, append=append)

    def rewrite_samples(self, samples: list[dict[str, Any]]) -> None:
        """Replace samples.jsonl atomically (rescoring): a crash leaves the old file whole."""
        rundir.write_jsonl(self.samples_path, samples)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.path / SUMMARY, summary)

    def read_summary(self) -> dict[str, Any]:
        p = self.path / SUMMARY
        if not p.exists():
            raise CrlError(
                f"{self.path}: no {SUMMARY}", hint=f"run `crl eval ... -o {self.path}` or `crl eval score {self.path}`"
            )
        return rundir.read_json(p)


def sample_problem(rec: dict[str, Any]) -> str | None:
    """Why a sample record cannot be scored, or None: it needs a string task_id and a string `completion` (text
    to parse) or `solution` (code used as is), as `crl eval` writes them or `crl eval score --samples` takes them."""
    from ..records import json_type

    tid = rec.get("task_id")
    if not isinstance(tid, str) or not tid:
        return (
            "a sample needs a 'task_id'"
            if "task_id" not in rec
            else f"field 'task_id' must be a non-empty string, got {json_type(tid)}"
        )
    for key in ("completion", "solution"):
        if rec.get(key) is not None and not isinstance(rec[key], str):
            return f"field {key!r} must be a string, got {json_type(rec[key])}"
    if rec.get("completion") is None and rec.get("solution") is None:
        return "a sample needs 'completion' (text to parse) or 'solution' (code used as is)"
    sample = rec.get("sample")
    if sample is not None and (type(sample) is not int or sample < 0):
        return f"field 'sample' must be a whole number >= 0, got {json_type(sample)}"
    return None
