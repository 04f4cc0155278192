"""What every benchmark module provides, and the shared data-source helpers.

A benchmark turns its data into `Task`s (a chat prompt plus what scoring needs) and scores one completion of a
task into a `Score`: one boolean per metric (e.g. EvalPlus "base" and "plus"), the extracted code or answer, and
per-test verdicts. Everything else (generation, resume, pass@k, breakdowns, reports) is shared and lives in
`pipeline.py` / `rundir.py` / `report.py`, so adding a benchmark is one module plus one registry line.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..options import Options
from ..verdicts import IN_PROCESS, PARENT


@dataclass
class Task:
    task_id: str
    messages: list[dict[str, str]]
    group: dict[str, str] = field(default_factory=dict)  # breakdown fields: difficulty, platform, subtask, ...
    data: dict[str, Any] = field(default_factory=dict)  # what `score` needs; never written to samples.jsonl


# How a score was obtained. "parent": every pass was decided by the trusted parent from values it
# compared itself (or no candidate code decided anything: answer matching). "in-process": a test harness ran in the
# candidate's own process and its outcome was believed (BigCodeBench's unittest, unconverted `check(candidate)`
# asserts, Aider's Python tests): hardened, but candidate code shares that process and can in principle fool it.
TRUST_LEVELS = (PARENT, IN_PROCESS)  # a score's two levels (the sandbox's returns-only counts as parent)


@dataclass
class Score:
    metrics: dict[str, bool]  # every metric the benchmark declares, True = passed
    extracted: str | None = None  # the code or answer taken from the completion (None: nothing found)
    verdicts: dict[str, str] = field(default_factory=dict)  # per metric or test set: "AAW..."
    detail: str | None = None  # why it failed, when that is not obvious from the verdicts
    trust: str = PARENT  # PARENT or IN_PROCESS: in-process when any of its metrics was decided in-process

    def __post_init__(self) -> None:
        if self.trust not in TRUST_LEVELS:
            raise ValueError(f"Score.trust must be one of {TRUST_LEVELS}, got {self.trust!r}")


def weakest_trust(*levels: str | None) -> str:
    """The trust of a result built from parts (e.g. a multi-turn sample, a composite benchmark): in-process as
    soon as one part is."""
    return IN_PROCESS if IN_PROCESS in levels else PARENT


def sandbox_trust(result: dict[str, Any], tests: Any = None) -> str:
    """The trust of a SandboxPool result in a score's two levels, by the one trust rule (sandbox/testtypes.py:
    `trust_of`): in-process when a harness in the candidate's process decided it, or when nobody can say (an
    unknown level or type; a result that says nothing is judged by its `tests`' type); else parent (returns-only
    call cases too: the parent decided them, by the rule their record declares)."""
    from ..sandbox.testtypes import trust_of  # the table is loaded when a result is scored, not by `--help`

    return IN_PROCESS if trust_of(result, tests) == IN_PROCESS else PARENT


@dataclass
class BenchmarkOptions(Options):
    """The options every benchmark takes. A benchmark declares its own as a subclass (its `Options`): the keys
    `crl eval`'s flags and `crl tts -B KEY=VALUE` may set, each with its type, and (`crlcli.options.env_field`)
    the variable the command layer reads for it when unset. A field's default is the option's default: the
    benchmark's constructor takes it from here (`release: str | None = LCBOptions.release`); None where the
    benchmark works the value out itself (a release's date window, the sandbox's time limit)."""

    data: str | None = None  # a data file or a folder searched for it
    limit: int | None = None  # only the first K tasks


class Benchmark(ABC):
    """What `crl eval` and `crl tts` call on a benchmark. Subclasses set `name`, `metrics` (primary first) and
    `group_keys`, declare `Options`, and implement `tasks()` and `score()`; every other method has a default that
    fits a benchmark without that feature, so callers never probe with hasattr."""

    Options: type[BenchmarkOptions] = BenchmarkOptions

    name: str = ""
    metrics: tuple[str, ...] = ("pass",)
    group_keys: tuple[str, ...] = ()
    # False: scored without running code in the shared pool (answer matching, or a pool/toolchain of its own).
    needs_sandbox: bool = True
    # How this benchmark's scores are obtained when a sample does not say (samples scored before `trust` existed)
    trust: str = PARENT
    # True: `run_samples` generates and scores whole conversations (Aider's two tries) and `merge` folds the
    # turns' scores; the runner then leaves generation to the benchmark.
    multi_turn: bool = False

    @abstractmethod
    def tasks(self) -> list[Task]:
        """Every task, in the benchmark's order (after the benchmark's own --limit)."""

    @abstractmethod
    def score(self, task: Task, completion: str, pool: Any) -> Score:
        """Score one model completion; `pool` is what `open_pool` yielded."""

    def score_code(self, task: Task, code: str, pool: Any) -> Score:
        """Score code given as is (a samples file's `solution`, a critique-select candidate). Default: as if the
        model had answered with that code in one fenced block."""
        return self.score(task, f"```python\n{code}\n```\n", pool)

    def limits(self) -> dict[str, Any]:
        """Keyword arguments for the sandbox `Limits` of the shared pool (default: the sandbox's defaults)."""
        return {}

    @contextmanager
    def open_pool(self, workers: int | None) -> Iterator[Any]:
        """The pool `score` runs code in, for the duration of a run: a SandboxPool with `limits()`, or None when
        `needs_sandbox` is False. A benchmark that needs another interpreter or limits overrides this, so that
        the run's `workers` reach it too."""
        if not self.needs_sandbox:
            yield None
            return
        from ..sandbox import Limits, SandboxPool

        with SandboxPool(workers=workers, limits=Limits(**self.limits())) as pool:
            yield pool

    def prepare(self, tasks: list[Task]) -> None:  # noqa: B027 (an optional hook; not abstract on purpose)
        """Called with the tasks about to be scored, before any `score`: a place for batch work such as
        computing expected outputs for just these tasks. Default: nothing."""

    def public_tests(self, task: Task) -> dict[str, Any] | None:
        """The tests shown in a task's statement (problem-record `tests` shape), for test-time scaling's
        public-tests selector; None when the benchmark has none. Default: the task's `public_tests` data."""
        value = task.data.get("public_tests")
        return value if isinstance(value, dict) and value.get("type") else None

    def run_samples(
        self,
        tasks: list[Task],
        n: int,
        backend: Any,
        params: Any,
        thinking: bool = True,
        first_sample: dict[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Multi-turn benchmarks only (`multi_turn`): generate and score `n` samples per task."""
        raise NotImplementedError(f"benchmark {self.name} is not multi-turn")

    def merge(self, scores: list[Score]) -> Score:
        """Multi-turn benchmarks: one sample's Score from its turns' Scores. Default: the last turn's."""
        return scores[-1]

    def headline(self, metric_scores: dict[str, float | None], group_scores: dict) -> dict[str, float | None]:
        """The numbers a report shows for this run: by default the primary metric's pass@1 under the run's name.
        Composite benchmarks (evalplus, bbeh) override it to add their parts and their average."""
        return {self.name: metric_scores.get(self.metrics[0])}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "metrics": list(self.metrics)}


def all_passed(result: dict[str, Any]) -> bool:
    """A sandbox result passes when it ran at least one test case and every one was accepted."""
    return int(result.get("total", 0)) > 0 and int(result.get("passed", 0)) == int(result["total"])


class RecordTestsBenchmark(Benchmark):
    """A benchmark whose tasks carry problem-record `tests` (docs/formats.md): pass = every test case accepted."""

    def tests_of(self, task: Task) -> dict[str, Any]:
        return task.data["tests"]

    def score(self, task: Task, completion: str, pool: Any) -> Score:
        from ..extract import extract_code

        code = extract_code(completion)
        if code is None:
            return Score(metrics={"pass": False}, detail="no code block in the answer")
        return self.score_code(task, code, pool, extracted=code)

    def score_code(self, task: Task, code: str, pool: Any, extracted: str | None = None) -> Score:
        tests = self.tests_of(task)
        res = pool.submit(code, tests).result()
        return Score(
            metrics={"pass": all_passed(res)},
            extracted=extracted or code,
            verdicts={"pass": res["verdicts"]},
            trust=sandbox_trust(res, tests),
        )


def limit_tasks(tasks: list[Task], limit: int | None) -> list[Task]:
    if limit is not None and limit < 0:
        raise CrlError(f"--limit must be >= 0, got {limit}")
    return tasks if limit is None else tasks[:limit]


def cache_dir(*parts: str) -> Path:
    """Where derived data (EvalPlus expected outputs, downloads) is cached: $CRL_CACHE_DIR or ~/.cache/crl."""
    root = Path(os.environ.get("CRL_CACHE_DIR") or Path.home() / ".cache" / "crl")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_text(path: Path) -> str:
    """A data file's text; `.gz` decompressed."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return fh.read()
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CrlError(f"{path}: cannot read ({exc})") from exc


# The default data folder when a benchmark is given no `data` (`crl eval`'s: $CRL_EVAL_DATA, read by the command
# layer) reaches a benchmark as its `data_root` argument: a path, or a callable giving one, so that it is read
# (and a deprecated variable noted) only by a run that looks for data.
DataRoot = str | Path | Callable[[], "str | None"] | None


def resolve_root(root: DataRoot) -> str | Path | None:
    """The data root's value (a callable is called)."""
    return root() if callable(root) else root


def find_data(
    data: str | Path | None, names: tuple[str, ...], what: str, url: str | None, data_root: DataRoot = None
) -> Path:
    """Resolve a benchmark's data file: an explicit file, a directory searched (recursively) for one of `names`
    in order of preference, else the default data folder (`data_root`) searched the same way, else a download from
    `url` into the cache (the upstream release; needs network)."""
    for root in (data, resolve_root(data_root)):
        if not root:
            continue
        p = Path(root)
        if p.is_file():
            return p
        if p.is_dir():
            for name in names:
                hits = sorted(p.rglob(name))
                if hits:
                    return hits[0]
            if root is data:
                raise CrlError(
                    f"{p}: no {what} data file ({' or '.join(names)}) found under this directory",
                    hint="point --data at the file itself",
                )
        elif root is data:
            raise CrlError(
                f"{p}: no such file or directory", hint=f"give --data the {what} file or a folder holding it"
            )
    if url is None:
        raise CrlError(
            f"no local {what} data given and no upstream download is known",
            hint="pass --data PATH (a file or a folder holding it)",
        )
    return download(url, what)


def download(url: str, what: str) -> Path:
    target = cache_dir("downloads") / url.rstrip("/").split("/")[-1]
    if target.exists() and target.stat().st_size > 0:
        return target
    import urllib.request

    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
            while block := resp.read(1 << 20):
                out.write(block)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CrlError(
            f"cannot download {what} from {url} ({exc})",
            hint="offline? pass --data PATH to a local copy (see docs/eval.md)",
        ) from exc
    tmp.replace(target)
    return target
