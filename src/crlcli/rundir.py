"""Run directories, shared by `crl eval` and `crl tts`: run.json says what the run is, JSON Lines files grow as
work finishes (a crash loses at most a torn last line), and derived files are rewritten whole, atomically.

A rerun into the same directory resumes it. The settings that decide what the run produces (its *identity*:
model, sampling, benchmark ...) must match the saved run.json, or two experiments would mix in one directory;
each command passes its own identity keys. The file layout is the command's own (evaluation/rundir.py,
tts/runs.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import jsonx
from .errors import CrlError
from .io import JsonlWriter, trim_torn_tail, write_json

RUN = "run.json"


def read_json(path: Path) -> Any:
    try:
        return jsonx.loads(path.read_bytes())
    except jsonx.JSONDecodeError as exc:
        raise CrlError(
            f"{path}: not valid JSON ({exc})",
            hint="the run directory is damaged; fix or delete that file and run again",
        ) from exc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All records of a run file; a torn last line (crash mid-write) is dropped first so appends start clean."""
    if not path.exists():
        return []
    trim_torn_tail(path)
    out: list[dict[str, Any]] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                out.append(jsonx.loads(raw))
            except jsonx.JSONDecodeError as exc:
                raise CrlError(
                    f"{path}:{lineno}: malformed JSON ({exc})",
                    hint="the run directory is damaged; fix or delete that line and run again",
                ) from exc
    return out


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Replace a JSON Lines file atomically: a crash leaves the old file whole."""
    tmp = path.with_name(path.name + ".tmp")
    with JsonlWriter(tmp) as out:
        out.write_all(records)
    tmp.replace(path)


class RunDir:
    """A run directory and its run.json; `identity`: the run.json keys a resumed run must repeat."""

    def __init__(self, path: str | Path, identity: tuple[str, ...] = ()):
        self.path = Path(path)
        self.identity = tuple(identity)
        if self.path.exists() and not self.path.is_dir():
            raise CrlError(f"{self.path}: exists and is not a directory", hint="-o takes a run directory")

    @property
    def run_file(self) -> Path:
        return self.path / RUN

    def read_run(self) -> dict[str, Any] | None:
        return read_json(self.run_file) if self.run_file.exists() else None

    def write_run(self, run: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.run_file, run)

    def changed(self, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        """The identity keys whose values differ between a saved run and this one (empty: resumable)."""
        return [k for k in self.identity if old.get(k) != new.get(k)]
