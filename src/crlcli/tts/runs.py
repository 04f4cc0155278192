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

from pathlib import Path
from typing import Any

from .. import provenance, rundir
from ..errors import CrlError
from ..io import JsonlWriter, write_json
from ..rundir import read_jsonl


class RunDir(rundir.RunDir):
    """One tts run directory: its config guard, the append-only generation cache and the result files.
    `generation_keys`: the config entries that change what the model produces (the run's identity)."""

    def __init__(self, path: Path | str, kind: str, generation_keys: tuple[str, ...] = ()):
        if Path(path).exists() and not Path(path).is_dir():
            raise CrlError(f"{path}: exists and is not a directory", hint="give a new RUN_DIR with -o")
        super().__init__(path, generation_keys)
        self.kind = kind

    # -- files ---------------------------------------------------------------------------------------------
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
    def open(self, config: dict[str, Any]) -> bool:
        """Create the run, or check that an existing one was made with the same generation settings.

        Returns True when resuming; a mismatch in the generation keys would mix two experiments in one
        directory, so it is refused.
        """
        if self.run_file.exists():
            saved = self.load_run()
            old = saved.get("config", {})
            diff = self.changed(old, config)
            if diff:
                pairs = ", ".join(f"{k}: {old.get(k)!r} -> {config.get(k)!r}" for k in diff)
                raise CrlError(
                    f"{self.path} holds a {self.kind} run made with other generation settings ({pairs})",
                    hint="use a new RUN_DIR, or the saved settings to resume this one",
                )
            self.write_run({**saved, "config": {**old, **config}, "provenance": _provenance(config)})
            return True
        self.write_run({"kind": self.kind, "config": config, "provenance": _provenance(config)})
        return False

    def load_run(self) -> dict[str, Any]:
        saved = self.read_run()
        if saved is None:
            raise CrlError(
                f"{self.path}: no run.json, not a crl tts run directory",
                hint=f"give the RUN_DIR that `crl tts {self.kind}` wrote with -o",
            )
        if saved.get("kind") != self.kind:
            raise CrlError(
                f"{self.path} holds a {saved.get('kind')!r} run, not {self.kind!r}",
                hint=f"rescore it with `crl tts {saved.get('kind')} score {self.path}`",
            )
        return saved

    # -- records -------------------------------------------------------------------------------------------
    def save_problems(self, problems: list[dict[str, Any]]) -> None:
        """Keep the problem records of every run so far (new ids appended, old ones kept)."""
        have = {str(p.get("id")) for p in read_jsonl(self.problems_file)}
        with JsonlWriter(self.problems_file, append=True) as out:
            for p in problems:
                if str(p.get("id")) not in have:
                    out.write(p)

    def load_generations(self) -> list[dict[str, Any]]:
        return read_jsonl(self.generations_file)

    def generation_writer(self) -> JsonlWriter:
        return JsonlWriter(self.generations_file, append=True)

    def write_results(self, results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
        # Written whole (not appended): results are derived data, recomputed from the generations on each run.
        rundir.write_jsonl(self.results_file, results)
        saved = self.read_run() or {}
        prov = saved.get("provenance")
        if isinstance(prov, dict) and not prov.get("finished"):  # the generating session's end (not a rescore's)
            saved["provenance"] = provenance.finish(prov)
            self.write_run(saved)
        write_json(self.summary_file, summary)


def _provenance(config: dict[str, Any]) -> dict[str, Any]:
    """crlcli.provenance's record of a tts run: the problems' file or benchmark data, the model, sampling."""
    source = got if isinstance(got := config.get("source"), dict) else {}
    return provenance.record(
        data=[source.get("input"), source.get("data")],
        model=config.get("model"),
        sampling={k: config.get(k) for k in ("temperature", "top_p", "top_k", "seed")},
        sandbox=provenance.sandbox_info("auto"),
    )
