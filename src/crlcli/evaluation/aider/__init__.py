"""Aider-Polyglot (`aider-polyglot`, `--languages`): 225 Exercism exercises in six languages, two tries each.

Try 1: the model gets the instructions and the stub files and answers with whole new file contents; the exercise's
own unit tests run in the sandbox with its toolchain. If they fail, try 2: the model sees the trimmed test output
(Aider's rules) and answers again. Metrics per sample: `try1` and `try2` (the paper's number is try 2). A missing
toolchain (or a crate that cannot be fetched offline) is an environment error, reported apart from failures.

Multi-turn hooks for the shared runner (`multi_turn`): `run_samples(tasks, n, backend, params, thinking)` does both
tries and returns scored sample records; underneath, `followup(task, completion, score)` gives the next
conversation (or None when done) and `merge(scores)` folds the per-turn scores into the sample's Score.
Environment errors carry `verdicts["env_error"]` (metrics False, so a runner unaware of them does not crash).

A pass is decided by the parent from the test framework's own report, checked against the tests the exercise's
trusted test files define (reports.py), never from the exit status alone. The frameworks run in the candidate's
process, so every Score carries `verdicts["trust"] = "in-process"` (and the class attribute `trust` says the same
for the whole benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...options import env_field
from ..base import Benchmark, BenchmarkOptions, Score, Task, limit_tasks
from ..bigcodebench import env_error
from .exercises import LANGUAGES, Exercise, load_exercises
from .protocol import TestRun, parse_files, run_tests
from .reports import TRUST
from .runners import toolchain_status

__all__ = [
    "AiderPolyglot",
    "Exercise",
    "LANGUAGES",
    "TestRun",
    "load_exercises",
    "parse_files",
    "run_tests",
    "toolchain_status",
]


@dataclass
class AiderOptions(BenchmarkOptions):
    data: str | None = env_field(env="CRL_AIDER_POLYGLOT")  # the polyglot-benchmark checkout
    languages: str | list[str] | None = env_field(env="CRL_AIDER_LANGUAGES")  # e.g. python,cpp,javascript
    exercises: list[str] | None = None
    python: str | None = None
    test_timeout: float = 180.0
    sandbox_mode: str = "auto"
    require_isolation: bool = False
    task_python: str | None = None  # the Python exercises' interpreter
    task_timeout: float | None = None  # per test run


class AiderPolyglot(Benchmark):
    name = "aider-polyglot"
    Options = AiderOptions
    metrics = ("try2", "try1")
    group_keys = ("language",)
    needs_sandbox = False  # tests run through crlcli.sandbox.command, not the Python SandboxPool
    multi_turn = True
    trust = TRUST  # "in-process": how every result of this benchmark is obtained (see reports.py)

    def __init__(
        self,
        data: str | None = None,
        languages: str | list[str] | None = None,
        limit: int | None = None,
        exercises: list[str] | None = None,
        python: str | None = None,
        test_timeout: float = AiderOptions.test_timeout,
        sandbox_mode: str = AiderOptions.sandbox_mode,
        require_isolation: bool = AiderOptions.require_isolation,
        task_python: str | None = None,
        task_timeout: float | None = None,
        data_root: Any = None,
        **_ignored: Any,
    ):
        import os

        # --task-python/--task-timeout name the Python exercises' interpreter and the per-run test time limit, as
        # they do for BigCodeBench.
        python = os.path.abspath(task_python) if task_python else python
        test_timeout = test_timeout if task_timeout is None else float(task_timeout)
        if isinstance(languages, str):
            languages = [x.strip() for x in languages.split(",") if x.strip()]
        self.data, self.languages, self.limit = data, languages, limit
        self.names, self.python, self.timeout = exercises, python, test_timeout
        self.mode, self.require_isolation, self.data_root = sandbox_mode, require_isolation, data_root

    def exercises(self) -> list[Exercise]:
        return load_exercises(self.data, self.languages, self.names, self.data_root)

    def tasks(self) -> list[Task]:
        out = []
        for ex in self.exercises():
            out.append(
                Task(
                    ex.id,
                    [{"role": "user", "content": ex.first_prompt()}],
                    group={"language": ex.language},
                    data={"exercise": ex},
                )
            )
        return limit_tasks(out, self.limit)

    def run(self, ex: Exercise, files: dict[str, str]) -> TestRun:
        return run_tests(
            ex,
            files,
            python=self.python,
            timeout=self.timeout,
            mode=self.mode,
            require_isolation=self.require_isolation,
        )

    def score(self, task: Task, completion: str, pool: Any = None) -> Score:
        """One try: the files parsed from `completion` (on top of the stubs) against the exercise's tests.
        On a failure `detail` holds the trimmed test output, which is what the model sees on try 2."""
        ex: Exercise = task.data["exercise"]
        files = parse_files(completion, ex)
        if not files:
            return Score(
                {"try1": False, "try2": False},
                extracted=None,
                verdicts={"try": "C", "trust": TRUST},
                detail="no file contents found in the answer (expected a path line, then a fenced block)",
            )
        result = self.run(ex, files)
        if result.status == "env_error":
            score = env_error(_show(files), result.reason, self.metrics)
            score.verdicts["trust"] = TRUST
            return score
        verdict = {"pass": "A", "fail": "W", "timeout": "T"}[result.status]
        return Score(
            {"try1": result.passed, "try2": result.passed},
            extracted=_show(files),
            verdicts={"try": verdict, "trust": TRUST},
            detail=None if result.passed else result.output,
        )

    def followup(self, task: Task, completion: str, score: Score) -> list[dict] | None:
        """The second try's conversation, or None (passed, or an environment error)."""
        if score.metrics.get("try1") or "env_error" in score.verdicts:
            return None
        ex: Exercise = task.data["exercise"]
        return [
            *task.messages,
            {"role": "assistant", "content": completion},
            {"role": "user", "content": ex.retry_prompt(score.detail or "")},
        ]

    def merge(self, scores: list[Score]) -> Score:
        """try1 from the first turn, try2 = passed on either turn (a pass on try 1 ends the exercise)."""
        first, last = scores[0], scores[-1]
        if len(scores) == 1 or "env_error" in first.verdicts:
            return first
        if "env_error" in last.verdicts:  # the second try could not run: try 1's verdict stands for both
            return Score(
                dict(first.metrics),
                first.extracted,
                {**first.verdicts, "env_error": last.verdicts["env_error"]},
                last.detail,
            )
        passed2 = first.metrics["try1"] or last.metrics["try1"]
        verdicts = {"try": "".join(s.verdicts.get("try", "") for s in scores), "trust": TRUST}
        return Score({"try1": first.metrics["try1"], "try2": passed2}, last.extracted, verdicts, last.detail)

    def run_samples(
        self,
        tasks: list[Task],
        n: int,
        backend: Any,
        params: Any,
        thinking: bool = True,
        first_sample: dict[str, int] | None = None,
        threads: int = 2,
    ) -> list[dict[str, Any]]:
        """Both tries for `n` samples of each task, as scored sample records (the runner's samples.jsonl shape
        plus `turns`): generate try 1 for all, run the tests, generate try 2 for the failures, run again."""
        from concurrent.futures import ThreadPoolExecutor
        from dataclasses import replace

        first_sample = first_sample or {}
        outs = backend.chat([t.messages for t in tasks], replace(params, n=n), enable_thinking=thinking)
        recs: list[dict[str, Any]] = [
            {"task": t, "j": j, "turns": [c]} for t, comps in zip(tasks, outs) for j, c in enumerate(comps)
        ]
        with ThreadPoolExecutor(max(1, threads)) as pool:
            scores1 = list(pool.map(lambda r: self.score(r["task"], r["turns"][0].text), recs))
            retry = [(r, s, self.followup(r["task"], r["turns"][0].text, s)) for r, s in zip(recs, scores1)]
            retry = [(r, s, convo) for r, s, convo in retry if convo is not None]
            for r, s in zip(recs, scores1):
                r["scores"] = [s]
            if retry:
                outs2 = backend.chat([convo for _, _, convo in retry], replace(params, n=1), enable_thinking=thinking)
                for (r, _, _), comps in zip(retry, outs2):
                    r["turns"].append(comps[0])
                scores2 = list(pool.map(lambda x: self.score(x[0]["task"], x[0]["turns"][1].text), retry))
                for (r, _, _), s2 in zip(retry, scores2):
                    r["scores"].append(s2)
        samples = []
        for r in recs:
            task, score = r["task"], self.merge(r["scores"])
            samples.append(
                {
                    "task_id": task.task_id,
                    "sample": first_sample.get(task.task_id, 0) + r["j"],
                    "prompt": task.messages,
                    "completion": r["turns"][0].text,
                    "tokens": sum(c.tokens for c in r["turns"]),
                    "finish_reason": r["turns"][-1].finish_reason,
                    "turns": [
                        {
                            "completion": c.text,
                            "tokens": c.tokens,
                            "finish_reason": c.finish_reason,
                            "verdict": s.verdicts.get("try", "S"),
                        }
                        for c, s in zip(r["turns"], r["scores"])
                    ],
                    "extracted": score.extracted,
                    "metrics": {m: bool(score.metrics[m]) for m in self.metrics},
                    "passed": bool(score.metrics[self.metrics[0]]),
                    "verdicts": score.verdicts,
                    "detail": score.detail,
                    "group": task.group,
                }
            )
        return samples

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": list(self.metrics),
            "languages": self.languages or list(LANGUAGES),
            "toolchains": toolchain_status(self.languages),
            "test_timeout_s": self.timeout,
            "trust": self.trust,
        }


def _show(files: dict[str, str]) -> str:
    return "".join(f"{name}\n```\n{text}```\n" for name, text in files.items())
