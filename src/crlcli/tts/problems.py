"""Where tts problems come from and how an answer is scored.

Two sources, one shape (`Problem`):
- a `crl eval` benchmark by name (`crlcli.evaluation.get_benchmark`): its tasks give the chat prompt and its own
  `score()` decides correctness, so budget forcing is measured exactly as `crl eval` measures pass@1;
- a JSON Lines file of problem records (docs/formats.md): the prompt is the packaged solve prompt
  (`rl_solve.txt`) and correctness is "every test passes" in the sandbox.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CrlError
from ..evaluation.base import all_passed
from ..extract import extract_code
from ..io import JsonlReader
from ..records import check_problem

if TYPE_CHECKING:
    from ..evaluation.base import Benchmark


@dataclass
class Problem:
    id: str
    messages: list[dict[str, str]]
    question: str  # what the critic is shown
    tests: dict[str, Any] | None = None  # hidden tests (jsonl source)
    public_tests: dict[str, Any] | None = None  # tests a selector may use (visible to the model in the statement)
    task: Any = None  # the benchmark Task (benchmark source)
    record: dict[str, Any] = field(default_factory=dict)  # what problems.jsonl keeps


def _tests_from(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) and value.get("type") else None


class Source:
    """Problems plus the scorer that matches them. `spec` is what run.json keeps to rebuild the source."""

    def __init__(
        self,
        benchmark: str | None = None,
        input: Path | str | None = None,
        data: str | None = None,
        limit: int | None = None,
        options: dict[str, Any] | None = None,
        data_root: Any = None,
    ):
        """`data_root`: where a benchmark looks for its data without `data` (evaluation.base.DataRoot); the
        caller's, like $CRL_EVAL_DATA for the CLI, so not part of `spec`."""
        if (benchmark is None) == (input is None):
            raise CrlError("give either --benchmark NAME or -i PROBLEMS.jsonl", hint="crl tts budget-force --help")
        self.benchmark_name = benchmark
        self.input = str(input) if input is not None else None
        self.data = data
        self.limit = limit
        self.options = dict(options or {})
        self.data_root = data_root
        self.benchmark: Benchmark | None = None  # the Benchmark, once a benchmark source is loaded

    @property
    def spec(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark_name,
            "input": self.input,
            "data": self.data,
            "limit": self.limit,
            "options": self.options,
        }

    @classmethod
    def for_rescoring(
        cls, spec: dict[str, Any], problems_file: Path, data_root: Any = None
    ) -> tuple[Source, list[Problem]]:
        """The source of a saved run and all its problems: a benchmark is reloaded whole (the saved generations
        say which problems to score, whatever --limit the last run had); record problems come from the copy
        the run keeps in problems.jsonl, so the original file may be gone."""
        if spec.get("benchmark"):
            source = cls(spec["benchmark"], None, spec.get("data"), None, spec.get("options"), data_root)
        else:
            source = cls(None, problems_file)
        return source, source.load()

    # -- loading -------------------------------------------------------------------------------------------
    def load(self) -> list[Problem]:
        problems = self._load_benchmark() if self.benchmark_name else self._load_jsonl(self.input)
        if self.limit is not None:
            if self.limit < 0:
                raise CrlError(f"--limit must be >= 0, got {self.limit}")
            problems = problems[: self.limit]
        seen: set[str] = set()
        for p in problems:
            if p.id in seen:
                raise CrlError(f"problem id {p.id!r} appears twice", hint="ids must be unique within a run")
            seen.add(p.id)
        return problems

    def _load_benchmark(self) -> list[Problem]:
        from ..evaluation import get_benchmark

        # --limit is applied by load(), after the ids are known, the same way for both sources.
        assert self.benchmark_name is not None  # load() reads a benchmark only when one is named
        bench = get_benchmark(
            self.benchmark_name, data_root=self.data_root, **{**self.options, "data": self.data, "limit": self.limit}
        )
        self.benchmark = bench
        out = []
        for task in bench.tasks():
            out.append(
                Problem(
                    id=str(task.task_id),
                    messages=task.messages,
                    question=_question(task),
                    task=task,
                    public_tests=bench.public_tests(task),
                    record={"id": str(task.task_id), "messages": task.messages, "benchmark": self.benchmark_name},
                )
            )
        return out

    @staticmethod
    def _load_jsonl(path: str | None) -> list[Problem]:
        from ..mixing import RL_TEMPLATE
        from ..prompts import load_template, render

        template = load_template(RL_TEMPLATE)
        reader = JsonlReader(path)
        out = []
        for rec in reader:
            why = check_problem(rec)
            if why:
                raise CrlError(f"{reader.where()}: {why}", hint="problem records: see docs/formats.md")
            out.append(
                Problem(
                    id=rec["id"],
                    messages=[{"role": "user", "content": render(template, rec)}],
                    question=rec["question"],
                    tests=rec["tests"],
                    public_tests=_tests_from(rec.get("public_tests")),
                    record=rec,
                )
            )
        return out

    # -- scoring -------------------------------------------------------------------------------------------
    def scorer(self, workers: int | None = None, timeout: float | None = None) -> Scorer:
        return Scorer(self, workers, timeout)


