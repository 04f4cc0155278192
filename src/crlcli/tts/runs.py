"""Run directories for `crl tts`: every generation is appended as it arrives, so a run resumes where it stopped.

Layout of RUN_DIR (all JSON Lines except the two .json files):

    run.json          {"kind": "budget-force" | "critique-select", "config": {...}}: what the run was asked for
    problems.jsonl    the problem records as loaded (tests included), so `score` needs no benchmark source
    generations.jsonl one line per model call result, keyed by (id, step) / (id, kind, index): the resume cache
    results.jsonl     scored results (rewritten by `score`)
    summary.json      the aggregate figures (rewritten by `score`)

A rerun with the same RUN_DIR replays saved generations instead of calling the model again, so an interrupted run
(or one extended with more problems) only generates what is missing. Settings that change what would be generated
must match the saved run.json; anything else (scoring options, selectors, plot) may differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import jsonx

from ..errors import CrlError
from ..io import JsonlWriter, _trim_torn_tail


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All records of a run file; a torn last line (crash mid-write) is dropped so appends start clean."""
    if not path.exists():
        return []
    _trim_torn_tail(path)
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


class RunDir:
    """One tts run directory: its config guard, the append-only generation cache and the result files."""

    def __init__(self, path: Path | str, kind: str):
        self.path = Path(path)
        self.kind = kind

    # -- files ---------------------------------------------------------------------------------------------
    @property
    def run_file(self) -> Path:
        return self.path / "run.json"

    @property
    def generations_file(self) -> Path:
        return self.path / "generations.jsonl"

    @property
    def problems_file(self) -> Path:
        return self.path / "problems.jsonl"

    @property
    def results_file(self) -> Path:
        return self.path / "results.jsonl"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    # -- config guard --------------------------------------------------------------------------------------
    def open(self, config: dict[str, Any], generation_keys: tuple[str, ...]) -> bool:
        """Create the run, or check that an existing one was made with the same generation settings.

        Returns True when resuming. `generation_keys` are the config entries that change what the model
        produces; a mismatch there would mix two experiments in one directory, so it is refused.
        """
        if self.path.exists() and not self.path.is_dir():
            raise CrlError(f"{self.path}: exists and is not a directory", hint="give a new RUN_DIR with -o")
        if self.run_file.exists():
            saved = self.load_run()
            old = saved.get("config", {})
            diff = [k for k in generation_keys if old.get(k) != config.get(k)]
            if diff:
                pairs = ", ".join(f"{k}: {old.get(k)!r} -> {config.get(k)!r}" for k in diff)
                raise CrlError(
                    f"{self.path} holds a {self.kind} run made with other generation settings ({pairs})",
                    hint="use a new RUN_DIR, or the saved settings to resume this one",
                )
            merged = {**old, **config}
            self._write_run({**saved, "config": merged})
            return True
        self.path.mkdir(parents=True, exist_ok=True)
        self._write_run({"kind": self.kind, "config": config})
        return False

    def load_run(self) -> dict[str, Any]:
        if not self.run_file.exists():
            raise CrlError(
                f"{self.path}: no run.json, not a crl tts run directory",
                hint=f"give the RUN_DIR that `crl tts {self.kind}` wrote with -o",
            )
        saved = json.loads(self.run_file.read_text())
        if saved.get("kind") != self.kind:
            raise CrlError(
                f"{self.path} holds a {saved.get('kind')!r} run, not {self.kind!r}",
                hint=f"rescore it with `crl tts {saved.get('kind')} score {self.path}`",
            )
        return saved

    def _write_run(self, data: dict[str, Any]) -> None:
        tmp = self.run_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.run_file)

    # -- records -------------------------------------------------------------------------------------------
    def save_problems(self, problems: list[dict[str, Any]]) -> None:
        """Keep the problem records of every run so far (new ids appended, old ones kept)."""
        have = {str(p.get("id")) for p in read_jsonl(self.problems_file)}
        with JsonlWriter(self.problems_file, append=True) as out:
            for p in problems:
                if str(p.get("id")) not in have:
                    out.write(p)

    def load_problems(self) -> list[dict[str, Any]]:
        return read_jsonl(self.problems_file)

    def load_generations(self) -> list[dict[str, Any]]:
        return read_jsonl(self.generations_file)

    def generation_writer(self) -> JsonlWriter:
        return JsonlWriter(self.generations_file, append=True)

    def write_results(self, results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
        # Written whole (not appended): results are derived data, recomputed from the generations on each run.
        tmp = self.results_file.with_suffix(".jsonl.tmp")
        with JsonlWriter(tmp) as out:
            out.write_all(results)
        tmp.replace(self.results_file)
        stmp = self.summary_file.with_suffix(".json.tmp")
        stmp.write_text(json.dumps(summary, indent=2) + "\n")
        stmp.replace(self.summary_file)
