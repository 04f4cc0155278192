"""A run directory: samples.jsonl (one line per sample, appended as they finish), summary.json and run.json.

run.json records what the run is (benchmark, options, model, sampling) so that a rerun into the same directory
resumes the same run instead of silently mixing two; samples.jsonl lines are keyed by (task_id, sample).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson

from ..errors import CrlError
from ..io import JsonlReader, JsonlWriter, _trim_torn_tail

SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
RUN = "run.json"
# Settings that must match for a rerun to resume (others, such as --limit or workers, may change).
_IDENTITY = ("benchmark", "model", "sampling", "options")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise CrlError(f"{self.path}: exists and is not a directory", hint="-o takes a run directory")

    @property
    def samples_path(self) -> Path:
        return self.path / SAMPLES

    def read_run(self) -> dict[str, Any] | None:
        p = self.path / RUN
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except ValueError as exc:
            raise CrlError(f"{p}: not valid JSON ({exc})") from exc

    def start(self, run: dict[str, Any]) -> None:
        """Create the directory, or check that it holds the same run before resuming it."""
        old = self.read_run()
        if old is not None:
            for key in _IDENTITY:
                if old.get(key) != run.get(key):
                    raise CrlError(
                        f"{self.path} holds another run ({key}: {old.get(key)!r} there, {run.get(key)!r} now)",
                        hint="use a new -o directory, or the same settings to resume",
                    )
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / RUN, run)

    def samples(self) -> list[dict[str, Any]]:
        if not self.samples_path.exists():
            return []
        _trim_torn_tail(self.samples_path)
        out = []
        reader = JsonlReader(self.samples_path)
        for rec in reader:
            if "task_id" not in rec or "completion" not in rec:
                raise CrlError(f"{reader.where()}: a sample needs task_id and completion")
            out.append(rec)
        return out

    def writer(self, append: bool = True) -> JsonlWriter:
        self.path.mkdir(parents=True, exist_ok=True)
        return JsonlWriter(self.samples_path, append=append)

    def rewrite_samples(self, samples: list[dict[str, Any]]) -> None:
        """Replace samples.jsonl atomically (rescoring): a crash leaves the old file whole."""
        tmp = self.samples_path.with_suffix(".jsonl.tmp")
        with open(tmp, "wb") as fh:
            for s in samples:
                fh.write(orjson.dumps(s) + b"\n")
        os.replace(tmp, self.samples_path)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.path / SUMMARY, summary)

    def read_summary(self) -> dict[str, Any]:
        p = self.path / SUMMARY
        if not p.exists():
            raise CrlError(f"{self.path}: no {SUMMARY}", hint=f"run `crl eval ... -o {self.path}` or `crl eval score {self.path}`")
        try:
            return json.loads(p.read_text())
        except ValueError as exc:
            raise CrlError(f"{p}: not valid JSON ({exc})") from exc


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    os.replace(tmp, path)