def _question(task: Any) -> str:
    """What the critic is shown: the bare statement when the benchmark keeps it, else the whole prompt."""
    data = task.data or {}
    rec = got if isinstance(got := data.get("record"), dict) else {}
    return data.get("question") or rec.get("question_content") or rec.get("prompt") or task.messages[-1]["content"]


class Scorer:
    """Scores completions or code of problems in parallel through one sandbox pool; a context manager.

    Benchmark problems are scored by the benchmark itself (`score`, `score_code`) with its own limits, so the
    numbers match `crl eval`; record problems run their `tests` and pass when every test case passes.
    """

    def __init__(self, source: Source, workers: int | None, timeout: float | None):
        self.source = source
        self.workers = workers
        self.bench = source.benchmark
        self._ctx: AbstractContextManager[Any]  # the benchmark's pool, or a SandboxPool
        if self.bench is not None:
            self._ctx = self.bench.open_pool(workers)
        else:
            from ..sandbox import Limits, SandboxPool

            self._ctx = SandboxPool(workers=workers, limits=Limits(timeout=timeout) if timeout else Limits())
        self.pool = None
        self._extra_pool = None

    def __enter__(self) -> Scorer:
        self.pool = self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._extra_pool is not None:
            self._extra_pool.close()
        self._ctx.__exit__(*exc)

    def _threads(self, fn, items: list) -> list:
        if self.bench is not None:
            self.bench.prepare(list({id(p.task): p.task for p, _ in items}.values()))
        with ThreadPoolExecutor(max_workers=max(2, self.workers or 4)) as ex:
            return list(ex.map(lambda it: fn(*it), items))

    def completions(self, items: list[tuple[Problem, str]]) -> list[dict[str, Any]]:
        """One verdict per (problem, completion): {"correct", "pass_rate", "verdicts", "code"}."""
        if not items:
            return []
        if self.bench is not None:
            return self._threads(lambda p, text: _verdict(self.bench, self.bench.score(p.task, text, self.pool)), items)
        return self.code([(p, extract_code(text)) for p, text in items])

    def candidate_codes(self, items: list[tuple[Problem, str | None]]) -> list[dict[str, Any]]:
        """Score already-extracted code (critique-select candidates) on the hidden tests."""
        if self.bench is None or not items:
            return self.code(items)
        bench = self.bench

        def one(p: Problem, code: str | None) -> dict[str, Any]:
            if not code:
                return {"correct": False, "pass_rate": 0.0, "verdicts": "", "code": False}
            return _verdict(bench, bench.score_code(p.task, code, self.pool))

        return self._threads(one, items)

    def code(self, items: list[tuple[Problem, str | None]], public: bool = False) -> list[dict[str, Any]]:
        """Run code on each problem's own tests (or public tests); None code fails without running."""
        futures = []
        for problem, code in items:
            tests = problem.public_tests if public else problem.tests
            if tests is None:
                raise CrlError(f"problem {problem.id!r} has no {'public ' if public else ''}tests to run")
            futures.append(self._pool_for_tests().submit(code, tests) if code else None)
        out = []
        for fut in futures:
            if fut is None:
                out.append({"correct": False, "pass_rate": 0.0, "verdicts": "", "code": False})
                continue
            res = fut.result()
            out.append(
                {
                    "correct": all_passed(res),
                    "pass_rate": float(res.get("pass_rate", 0.0)),
                    "verdicts": res.get("verdicts", ""),
                    "code": True,
                }
            )
        return out

    def _pool_for_tests(self):
        if self.pool is None:
            # Benchmarks scored without a sandbox still have public tests to run: open a pool on first use.
            from ..sandbox import SandboxPool

            self.pool = self._extra_pool = SandboxPool(workers=self.workers)
        return self.pool


def _verdict(bench: Any, score: Any) -> dict[str, Any]:
    primary = bench.metrics[0]
    verdicts = score.verdicts.get(primary) or next(iter(score.verdicts.values()), "")
    ok = bool(score.metrics.get(primary))
    return {
        "correct": ok,
        "pass_rate": verdicts.count("A") / len(verdicts) if verdicts else float(ok),
        "verdicts": verdicts,
        "code": score.extracted is not None,
    }
