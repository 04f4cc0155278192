"""Aider-Polyglot (`aider-polyglot`, `--languages`): 225 Exercism exercises in six languages, two tries each.

Try 1: the model gets the instructions and the stub files and answers with whole new file contents; the exercise's
own unit tests run in the sandbox with its toolchain. If they fail, try 2: the model sees the trimmed test output
(Aider's rules) and answers again. Metrics per sample: `try1` and `try2` (the paper's number is try 2). A missing
toolchain (or a crate that cannot be fetched offline) is an environment error, reported apart from failures.

Multi-turn hook for the shared runner: `turns = 2`; after scoring turn 1, `followup(task, completion, score)` gives
the next conversation (or None when done), and `merge(scores)` folds the per-turn scores into the sample's Score.
"""

from __future__ import annotations

from typing import Any

from ..base import Benchmark, Score, Task, limit_tasks
from .exercises import LANGUAGES, Exercise, load_exercises
from .protocol import TestRun, parse_files, run_tests
from .runners import toolchain_status

__all__ = ["AiderPolyglot", "Exercise", "LANGUAGES", "TestRun", "load_exercises", "parse_files", "run_tests",
           "toolchain_status"]


class AiderPolyglot(Benchmark):
    name = "aider-polyglot"
    metrics = ("try2", "try1")
    group_keys = ("language",)
    needs_sandbox = False  # tests run through crlcli.sandbox.command, not the Python JudgePool
    turns = 2

    def __init__(self, data: str | None = None, languages: str | list[str] | None = None,
                 limit: int | None = None, exercises: list[str] | None = None, python: str | None = None,
                 test_timeout: float = 180.0, sandbox_mode: str = "auto", require_isolation: bool = False,
                 **_ignored: Any):
        if isinstance(languages, str):
            languages = [x.strip() for x in languages.split(",") if x.strip()]
        self.data, self.languages, self.limit = data, languages, limit
        self.names, self.python, self.timeout = exercises, python, test_timeout
        self.mode, self.require_isolation = sandbox_mode, require_isolation

    def exercises(self) -> list[Exercise]:
        return load_exercises(self.data, self.languages, self.names)

    def tasks(self) -> list[Task]:
        out = []
        for ex in self.exercises():
            out.append(Task(ex.id, [{"role": "user", "content": ex.first_prompt()}], group={"language": ex.language},
                            data={"exercise": ex}))
        return limit_tasks(out, self.limit)

    def run(self, ex: Exercise, files: dict[str, str]) -> TestRun:
        return run_tests(ex, files, python=self.python, timeout=self.timeout, mode=self.mode,
                         require_isolation=self.require_isolation)

    def score(self, task: Task, completion: str, pool: Any = None) -> Score:
        """One try: the files parsed from `completion` (on top of the stubs) against the exercise's tests."""
        ex: Exercise = task.data["exercise"]
        files = parse_files(completion, ex)
        if not files:
            return Score({"try1": False, "try2": False}, extracted=None, verdicts={"try": "C"},
                         detail="no file contents found in the answer (expected a path line, then a fenced block)")
        result = self.run(ex, files)
        task.data.setdefault("runs", []).append(result)
        verdict = {"pass": "A", "fail": "W", "timeout": "T", "env_error": "S"}[result.status]
        detail = result.reason if result.status == "env_error" else (None if result.passed else result.output)
        score = Score({"try1": result.passed, "try2": result.passed}, extracted=_show(files),
                      verdicts={"try": verdict}, detail=detail)
        if result.status == "env_error":
            score.metrics = {}  # not a model failure: the runner reports it as an environment error
            score.verdicts["env_error"] = result.reason
        return score

    def followup(self, task: Task, completion: str, score: Score) -> list[dict] | None:
        """The second try's conversation, or None (passed, environment error, or no test output to show)."""
        if not score.metrics or score.metrics.get("try1"):
            return None
        ex: Exercise = task.data["exercise"]
        runs = task.data.get("runs") or []
        output = runs[-1].output if runs else (score.detail or "")
        return [*task.messages, {"role": "assistant", "content": completion},
                {"role": "user", "content": ex.retry_prompt(output)}]

    def merge(self, scores: list[Score]) -> Score:
        """try1 from the first turn, try2 = passed on either turn (a pass on try 1 ends the exercise)."""
        first, last = scores[0], scores[-1]
        if not first.metrics:
            return first
        if not last.metrics:  # the second try hit an environment error: keep try 1's verdict for both
            return Score({"try1": first.metrics["try1"], "try2": first.metrics["try1"]}, first.extracted,
                         {**first.verdicts, "env_error": last.verdicts.get("env_error", "")}, last.detail)
        passed2 = first.metrics["try1"] or last.metrics["try1"]
        verdicts = {"try": "".join(s.verdicts.get("try", "") for s in scores)}
        return Score({"try1": first.metrics["try1"], "try2": passed2}, last.extracted, verdicts, last.detail)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "metrics": list(self.metrics), "languages": self.languages or list(LANGUAGES),
                "toolchains": toolchain_status(self.languages), "test_timeout_s": self.timeout}


def _show(files: dict[str, str]) -> str:
    return "".join(f"{name}\n```\n{text}```\n" for name, text in files.items())
