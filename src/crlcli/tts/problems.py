"""Where tts problems come from and how an answer is scored.

Two sources, one shape (`Problem`):
- a `crl eval` benchmark by name (`crlcli.evaluation.get_benchmark`): its tasks give the chat prompt and its own
  `score()` decides correctness, so budget forcing is measured exactly as `crl eval` measures pass@1;
- a JSON Lines file of problem records (docs/formats.md): the prompt is the packaged solve prompt
  (`rl_solve.txt`) and correctness is "every test passes" in the sandbox.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..extract import extract_code
from ..io import JsonlReader
from ..records import check_problem


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

    def __init__(self, benchmark: str | None = None, input: Path | str | None = None, data: str | None = None,
                 limit: int | None = None):
        if (benchmark is None) == (input is None):
            raise CrlError("give either --benchmark NAME or -i PROBLEMS.jsonl", hint="crl tts budget-force --help")
        self.benchmark_name = benchmark
        self.input = str(input) if input is not None else None
        self.data = data
        self.limit = limit
        self._bench = None

    @property
    def spec(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark_name, "input": self.input, "data": self.data, "limit": self.limit}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Source":
        return cls(spec.get("benchmark"), spec.get("input"), spec.get("data"), spec.get("limit"))

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
        try:
            from ..evaluation import get_benchmark
        except ImportError as exc:
            raise CrlError(
                "the benchmark registry (crlcli.evaluation.get_benchmark) is not available in this build",
                hint="use -i PROBLEMS.jsonl with problem records instead",
            ) from exc
        opts = {"data": self.data} if self.data else {}
        self._bench = get_benchmark(self.benchmark_name, **opts)
        out = []
        for task in self._bench.tasks():
            data = task.data or {}
            question = data.get("question") or task.messages[-1]["content"]
            out.append(Problem(
                id=str(task.task_id), messages=task.messages, question=question, task=task,
                public_tests=_tests_from(data.get("public_tests")),
                record={"id": str(task.task_id), "messages": task.messages, "benchmark": self.benchmark_name},
            ))
        return out

    @staticmethod
    def _load_jsonl(path: str | None) -> list[Problem]:
        from ..mixing import RL_TEMPLATE, load_template, render

        template = load_template(RL_TEMPLATE)
        reader = JsonlReader(path)
        out = []
        for rec in reader:
            why = check_problem(rec)
            if why:
                raise CrlError(f"{reader.where()}: {why}", hint="problem records: see docs/formats.md")
            out.append(Problem(
                id=rec["id"], messages=[{"role": "user", "content": render(template, rec)}],
                question=rec["question"], tests=rec["tests"],
                public_tests=_tests_from(rec.get("public_tests")), record=rec,
            ))
        return out

    # -- scoring -------------------------------------------------------------------------------------------
    def scorer(self, workers: int | None = None, timeout: float | None = None) -> "Scorer":
        return Scorer(self, workers, timeout)


class Scorer:
    """Scores completions of problems in parallel through one sandbox pool; use as a context manager."""

    def __init__(self, source: Source, workers: int | None, timeout: float | None):
        from ..sandbox import JudgePool, Limits

        limits = Limits(timeout=timeout) if timeout else Limits()
        self.source = source
        self.workers = workers
        self.pool = JudgePool(workers=workers, limits=limits)

    def __enter__(self) -> "Scorer":
        return self

    def __exit__(self, *exc) -> None:
        self.pool.close()

    def completions(self, items: list[tuple[Problem, str]]) -> list[dict[str, Any]]:
        """One verdict per (problem, completion): {"correct", "pass_rate", "verdicts", "code"}."""
        if not items:
            return []
        if self.source._bench is not None:
            with ThreadPoolExecutor(max_workers=max(2, self.workers or 4)) as ex:
                return list(ex.map(lambda it: self._bench_score(*it), items))
        codes = [extract_code(text) for _, text in items]
        return self.code([(p, c) for (p, _), c in zip(items, codes)])

    def code(self, items: list[tuple[Problem, str | None]], public: bool = False) -> list[dict[str, Any]]:
        """Run extracted code on each problem's tests (or public tests); None code fails without running."""
        futures = []
        for problem, code in items:
            tests = problem.public_tests if public else problem.tests
            if tests is None:
                raise CrlError(f"problem {problem.id!r} has no {'public ' if public else ''}tests to run")
            futures.append(self.pool.submit(code, tests) if code else None)
        out = []
        for fut in futures:
            if fut is None:
                out.append({"correct": False, "pass_rate": 0.0, "verdicts": "", "code": False})
                continue
            res = fut.result()
            total = int(res.get("total", 0))
            out.append({
                "correct": total > 0 and int(res.get("passed", 0)) == total,
                "pass_rate": float(res.get("pass_rate", 0.0)),
                "verdicts": res.get("verdicts", ""),
                "code": True,
            })
        return out

    def _bench_score(self, problem: Problem, text: str) -> dict[str, Any]:
        bench = self.source._bench
        score = bench.score(problem.task, text, self.pool)
        primary = bench.metrics[0]
        verdicts = score.verdicts.get(primary) or next(iter(score.verdicts.values()), "")
        rate = verdicts.count("A") / len(verdicts) if verdicts else float(bool(score.metrics.get(primary)))
        return {
            "correct": bool(score.metrics.get(primary)),
            "pass_rate": rate,
            "verdicts": verdicts,
            "code": score.extracted is not None,
        }

    def candidate_codes(self, items: list[tuple[Problem, str | None]]) -> list[dict[str, Any]]:
        """Score already-extracted code (critique-select candidates). Benchmarks score a completion, so the code
        is wrapped in a fenced block, which every benchmark's extractor reads back unchanged."""
        if self.source._bench is None:
            return self.code(items)
        wrapped = [(p, f"```python\n{c}```\n" if c else "") for p, c in items]
        return self.completions(wrapped)
