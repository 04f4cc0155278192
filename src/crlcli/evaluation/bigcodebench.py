"""BigCodeBench-Instruct (`bigcodebench`, `bigcodebench-hard`): the task's `unittest.TestCase` run in the sandbox.

Data: the BigCodeBench jsonl of any version (a local file or folder, e.g. `../shared/data/bigcodebench/`, which is
v0.1.0_hf), else the upstream release file for `version` (default v0.1.4, what the official harness uses today).
The hard subset (148 tasks) is a task-id list: `subset_file` (ids one per line, or a jsonl/json with `task_id`s such
as the upstream BigCodeBench-Hard.jsonl), else the upstream hard release file.

Scoring follows bigcodebench/evaluate.py: the model gets `instruct_prompt` (with the official instruction prefix),
the extracted code runs with the task's test module and its `TestCases` must have no failures and no errors; one
time limit for the whole test class: upstream's `untrusted_check` uses max(240 s, ground-truth time) + 1 s (240 s is
BIGCODEBENCH_TIMEOUT_PER_TASK's default); every canonical solution runs far below 240 s, so it is a flat 241 s
here (`task_timeout` overrides the 240). Calibrated (default, as the leaderboard
reports): `code_prompt` + "\\n    pass\\n" is put before the solution, which supplies imports the model left out.
Tasks whose libraries are not importable by the task interpreter (`task_python`, default: this one) are
environment errors, counted apart from model failures.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..extract import extract_code
from ..options import env_bool, env_field
from .base import IN_PROCESS, Benchmark, BenchmarkOptions, Score, Task, all_passed, find_data, limit_tasks, read_text

RELEASE = "https://github.com/bigcode-project/bigcodebench-annotation/releases/download/{version}/{name}.jsonl.gz"
DEFAULT_VERSION = "v0.1.4"
TIMEOUT_PER_TASK = 240.0  # BIGCODEBENCH_TIMEOUT_PER_TASK default in the official harness
MEMORY_MB = 30 * 1024  # the official --max-as-limit (MB); the host's memory is the real bound
INSTRUCTION_PREFIX = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
)
# Run before the solution: the settings the official reliability_guard makes (UTC, one BLAS thread), a
# non-GUI matplotlib backend, and no allocator background thread.
PRELUDE = (
    "import os as _crl_os, time as _crl_time\n"
    "_crl_os.environ['TZ'] = 'UTC'; _crl_time.tzset()\n"
    "_crl_os.environ.setdefault('HOME', _crl_os.getcwd())\n"  # nltk and others expand '~'
    "for _crl_k, _crl_v in (('MPLBACKEND', 'Agg'), ('OMP_NUM_THREADS', '1'), ('OPENBLAS_NUM_THREADS', '1'),"
    " ('MKL_NUM_THREADS', '1'), ('TF_CPP_MIN_LOG_LEVEL', '3'),"
    # pyarrow's jemalloc (loaded by pandas) starts a background thread; the sandbox's assert runner wants
    # the process down to one thread before it hands out its end marker
    " ('JE_ARROW_MALLOC_CONF', 'background_thread:false')):\n"
    "    _crl_os.environ[_crl_k] = _crl_v\n"
    # `python` in the tests' subprocesses is the task interpreter, as in the official environment
    "import sys as _crl_sys\n"
    "_crl_os.environ['PATH'] = _crl_os.path.dirname(_crl_sys.executable) + ':' + "
    "_crl_os.environ.get('PATH', '/usr/bin:/bin')\n"
)
# Before the solution: like the official harness (module "__test__" registered in sys.modules), make the namespace
# the solution and tests share importable by name, so that `patch(__name__ + ".choice")` patches it and functions
# the solution defines pickle by reference (multiprocessing).
NAMESPACE = """
import sys as _crl_sys


