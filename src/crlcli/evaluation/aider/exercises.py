"""Aider-Polyglot exercises: load the polyglot-benchmark tree, build the prompt, map files in and out.

Tree layout (Aider-AI/polyglot-benchmark): `<language>/exercises/practice/<exercise>/` with `.docs/` (instructions),
`.meta/config.json` (files.solution / files.test / files.example) and `.meta/` reference solutions.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import CrlError
from ..base import DataRoot, resolve_root

LANGUAGES = ("cpp", "go", "java", "javascript", "python", "rust")
# Folders a candidate must never see at test time: `.meta` holds the reference solution.
HIDDEN = {".meta", ".docs", ".approaches", ".articles", "node_modules", "build", "target"}

# Aider's benchmark prompts (benchmark/prompts.py), plus the "whole file" answer format.
ADDENDUM = """
####

Use the above instructions to modify the supplied files: {file_list}
Don't change the names of existing functions or classes, as they may be referenced from other code like unit tests, etc.
Only use standard libraries, don't suggest installing any packages.
"""
ANSWER_FORMAT = """
Reply with the complete new contents of every file you change. For each file, write its path on a line by itself,
then the whole file in a fenced code block:

path/to/file.ext
```
...entire file...
```
"""
TEST_FAILURES = """
####

See the testing errors above.
The tests are correct, don't try and change them.
Fix the code in {file_list} to resolve the errors.
"""


@dataclass
class Exercise:
    language: str
    name: str
    path: Path
    solution_files: list[str]
    test_files: list[str]
    example_files: list[str]
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.language}/{self.name}"

    def instructions(self) -> str:
        docs = self.path / ".docs"
        parts = [docs / n for n in ("introduction.md", "instructions.md", "instructions.append.md")]
        return "".join(p.read_text(encoding="utf-8") for p in parts if p.exists())

    def files(self, names: list[str]) -> dict[str, str]:
        return {n: (self.path / n).read_text(encoding="utf-8") for n in names if (self.path / n).is_file()}

    def stub_files(self) -> dict[str, str]:
        return self.files(self.solution_files)

    def first_prompt(self) -> str:
        """Instructions, Aider's addendum, and the stub files the model is to replace."""
        file_list = " ".join(self.solution_files)
        shown = "".join(f"\n{n}\n```\n{text}```\n" for n, text in self.stub_files().items())
        return self.instructions() + ADDENDUM.format(file_list=file_list) + ANSWER_FORMAT + shown

    def retry_prompt(self, test_output: str) -> str:
        return test_output + TEST_FAILURES.format(file_list=" ".join(self.solution_files)) + ANSWER_FORMAT

    def reference_files(self) -> dict[str, str]:
        """The `.meta` example solution mapped onto solution paths (extra reference classes go beside them)."""
        out: dict[str, str] = {}
        for ex in self.example_files:
            src = self.path / ex
            target = _reference_target(ex, self.solution_files, self.language)
            out[target] = src.read_text(encoding="utf-8")
        cargo_example = self.path / ".meta" / "Cargo-example.toml"
        if self.language == "rust" and cargo_example.exists():
            out["Cargo.toml"] = cargo_example.read_text(encoding="utf-8")
        return out

    def allowed_path(self, rel: str) -> bool:
        """A model may rewrite solution files or add a new source file beside one, never a test or build file."""
        rel = os.path.normpath(rel)
        if rel.startswith("..") or os.path.isabs(rel) or rel in self.test_files:
            return False
        if rel in self.solution_files:
            return True
        dirs = {(os.path.dirname(s), os.path.splitext(s)[1]) for s in self.solution_files}
        return (os.path.dirname(rel), os.path.splitext(rel)[1]) in dirs and not _looks_like_test(rel)

    def stage(self, dest: Path, files: dict[str, str]) -> Path:
        """Copy the exercise (without `.meta`/`.docs`) to dest/<name> and write `files` over it."""
        target = dest / self.name
        shutil.copytree(self.path, target, ignore=lambda d, names: [n for n in names if n in HIDDEN])
        for rel, text in files.items():
            p = target / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        return target


def _looks_like_test(rel: str) -> bool:
    base = os.path.basename(rel).lower()
    return "test" in base or base.endswith(".spec.js")


def _reference_target(example: str, solutions: list[str], language: str) -> str:
    base = os.path.basename(example)
    for s in solutions:
        if os.path.basename(s) == base:
            return s
    ext = os.path.splitext(example)[1]
    same_ext = [s for s in solutions if os.path.splitext(s)[1] == ext]
    if len(same_ext) == 1 and language != "java":  # Java references add helper classes
        return same_ext[0]
    if same_ext:  # e.g. Java helper classes of the reference: beside the solution file
        return os.path.join(os.path.dirname(same_ext[0]), base)
    raise CrlError(f"cannot place reference file {example} among solution files {solutions}")


def default_root(data_root: DataRoot = None) -> Path | None:
    """`aider_polyglot` under the default data folder (`--data` unset: the caller's `data_root`, $CRL_EVAL_DATA
    for the CLI), when it is there."""
    root = resolve_root(data_root)
    cand = Path(root) / "aider_polyglot" if root else None
    return cand if cand is not None and cand.is_dir() else None


def load_exercises(
    root: str | Path | None = None,
    languages: list[str] | None = None,
    names: list[str] | None = None,
    data_root: DataRoot = None,
) -> list[Exercise]:
    """All exercises under a polyglot-benchmark checkout, sorted by language then name."""
    root = Path(root) if root else default_root(data_root)
    if root is None or not root.is_dir():
        raise CrlError(
            f"Aider-Polyglot data not found at {root}",
            hint="pass --data PATH to a polyglot-benchmark checkout (or set CRL_AIDER_POLYGLOT, or "
            "CRL_EVAL_DATA to a folder holding aider_polyglot/)",
        )
    langs = languages or list(LANGUAGES)
    for lang in langs:
        if lang not in LANGUAGES:
            raise CrlError(f"unknown Aider-Polyglot language {lang!r}", hint=f"choose from {', '.join(LANGUAGES)}")
    out: list[Exercise] = []
    for lang in langs:
        practice = root / lang / "exercises" / "practice"
        if not practice.is_dir():
            raise CrlError(f"{practice} is missing", hint="is this a polyglot-benchmark checkout?")
        for d in sorted(practice.iterdir()):
            cfg_path = d / ".meta" / "config.json"
            if not cfg_path.is_file() or (names and d.name not in names and f"{lang}/{d.name}" not in names):
                continue
            try:
                files = json.loads(cfg_path.read_text(encoding="utf-8"))["files"]
            except (ValueError, KeyError) as exc:
                raise CrlError(f"{cfg_path}: not an Exercism config with a 'files' table ({exc})") from exc
            out.append(
                Exercise(
                    lang,
                    d.name,
                    d,
                    list(files.get("solution", [])),
                    list(files.get("test", [])),
                    list(files.get("example", [])),
                    extra={"root": str(root)},
                )
            )
    return out
