"""Environment errors through `crl eval score` (left out of pass@k, counted and listed in summary.json, shown in
the table) and the benchmark flags of `crl eval` (--task-python, --subset-file, --calibrated/--uncalibrated,
--task-timeout, --languages): the flags reach the benchmark, win over the old environment variables, and a flag a
benchmark does not take is an error."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys

import pytest

from crlcli.errors import CrlError
from crlcli.evaluation import check_options, merge_options

IDS = ["BigCodeBench/4", "BigCodeBench/3"]  # stdlib only; numpy


@pytest.fixture(scope="module")
def data(shared_data):
    return shared_data / "bigcodebench" / "BigCodeBench.jsonl.gz"


@pytest.fixture(scope="module")
def rows(data):
    by = {r["task_id"]: r for r in map(json.loads, gzip.open(data, "rt")) if r["task_id"] in IDS}
    return [by[i] for i in IDS]


@pytest.fixture(scope="module")
def bare_python():
    """An interpreter without numpy (the system one, when it lacks it): BigCodeBench/3 cannot run there."""
    py = shutil.which("python3", path="/usr/bin")
    if not py or subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode == 0:
        pytest.skip("needs a /usr/bin/python3 without numpy to show a missing library")
    return py


def fenced(code: str) -> str:
    return "```python\n" + code + "\n```"


def test_missing_library_is_env_error_not_a_wrong_answer(crl, data, rows, bare_python, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(IDS) + "\n")
    stdlib, numpy_task = rows
    samples = tmp_path / "samples.jsonl"
    lines = [
        {"task_id": stdlib["task_id"], "completion": fenced(stdlib["code_prompt"] + stdlib["canonical_solution"])},
        {"task_id": stdlib["task_id"], "completion": fenced("def task_func(*a, **k):\n    return None\n")},
        # a right answer that cannot run for want of numpy: an environment error, never a failure
        {
            "task_id": numpy_task["task_id"],
            "completion": fenced(numpy_task["code_prompt"] + numpy_task["canonical_solution"]),
        },
    ]
    samples.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = tmp_path / "run"
    # the flag wins over the environment variable (which names an interpreter that has numpy)
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
        "--subset-file",
        str(ids),
        "--task-python",
        bare_python,
        "--uncalibrated",
        "--task-timeout",
        "60",
        env={"CRL_BCB_TASK_PYTHON": sys.executable, "CRL_BCB_CALIBRATED": "1"},
        timeout=600,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    info = summary["benchmark_info"]
    assert info["task_python"] == bare_python and info["calibrated"] is False and info["time_limit_s"] == 61
    assert summary["options"]["subset_file"] == str(ids)
    # pass@1 over the stdlib task only (1 of 2 samples); the numpy task is left out, not counted as wrong
    assert summary["pass@1"] == 0.5
    assert summary["counts"]["tasks"] == 1 and summary["counts"]["env_errors"] == 1
    assert summary["counts"]["passed"] == {"pass": 1}
    env = summary["env_errors"]
    assert env["samples"] == 1 and env["task_ids"] == ["BigCodeBench/3"] == env["tasks_left_out"]
    assert any("numpy" in reason for reason in env["reasons"])
    written = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    marked = [s for s in written if "env_error" in s]
    assert [s["task_id"] for s in marked] == ["BigCodeBench/3"] and "numpy" in marked[0]["env_error"]
    assert "environment errors" in err and "1 environment errors" in " ".join(err.split())

    # rescoring the same run with an interpreter that has numpy clears the mark: both tasks now count
    if subprocess.run([sys.executable, "-c", "import numpy"], capture_output=True).returncode == 0:
        proc = crl("eval", "score", str(run), "--task-python", sys.executable, timeout=600)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        summary = json.loads((run / "summary.json").read_text())
        assert summary["counts"]["env_errors"] == 0 and summary["counts"]["tasks"] == 2
        assert summary["pass@1"] == 0.75 and summary["env_errors"]["task_ids"] == []
        assert summary["benchmark_info"]["calibrated"] is False  # the run's options are kept


def test_env_var_workaround_still_works(data, tmp_path, bare_python, monkeypatch):
    """The variables are older spellings of the flags, read by the command layer (`commands._env`)."""
    from crlcli.commands._env import benchmark_options
    from crlcli.evaluation import get_benchmark

    ids = tmp_path / "ids.txt"
    ids.write_text(IDS[0] + "\n")
    monkeypatch.setenv("CRL_BCB_TASK_PYTHON", bare_python)
    monkeypatch.setenv("CRL_BCB_CALIBRATED", "0")
    monkeypatch.setenv("CRL_BCB_HARD_FILE", str(ids))
    monkeypatch.setenv("CRL_BCB_TASK_TIMEOUT", "30")
    b = get_benchmark("bigcodebench-hard", **benchmark_options("bigcodebench-hard", {"data": str(data)}))
    assert (b.python, b.calibrated, b.timeout, [r["task_id"] for r in b.rows]) == (bare_python, False, 31.0, IDS[:1])
    b = get_benchmark(
        "bigcodebench-hard",
        **benchmark_options(
            "bigcodebench-hard", dict(data=str(data), calibrated=True, task_timeout=10, subset_file=str(ids))
        ),
    )
    assert b.calibrated is True and b.timeout == 11.0  # a given option wins over the variable
    assert (
        get_benchmark("bigcodebench-hard", data=str(data), subset_file=str(ids)).calibrated is True
    )  # no variable read


def test_options_a_benchmark_does_not_take_are_errors():
    assert check_options("bigcodebench", {"task_python": "x", "languages": None}) == {"task_python": "x"}
    with pytest.raises(CrlError, match=r"humaneval\+ does not take languages, task_python"):
        check_options("humaneval+", {"languages": "python", "task_python": "/usr/bin/python3", "data": "d"})
    with pytest.raises(CrlError, match="calibrated"):
        check_options("aider-polyglot", {"calibrated": False})
    with pytest.raises(CrlError, match="release"):
        check_options("bigcodebench", {"release": "v5"})
    # a previous run's options are kept only where the (other) benchmark takes them
    assert merge_options("humaneval", {"data": "d"}, {"release": "v5", "data": "old"}) == {"data": "d"}
    assert merge_options("lcb", {}, {"release": "v5", "data": "old"}) == {"release": "v5", "data": "old"}


def test_cli_refuses_unknown_flag_for_benchmark(crl, tmp_path):
    proc = crl(
        "eval",
        "--benchmark",
        "humaneval",
        "--model",
        "m",
        "--backend",
        "hf",
        "--languages",
        "python",
        "-o",
        str(tmp_path / "r"),
    )
    assert proc.returncode == 2  # a usage error
    assert "does not take --languages" in proc.stderr.decode()
    assert not (tmp_path / "r").exists()
    proc = crl(
        "eval",
        "score",
        str(tmp_path / "r2"),
        "--benchmark",
        "lcb",
        "--samples",
        str(tmp_path / "none"),
        "--subset-file",
        str(tmp_path / "ids"),
        "--uncalibrated",
    )
    assert proc.returncode != 0
    assert "lcb does not take --calibrated/--uncalibrated, --subset-file" in " ".join(proc.stderr.decode().split())


def test_languages_flag_wins_over_env_var(crl, shared_data, tmp_path):
    from crlcli.evaluation.aider import load_exercises, toolchain_status

    if toolchain_status(["python"])["python"]:
        pytest.skip(f"python toolchain for Aider not ready here: {toolchain_status(['python'])['python']}")
    root = shared_data / "aider_polyglot"
    ex = load_exercises(root, ["python"])[0]
    ((name, text),) = ex.reference_files().items()
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps({"task_id": ex.id, "completion": f"{name}\n```python\n{text}```\n"}) + "\n")
    run = tmp_path / "run"
    proc = crl(
        "eval",
        "score",
        str(run),
        "--samples",
        str(samples),
        "--benchmark",
        "aider-polyglot",
        "--data",
        str(root),
        "--languages",
        "python",
        "--limit",
        "1",
        "--task-timeout",
        "120",
        env={"CRL_AIDER_LANGUAGES": "javascript"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["benchmark_info"]["languages"] == ["python"] and summary["benchmark_info"]["test_timeout_s"] == 120
    assert summary["pass@1"] == 1.0 and list(summary["breakdown"]["language"]) == ["python"]