class _CrlNamespace:
    def __init__(self, ns):
        object.__setattr__(self, "_ns", ns)

    def __getattr__(self, key):
        try:
            return object.__getattribute__(self, "_ns")[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        object.__getattribute__(self, "_ns")[key] = value

    def __delattr__(self, key):
        del object.__getattribute__(self, "_ns")[key]


__name__ = "__test__"
_crl_sys.modules["__test__"] = _CrlNamespace(globals())

"""
# The in-process unittest harness (`assert` tests run in the candidate's process): a real module, bcb_harness.py,
# so that lint and the tests see it, sent as text. The program is its source from `def _crl_harness` on, after a
# newline (tests/evaluation/test_bcb_harness.py: it compiles, and it is what program_for sends).
_HARNESS_SOURCE = resources.files("crlcli.evaluation").joinpath("bcb_harness.py").read_text(encoding="utf-8")
HARNESS = "\n" + _HARNESS_SOURCE[_HARNESS_SOURCE.index("def _crl_harness(") :]

# The sandbox program after the solution: the harness has already run the tests (and raised unless they passed).
DONE = "# the BigCodeBench harness ran the tests in the solution part (crlcli.evaluation.bigcodebench)\npass\n"

# The unittest modules the harness snapshots and restores (their dicts and every class they define).
PROTECT = (
    "unittest",
    "unittest.case",
    "unittest.result",
    "unittest.suite",
    "unittest.loader",
    "unittest.util",
    "unittest.signals",
    "unittest.mock",
)


# Modules found by name that still cannot work without another one (turtle's module exists without Tk).
IMPLIED = {"turtle": "tkinter"}


def load_tasks(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise CrlError(f"{path}:{i}: not JSON ({exc})", hint="expected the BigCodeBench jsonl") from exc
        missing = [k for k in ("task_id", "instruct_prompt", "code_prompt", "test") if k not in row]
        if missing:
            raise CrlError(
                f"{path}:{i}: missing field(s) {', '.join(missing)}",
                hint="expected a BigCodeBench jsonl record (any version)",
            )
        rows.append(row)
    return rows


def read_subset(path: str | Path) -> list[str]:
    """Task ids from a text file (one per line), a jsonl of records with `task_id`, or a JSON list."""
    p = Path(path)
    text = read_text(p).strip()
    if text.startswith("["):
        items = json.loads(text)
        return [x["task_id"] if isinstance(x, dict) else str(x) for x in items]
    ids = []
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                ids.append(json.loads(line)["task_id"])
            except (ValueError, KeyError) as exc:
                raise CrlError(f"{p}:{i}: a JSON line without task_id", hint="one task id per line") from exc
        else:
            ids.append(line)
    return ids


def task_libs(row: dict) -> set[str]:
    libs = row.get("libs") or []
    if isinstance(libs, str):
        try:
            libs = ast.literal_eval(libs)
        except (ValueError, SyntaxError):
            libs = []
    return {str(x).split(".")[0] for x in libs}


def imported_modules(source: str) -> set[str]:
    try:
        with warnings.catch_warnings():  # task tests hold regexes with invalid escapes
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


def canonical_source(row: dict) -> str:
    """The task's reference solution as shipped: its `code_prompt` (imports and signature) and body."""
    return (row.get("code_prompt") or "") + (row.get("canonical_solution") or "")


@lru_cache(maxsize=2048)
def plan_tests(test: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """From the trusted test module, parsed here in the parent: the test methods of its `TestCases` class in the
    order unittest's loader runs them (sorted names of `test*` functions; a later definition replaces an earlier
    one), and the names its top level binds (imports, functions, classes, assignments)."""
    with warnings.catch_warnings():  # task tests hold regexes with invalid escapes
        warnings.simplefilter("ignore")
        tree = ast.parse(test)
    names: set[str] = set()
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                bound |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        if isinstance(node, ast.ClassDef) and node.name == "TestCases":
            names = {
                f.name
                for f in node.body
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name.startswith("test")
            }
    return tuple(sorted(names)), tuple(sorted(bound))


@cache
def _available(python: str, names: frozenset[str]) -> frozenset[str]:
    """Which top-level modules `python` can find (one subprocess per interpreter and name set)."""
    probe = (
        "import importlib.util, json, sys\n"
        "names = json.loads(sys.stdin.read())\n"
        "print(json.dumps([n for n in names if importlib.util.find_spec(n) is not None]))\n"
    )
    try:
        out = subprocess.run(
            [python, "-c", probe], input=json.dumps(sorted(names)), capture_output=True, text=True, timeout=120
        )
    except OSError as exc:
        raise CrlError(f"cannot run the task interpreter {python} ({exc})", hint="check --task-python") from exc
    if out.returncode != 0:
        raise CrlError(f"the task interpreter {python} failed: {out.stderr.strip()[-500:]}", hint="check --task-python")
    return frozenset(json.loads(out.stdout))


@dataclass
class BigCodeBenchOptions(BenchmarkOptions):
    subset_file: str | None = env_field(env="CRL_BCB_HARD_FILE", when={"subset": "hard"})  # task ids to keep
    version: str = DEFAULT_VERSION
    calibrated: bool | None = env_field(env="CRL_BCB_CALIBRATED", parse=env_bool)  # default True
    task_python: str | None = env_field(env="CRL_BCB_TASK_PYTHON")  # the tasks' interpreter
    task_timeout: float | None = env_field(env="CRL_BCB_TASK_TIMEOUT", parse=float)
    memory_mb: int = MEMORY_MB
    workers: int | None = None
    sandbox_mode: str = "auto"
    require_isolation: bool = False


class BigCodeBench(Benchmark):
    name = "bigcodebench"
    Options = BigCodeBenchOptions
    trust = IN_PROCESS  # every result: the task's unittest runs in the candidate's process (see HARNESS)
    metrics = ("pass",)
    group_keys = ()
    needs_sandbox = False  # not the shared pool: open_pool gives one of its own (task interpreter, official limits)

    def __init__(
        self,
        data: str | None = None,
        subset: str = "full",
        subset_file: str | None = None,
        version: str = BigCodeBenchOptions.version,
        calibrated: bool | None = None,
        task_python: str | None = None,
        task_timeout: float | None = None,
        memory_mb: int = BigCodeBenchOptions.memory_mb,
        limit: int | None = None,
        workers: int | None = None,
        sandbox_mode: str = BigCodeBenchOptions.sandbox_mode,
        require_isolation: bool = BigCodeBenchOptions.require_isolation,
        data_root: Any = None,
        **_ignored: Any,
    ):
        calibrated = True if calibrated is None else calibrated
        if subset not in ("full", "hard"):
            raise CrlError(f"unknown BigCodeBench subset {subset!r}", hint="full or hard")
        self.subset, self.subset_file, self.version = subset, subset_file, version
        if subset == "hard":
            self.name = "bigcodebench-hard"
        self.data, self.calibrated, self.limit, self.data_root = data, calibrated, limit, data_root
        # absolute: the sandbox starts the interpreter from its own working directory
        self.python = os.path.abspath(task_python) if task_python else sys.executable
        if not Path(self.python).exists():
            raise CrlError(f"--task-python {self.python}: no such interpreter")
        self.timeout = (task_timeout if task_timeout is not None else TIMEOUT_PER_TASK) + 1.0
        self.memory_mb, self.workers = memory_mb, workers
        self.mode, self.require_isolation = sandbox_mode, require_isolation
        self._pool = None
        self._lock = threading.Lock()
        self.rows = self._load()
        self._trusted: dict[str, set[str]] = {}
        self.all_modules = set().union(*(self.trusted_modules(r) for r in self.rows))
        self.all_modules = {m for m in self.all_modules if m.isidentifier() and not m.startswith("_")}
        self.all_modules |= set(IMPLIED.values())

    def _load(self) -> list[dict]:
        path = find_data(
            self.data,
            ("BigCodeBench.jsonl.gz", "BigCodeBench.jsonl", "*.jsonl.gz", "*.jsonl"),
            "BigCodeBench",
            RELEASE.format(version=self.version, name="BigCodeBench"),
            self.data_root,
        )
        self.path = path
        rows = load_tasks(path)
        if self.subset == "hard" or self.subset_file:
            if self.subset_file:
                ids = read_subset(self.subset_file)
            else:
                ids = [
                    r["task_id"]
                    for r in load_tasks(
                        find_data(
                            None,
                            (),
                            "BigCodeBench-Hard",
                            RELEASE.format(version=self.version, name="BigCodeBench-Hard"),
                        )
                    )
                ]
            by_id = {r["task_id"]: r for r in rows}
            unknown = [i for i in ids if i not in by_id]
            if unknown:
                raise CrlError(
                    f"{len(unknown)} task id(s) of the subset are not in {path}: {', '.join(unknown[:5])}",
                    hint="is the subset file for this BigCodeBench version?",
                )
            rows = [by_id[i] for i in ids]
        return rows

    def tasks(self) -> list[Task]:
        out = [
            Task(
                r["task_id"],
                [{"role": "user", "content": INSTRUCTION_PREFIX + "\n" + r["instruct_prompt"].strip()}],
                data={"row": r},
            )
            for r in self.rows
        ]
        return limit_tasks(out, self.limit)

    # -- scoring ---------------------------------------------------------------------------------------------
    def solution(self, row: dict, code: str) -> str:
        return (row["code_prompt"] + "\n    pass\n" + code) if self.calibrated else code

    def trusted_modules(self, row: dict) -> set[str]:
        """The modules a task needs, from its trusted files only: its `libs`, its test module's imports and the
        imports of its canonical solution as shipped (`code_prompt` + `canonical_solution`). Never the candidate's
        code: an unused `import tensorflow` must not turn a wrong answer into an environment error."""
        key = row.get("task_id")
        hit = self._trusted.get(key) if key is not None else None
        if hit is None:
            hit = task_libs(row) | imported_modules(row["test"]) | imported_modules(canonical_source(row))
            hit = {m for m in hit if m.isidentifier() and not m.startswith("_")}
            hit |= {IMPLIED[m] for m in hit if m in IMPLIED}
            if key is not None:
                self._trusted[key] = hit
        return set(hit)

    def missing_libraries(self, row: dict) -> list[str]:
        """The task's trusted modules (see `trusted_modules`) that the task interpreter cannot import. A module
        only the candidate imports is the candidate's business: missing, it fails like any other import error."""
        # standard modules count too: a Python built without tkinter (Debian's) cannot run the turtle tasks
        need = self.trusted_modules(row)
        if not need:
            return []
        # one probe per interpreter for every module any task uses; the rare extra name gets its own probe
        have = _available(self.python, frozenset(self.all_modules))
        unknown = need - self.all_modules
        if unknown:
            have = have | _available(self.python, frozenset(unknown))
        return sorted(need - have)

    def needs_nltk_data(self, row: dict) -> bool:
        """NLTK's corpora and models (punkt, stopwords, wordnet, vader...) are downloaded from the network, not
        installed by pip: a task whose trusted files (test, canonical solution) use them cannot run where they are
        absent. Decided from the task alone, like `missing_libraries`."""
        if not {"nltk", "textblob"} & self.trusted_modules(row):
            return False
        return bool(_NLTK_DATA_USE.search(canonical_source(row) + "\n" + row["test"])) and not _has_nltk_data(
            self.python
        )

    def tests_for(self, row: dict) -> dict:
        """The sandbox test: an `assert` test whose program has nothing left to do, because the harness that
        `program_for` puts in front runs the solution and the tests itself (in-process; see HARNESS)."""
        return {
            "type": "assert",
            "fn_name": None,
            "class_name": None,
            "program": DONE,
            "cases": [{"program": DONE, "timeout": self.timeout}],
        }

    def program_for(self, row: dict, code: str) -> str:
        """What the sandbox runs as the solution: the trusted set-up, then the harness with the candidate's code
        (as data: the harness compiles and runs it after its snapshot), the trusted test module, the tests it
        defines (parsed here, in the parent) and the names it binds."""
        names, bound = plan_tests(row["test"])
        return (
            PRELUDE
            + NAMESPACE
            + HARNESS
            + "\n_crl_harness(%r, %r, %r, %r, %r, globals())\n"
            % (self.solution(row, code), row["test"], list(names), list(bound), PROTECT)
        )

    def new_pool(self, workers: int | None):
        """A SandboxPool of our own: the task interpreter, the official time limit, a generous memory cap."""
        from ..sandbox import Limits, SandboxPool

        # Tasks write data files and some start process pools: a larger scratch tmpfs and process cap than the
        # sandbox's defaults for one-function problems.
        limits = Limits(
            timeout=self.timeout, memory_mb=self.memory_mb, max_output=16 << 20, tmpfs_mb=1024, max_procs=256
        )
        return SandboxPool(
            workers=workers, limits=limits, mode=self.mode, require_isolation=self.require_isolation, python=self.python
        )

    @contextmanager
    def open_pool(self, workers: int | None) -> Iterator[Any]:
        """A run's pool (`crl eval --workers` reaches it): the task interpreter and limits of `new_pool`."""
        with self.new_pool(workers if workers is not None else self.workers) as pool:
            yield pool

    def pool(self):
        """The pool of a `score` called without one (library use): made on first use, closed at exit."""
        with self._lock:
            if self._pool is None:
                import atexit

                self._pool = self.new_pool(self.workers)
                atexit.register(self.close)
            return self._pool

    def check(self, row: dict, code: str, pool: Any = None) -> Score:
        """Score one piece of code (already extracted) on a task, in `pool` (default: `self.pool()`)."""
        missing = self.missing_libraries(row)
        if missing:
            return env_error(code, f"missing libraries in {self.python}: {', '.join(missing)}", self.metrics)
        if self.needs_nltk_data(row):
            return env_error(
                code,
                "needs NLTK data (punkt, stopwords, ...), which is not installed for "
                f"{self.python} (python -m nltk.downloader -d <prefix>/nltk_data ...)",
                self.metrics,
            )
        result = (pool or self.pool()).submit(self.program_for(row, code), self.tests_for(row)).result()
        passed = all_passed(result)
        return Score(
            {"pass": passed},
            extracted=code,
            verdicts={"pass": result["verdicts"]},
            detail=None if passed else _explain(result["verdicts"]),
            trust=IN_PROCESS,
        )

    def score_code(self, task: Task, code: str, pool: Any = None) -> Score:
        """Score code given as is (a samples file's `solution` field)."""
        return self.check(task.data["row"], code, pool)

    def score(self, task: Task, completion: str, pool: Any = None) -> Score:
        code = extract_code(completion)
        if code is None:
            return Score(
                {"pass": False},
                extracted=None,
                verdicts={"pass": "C"},
                detail="no code block in the answer",
                trust=IN_PROCESS,
            )
        return self.check(task.data["row"], code, pool)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metrics": list(self.metrics),
            "data": str(self.path),
            "subset": self.subset,
            "calibrated": self.calibrated,
            "task_python": self.python,
            "time_limit_s": self.timeout,
            "tasks_in_data": len(self.rows),
        }


_NLTK_DATA_USE = re.compile(
    r"nltk\.download|word_tokenize|sent_tokenize|stopwords|wordnet|pos_tag|ne_chunk|"
    r"vader|SentimentIntensityAnalyzer|TextBlob|punkt|nltk\.corpus"
)


@cache
def _has_nltk_data(python: str) -> bool:
    """NLTK data where the sandbox can see it: under the interpreter's prefix or /usr (not the host's home)."""
    probe = (
        "import os, sys\n"
        "dirs = [os.path.join(sys.prefix, d) for d in ('nltk_data', 'share/nltk_data', 'lib/nltk_data')]\n"
        "dirs += ['/usr/share/nltk_data', '/usr/local/share/nltk_data', '/usr/lib/nltk_data', '/usr/local/lib/nltk_data']\n"
        "print(any(os.path.isdir(d) and os.listdir(d) for d in dirs))\n"
    )
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() == "True"


def env_error(code: str | None, reason: str, metrics: tuple[str, ...] = ("pass",), trust: str = IN_PROCESS) -> Score:
    """An environment error (a library or toolchain is missing): not the model's failure. It is marked by
    `verdicts["env_error"]`, which the runner counts apart from failures and leaves out of pass@k; the metrics are
    False so that a scorer unaware of the marker still gets every metric it expects."""
    return Score(
        {m: False for m in metrics},
        extracted=code,
        verdicts={"env_error": reason},
        detail=f"environment error: {reason}",
        trust=trust,
    )


def is_env_error(score: Score) -> bool:
    return "env_error" in score.verdicts


def _explain(verdicts: str) -> str:
    return {
        "W": "a test failed or raised",
        "T": "time limit",
        "M": "memory limit",
        "O": "output limit",
        "R": "runtime error",
        "C": "syntax error",
        "S": "sandbox failure",
    }.get(verdicts[:1], f"verdicts {verdicts}")


def default_data() -> str | None:
    """`../shared/data/bigcodebench` beside the checkout when present (the benches' default --data)."""
    here = Path(__file__).resolve()
    for up in here.parents:
        cand = up.parent / "shared" / "data" / "bigcodebench"
        if cand.is_dir():
            return str(cand)
    return None
