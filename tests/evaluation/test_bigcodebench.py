"""BigCodeBench-Instruct: canonical solutions pass in the sandbox, wrong ones fail, missing libraries are
environment errors, calibrated vs uncalibrated, the hard subset from a local id file, any-version jsonl."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from crlcli.errors import CrlError
from crlcli.evaluation.bigcodebench import INSTRUCTION_PREFIX, BigCodeBench, is_env_error, read_subset, task_libs

# stdlib, numpy, pandas, matplotlib; 363 pickles a solution function for multiprocessing and 612 patches
# `__name__ + ".choice"`: both need the shared namespace importable as a module, as upstream runs it
SAMPLE = [
    "BigCodeBench/4",
    "BigCodeBench/3",
    "BigCodeBench/55",
    "BigCodeBench/61",
    "BigCodeBench/363",
    "BigCodeBench/612",
]


@pytest.fixture(scope="module")
def data(shared_data):
    return shared_data / "bigcodebench" / "BigCodeBench.jsonl.gz"


@pytest.fixture(scope="module")
def sample_file(data, tmp_path_factory):
    path = tmp_path_factory.mktemp("bcb") / "sample-ids.txt"
    path.write_text("# four light tasks\n" + "\n".join(SAMPLE) + "\n")
    return path


@pytest.fixture(scope="module")
def bench(data, sample_file):
    b = BigCodeBench(data=str(data), subset_file=str(sample_file), task_timeout=60, workers=2)
    yield b
    b.close()


def canonical(row):
    return row["code_prompt"] + row["canonical_solution"]


def test_canonical_solutions_pass(bench):
    assert [r["task_id"] for r in bench.rows] == SAMPLE
    for row in bench.rows:
        missing = bench.missing_libraries(row)
        if missing:
            pytest.skip(f"{row['task_id']} needs {missing}: pip install -r requirements/bigcodebench.txt")
        score = bench.check(row, canonical(row))
        assert score.metrics == {"pass": True}, (row["task_id"], score.verdicts, score.detail)


def test_the_runs_workers_reach_the_benchmarks_own_pool(bench):
    """`crl eval --workers N` goes through `open_pool(N)`: BigCodeBench's own pool (task interpreter, official
    limits) gets N workers, and scoring with that pool runs there."""
    task = bench.tasks()[1]
    with bench.open_pool(1) as pool:
        assert pool.workers == 1 and pool.limits.timeout == bench.timeout
        assert bench.score_code(task, canonical(task.data["row"]), pool).metrics == {"pass": True}
    with bench.open_pool(3) as pool:
        assert pool.workers == 3
    with bench.open_pool(None) as pool:  # no --workers: the benchmark's own setting
        assert pool.workers == 2


def test_wrong_solution_fails(bench):
    row = bench.rows[1]  # BigCodeBench/3: a dict of means
    wrong = "import random\nimport numpy as np\ndef task_func(LETTERS):\n    return {k: -1.0 for k in LETTERS}\n"
    score = bench.check(row, wrong)
    assert score.metrics == {"pass": False} and score.verdicts["pass"] == "W"
    crash = bench.check(row, "def task_func(LETTERS):\n    raise SystemExit(0)\n")
    assert crash.metrics == {"pass": False}


def test_calibrated_supplies_the_prompt_imports(data, sample_file, bench):
    row = bench.rows[1]
    no_imports = "def task_func(LETTERS):\n    return {k: float(np.mean([random.randint(0, 100)])) for k in LETTERS}\n"
    assert bench.calibrated and bench.check(row, no_imports).metrics == {"pass": True}
    raw = BigCodeBench(data=str(data), subset_file=str(sample_file), calibrated=False, task_timeout=60, workers=1)
    try:
        assert raw.check(row, no_imports).metrics == {"pass": False}  # NameError: np
    finally:
        raw.close()


def test_time_limit_is_enforced(bench):
    row = bench.rows[0]
    slow = "def task_func(*args, **kwargs):\n    while True:\n        pass\n"
    fast = BigCodeBench(data=str(bench.path), subset_file=None, task_timeout=2, workers=1)
    try:
        assert fast.timeout == 3.0  # limit + 1 s, as untrusted_check adds
        score = fast.check(row, slow)
        assert score.metrics == {"pass": False} and score.verdicts["pass"] == "T"
    finally:
        fast.close()


def test_missing_library_is_environment_error(data, sample_file):
    system_python = shutil.which("python3", path="/usr/bin")
    if not system_python:
        pytest.skip("no /usr/bin/python3 to act as a task interpreter without numpy")
    b = BigCodeBench(data=str(data), subset_file=str(sample_file), task_python=system_python, workers=1)
    try:
        if not b.missing_libraries(b.rows[1]):
            pytest.skip(f"{system_python} has numpy, so it cannot show a missing library")
        score = b.check(b.rows[1], canonical(b.rows[1]))
        assert is_env_error(score) and "numpy" in score.verdicts["env_error"]
        assert score.metrics == {"pass": False}  # never a pass; the runner leaves it out of pass@k
        assert score.detail.startswith("environment error")
        # decided from the task's own files only: what a solution imports is its own business (issue 12, item 4)
        stdlib_task = b.rows[0]
        assert b.missing_libraries(stdlib_task) == []
        wrong = b.check(stdlib_task, "import numpy\ndef task_func(*a, **k):\n    return None\n")
        assert not is_env_error(wrong) and wrong.metrics == {"pass": False}
    finally:
        b.close()


def test_prompt_and_tasks(bench):
    tasks = bench.tasks()
    assert [t.task_id for t in tasks] == SAMPLE
    content = tasks[0].messages[0]["content"]
    assert content.startswith(INSTRUCTION_PREFIX) and "def task_func(" in content
    score = bench.score(tasks[0], "I cannot solve this.")
    assert score.metrics == {"pass": False} and score.extracted is None


def test_subset_file_forms_and_unknown_ids(data, tmp_path):
    jl = tmp_path / "hard.jsonl"
    jl.write_text("\n".join(json.dumps({"task_id": t, "x": 1}) for t in SAMPLE[:2]) + "\n")
    assert read_subset(jl) == SAMPLE[:2]
    js = tmp_path / "hard.json"
    js.write_text(json.dumps(SAMPLE[2:]))
    assert read_subset(js) == SAMPLE[2:]
    bad = tmp_path / "bad.txt"
    bad.write_text("BigCodeBench/0\nBigCodeBench/99999\n")
    with pytest.raises(CrlError, match="not in"):
        BigCodeBench(data=str(data), subset="hard", subset_file=str(bad))


def test_any_version_local_jsonl(data, tmp_path):
    rows = [json.loads(line) for line in gzip.open(data, "rt")][:3]
    rows[1]["libs"] = ["random", "numpy"]  # newer releases store libs as a list, v0.1.0_hf as a string
    path = tmp_path / "BigCodeBench-v0.1.4.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    b = BigCodeBench(data=str(path))
    assert [r["task_id"] for r in b.rows] == [r["task_id"] for r in rows]
    assert task_libs(b.rows[1]) == {"random", "numpy"}
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"task_id": "x"}) + "\n")
    with pytest.raises(CrlError, match=r"broken.jsonl:1: missing field"):
        BigCodeBench(data=str(broken))


def test_registered_in_eval_registry(data, sample_file):
    from crlcli.evaluation import get_benchmark

    hard = get_benchmark("bigcodebench-hard", data=str(data), subset_file=str(sample_file))
    assert hard.name == "bigcodebench-hard" and len(hard.tasks()) == len(SAMPLE)
    full = get_benchmark("bigcodebench", data=str(data), limit=5)
    assert full.name == "bigcodebench" and len(full.tasks()) == 5 and len(full.rows) == 1140


def test_crl_eval_score_end_to_end(crl, data, tmp_path):
    """The installed `crl eval score` on completions: canonical (fenced) passes, a wrong one fails."""
    rows = [json.loads(line) for line in gzip.open(data, "rt")][1:3]  # quick stdlib tasks
    samples = tmp_path / "samples.jsonl"
    lines = [{"task_id": r["task_id"], "completion": "```python\n" + canonical(r) + "\n```"} for r in rows]
    lines.append(
        {"task_id": rows[0]["task_id"], "completion": "```python\ndef task_func(numbers=None):\n    return 'x'\n```"}
    )
    samples.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = tmp_path / "run"
    proc = crl(
        "eval",
        "score",
        str(run),
        "--samples",
        str(samples),
        "--benchmark",
        "bigcodebench",
        "--data",
        str(data),
        "--limit",
        "3",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["benchmark"] == "bigcodebench" and summary["counts"]["passed"] == {"pass": 2}
    assert abs(summary["pass@1"] - 0.75) < 1e-9  # task 1: 1 of 2 samples, task 2: 1 of 1
    assert summary["benchmark_info"]["calibrated"] is True
    # every sample was decided by the harness inside the candidate's process, and says so
    assert summary["trust"] == {"scored": "in-process", "samples": {"parent": 0, "in-process": 3}}
    written = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert {s["trust"] for s in written} == {"in-process"}
