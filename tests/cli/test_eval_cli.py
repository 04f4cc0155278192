"""`crl eval` end to end through the console script: a tiny random model through the hf backend on 3 tasks of
every benchmark, rescoring, canonical solutions scored at 100%, reports, and clear errors."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from tests.evaluation.test_lcb import functional_record, stdin_record


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    # A private cache so ground truth is computed here, from the files the tests use.
    return {"CRL_CACHE_DIR": str(tmp_path_factory.mktemp("crl-cache")), "CRL_EVAL_DATA": ""}


@pytest.fixture(scope="module")
def lcb_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("lcb") / "test.jsonl"
    recs = [stdin_record(), functional_record(), stdin_record("abc101_b", "2024-12-24T00:00:00", "hard")]
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return p


@pytest.fixture(scope="module")
def jsonl_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("jsonl") / "problems.jsonl"
    recs = [
        {
            "id": f"p{i}",
            "question": "Print the sum of two integers on one line.",
            "starter_code": "",
            "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
            "source": {"dataset": "toy"},
        }
        for i in range(4)
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return p


def bench_data(name, shared_data, lcb_file, jsonl_file):
    return {"lcb": lcb_file, "jsonl": jsonl_file}.get(name, shared_data)


EXPECTED_TASKS = {
    "humaneval": 3,
    "humaneval+": 3,
    "mbpp": 3,
    "mbpp+": 3,
    "evalplus": 6,
    "lcb": 3,
    "bbeh": 12,
    "bbeh:boardgame_qa": 3,
    "jsonl": 3,
}
# Each run loads torch and the model in a fresh process (~10 s on 2 cores): the default suite runs the ones whose
# code paths the others share (evalplus covers humaneval/mbpp and their plus variants; bbeh covers a subtask).
_SHARED_PATH = {"humaneval", "mbpp", "mbpp+", "bbeh:boardgame_qa"}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.heavy) if n in _SHARED_PATH else n for n in EXPECTED_TASKS]
)
def test_tiny_model_on_every_benchmark(crl, tiny_model, tmp_path, env, shared_data, lcb_file, jsonl_file, name):
    run = tmp_path / "run"
    data = bench_data(name, shared_data, lcb_file, jsonl_file)
    args = [
        "eval",
        "--benchmark",
        name,
        "--model",
        str(tiny_model),
        "--backend",
        "hf",
        "--limit",
        "3",
        "--max-tokens",
        "8",
        "--data",
        str(data),
        "-o",
        str(run),
        "--seed",
        "1",
    ]
    if name == "lcb":
        args += ["--release", "v5"]
    r = crl(*args, env=env, timeout=600)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b""  # tables go to stderr
    summary = json.loads((run / "summary.json").read_text())
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    tasks = EXPECTED_TASKS[name]
    assert summary["counts"]["tasks"] == tasks and len(samples) == tasks
    assert summary["sampling"] == {
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": 20,
        "max_tokens": 8,
        "seed": 1,
        "stop": None,
    }
    assert summary["model"] == str(tiny_model) and summary["thinking"] is True and summary["n"] == 1
    assert 0.0 <= summary["pass@1"] <= 1.0 and "pass@1" in summary["pass@k"]
    assert all(s["finish_reason"] in ("stop", "length") and "metrics" in s and s["prompt"] for s in samples)
    assert summary["headline"] and summary["time"]["generation"] > 0
    if name == "lcb":
        assert set(summary["breakdown"]) == {"difficulty", "platform"}
        assert summary["breakdown"]["difficulty"]["hard"]["tasks"] == 1
    if name == "evalplus":
        assert set(summary["headline"]) == {"humaneval", "humaneval+", "mbpp", "mbpp+", "evalplus"}
    if name == "bbeh":
        assert set(summary["breakdown"]["subtask"]) == {
            "time_arithmetic",
            "disambiguation_qa",
            "zebra_puzzles",
            "boardgame_qa",
        }
    assert name.split(":")[0] in r.stderr.decode()


@pytest.mark.slow
def test_resume_more_samples_and_rescore(crl, tiny_model, tmp_path, env, shared_data):
    run = tmp_path / "run"
    base = [
        "eval",
        "--benchmark",
        "bbeh:time_arithmetic",
        "-m",
        str(tiny_model),
        "--backend",
        "hf",
        "--limit",
        "2",
        "--max-tokens",
        "4",
        "--data",
        str(shared_data),
        "-o",
        str(run),
    ]
    assert crl(*base, env=env, timeout=600).returncode == 0
    first = (run / "samples.jsonl").read_text().splitlines()
    # n=3 keeps the 2 existing samples and generates 2 more per task.
    r = crl(*base, "--n", "3", env=env, timeout=600)
    assert r.returncode == 0, r.stderr.decode()
    lines = (run / "samples.jsonl").read_text().splitlines()
    assert lines[:2] == first and len(lines) == 6
    summary = json.loads((run / "summary.json").read_text())
    assert summary["n"] == 3 and set(summary["pass@k"]) == {"pass@1", "pass@2", "pass@3"}
    assert sorted((json.loads(s)["task_id"], json.loads(s)["sample"]) for s in lines) == [
        (f"bbeh_time_arithmetic/{i}", j) for i in range(2) for j in range(3)
    ]
    # another benchmark into the same directory is refused
    r = crl(
        "eval",
        "--benchmark",
        "bbeh:zebra_puzzles",
        "-m",
        str(tiny_model),
        "--backend",
        "hf",
        "--limit",
        "1",
        "--data",
        str(shared_data),
        "-o",
        str(run),
        env=env,
    )
    assert r.returncode == 1 and b"holds another run" in r.stderr
    # rescoring keeps the samples
    r = crl("eval", "score", str(run), env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert len((run / "samples.jsonl").read_text().splitlines()) == 6


def canonical_samples(path: Path, src: Path, limit: int | None) -> Path:
    with gzip.open(src, "rt") as fh, open(path, "w") as out:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                break
            rec = json.loads(line)
            code = rec["prompt"] + rec["canonical_solution"]
            out.write(json.dumps({"task_id": rec["task_id"], "completion": f"Here:\n```python\n{code}\n```\n"}) + "\n")
    return path


def score_canonical(crl, tmp_path, env, shared_data, limit):
    for name, src in (("humaneval+", "humanevalplus/HumanEvalPlus.jsonl.gz"), ("mbpp+", "mbppplus/MbppPlus.jsonl.gz")):
        samples = canonical_samples(tmp_path / f"{name}.jsonl", shared_data / src, limit)
        run = tmp_path / name
        args = ["eval", "score", str(run), "--samples", str(samples), "--benchmark", name, "--data", str(shared_data)]
        r = crl(*args, env=env, timeout=3600)
        assert r.returncode == 0, r.stderr.decode()
        summary = json.loads((run / "summary.json").read_text())
        assert summary["pass@1"] == 1.0, [
            s["task_id"] for s in map(json.loads, (run / "samples.jsonl").open()) if not s["passed"]
        ]
        assert summary["metrics"]["base"]["pass@1"] == 1.0
        if limit:
            assert summary["counts"]["tasks"] == limit


def test_canonical_solutions_score_100_percent(crl, tmp_path, env, shared_data):
    score_canonical(crl, tmp_path, env, shared_data, limit=12)


@pytest.mark.heavy
def test_canonical_solutions_score_100_percent_full(crl, tmp_path, env, shared_data):
    # Busy machines stretch run times; EvalPlus's own remedy is a larger time-limit factor.
    score_canonical(
        crl,
        tmp_path,
        {**env, "CRL_EVALPLUS_TIME_LIMIT_FACTOR": os.environ.get("CRL_EVALPLUS_TIME_LIMIT_FACTOR", "8")},
        shared_data,
        limit=None,
    )


def write_run(root: Path, name: str, model: str, headline: dict) -> Path:
    d = root / name
    d.mkdir()
    (d / "summary.json").write_text(
        json.dumps({"benchmark": name, "model": model, "headline": headline, "pass@1": next(iter(headline.values()))})
    )
    return d


def test_report_formats_and_plot(crl, tmp_path):
    runs = [
        write_run(tmp_path, "a", "base-model", {"lcb-v5": 0.25}),
        write_run(
            tmp_path,
            "b",
            "base-model",
            {"humaneval": 0.5, "humaneval+": 0.4, "mbpp": 0.6, "mbpp+": 0.5, "evalplus": 0.5},
        ),
        write_run(tmp_path, "c", "crl-model", {"lcb-v5": 0.3}),
    ]
    r = crl("eval", "report", *map(str, runs), "--format", "markdown")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "| model | humaneval | humaneval+ | mbpp | mbpp+ | evalplus | lcb-v5 |"
    assert lines[2] == "| base-model | 50.0 | 40.0 | 60.0 | 50.0 | 50.0 | 25.0 |"
    assert lines[3] == "| crl-model | - | - | - | - | - | 30.0 |"
    r = crl("eval", "report", *map(str, runs), "--format", "csv", "--plot", str(tmp_path / "t.png"))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().splitlines()[1] == "base-model,50.00,40.00,60.00,50.00,50.00,25.00"
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = crl("eval", "report", *map(str, runs))
    assert r.returncode == 0 and r.stdout == b"" and b"crl-model" in r.stderr


def test_report_marks_in_process_scores(crl, tmp_path):
    """A run whose samples were scored by a harness in the candidate's process (summary `trust`) is marked in
    every report format; a parent-scored run is not."""
    runs = [write_run(tmp_path, "a", "m", {"lcb-v5": 0.25}), write_run(tmp_path, "b", "m", {"bigcodebench-full": 0.5})]
    summary = json.loads((runs[1] / "summary.json").read_text())
    summary["trust"] = {"scored": "in-process", "samples": {"parent": 0, "in-process": 4}}
    (runs[1] / "summary.json").write_text(json.dumps(summary))
    r = crl("eval", "report", *map(str, runs), "--format", "markdown")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert lines[2] == "| m | 50.0† | 25.0 |" and lines[-1].startswith("† scored in-process")
    r = crl("eval", "report", *map(str, runs), "--format", "csv")
    assert r.stdout.decode().splitlines() == [
        "model,bigcodebench-full,lcb-v5,scored_in_process",
        "m,50.00,25.00,bigcodebench-full",
    ]
    r = crl("eval", "report", *map(str, runs))
    assert r.returncode == 0 and "scored in-process" in r.stderr.decode()


def test_errors_are_clear(crl, tmp_path, env, shared_data):
    r = crl("eval", "--benchmark", "nope", "-m", "x", "-o", str(tmp_path / "r"), env=env)
    assert r.returncode == 2 and b"unknown benchmark" in r.stderr and b"hint:" in r.stderr
    r = crl("eval", "--benchmark", "lcb", "-m", "x", env=env)
    assert r.returncode == 2 and b"-o RUN_DIR" in r.stderr
    bad = tmp_path / "s.jsonl"
    bad.write_text(json.dumps({"task_id": "HumanEval/9999", "completion": "x"}) + "\n")
    r = crl(
        "eval",
        "score",
        str(tmp_path / "r2"),
        "--samples",
        str(bad),
        "--benchmark",
        "bbeh",
        "--data",
        str(shared_data),
        env=env,
    )
    assert r.returncode == 1 and b"s.jsonl:1: task_id 'HumanEval/9999' is not in benchmark" in r.stderr
    r = crl("eval", "report", str(tmp_path / "missing"))
    assert r.returncode == 1 and b"no summary.json" in r.stderr
    r = crl("eval", "--help")
    assert r.returncode == 0 and b"crl eval report" in r.stdout


def test_score_samples_made_elsewhere_lcb_and_jsonl(crl, tmp_path, env, lcb_file, jsonl_file):
    from tests.evaluation.test_lcb import FUNCTIONAL, STDIN

    fence = "<think>...</think>\n```python\n{}```\n"
    samples = tmp_path / "lcb_samples.jsonl"
    rows = [
        {"task_id": "abc100_a", "completion": fence.format(STDIN["correct"])},
        {"task_id": "abc100_a", "completion": fence.format(STDIN["wrong"])},
        {"task_id": "3300", "completion": fence.format(FUNCTIONAL["correct"])},
        {"task_id": "3300", "completion": fence.format(FUNCTIONAL["correct"])},
        {"task_id": "abc101_b", "completion": "no code"},
        {"task_id": "abc101_b", "completion": fence.format(STDIN["correct"])},
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = crl(
        "eval",
        "score",
        str(tmp_path / "lcb"),
        "--samples",
        str(samples),
        "--benchmark",
        "lcb",
        "--data",
        str(lcb_file),
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode()
    s = json.loads((tmp_path / "lcb" / "summary.json").read_text())
    assert s["n"] == 2 and s["pass@1"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert s["pass@k"]["pass@2"] == pytest.approx(1.0)
    assert s["breakdown"]["platform"] == {"atcoder": {"tasks": 2, "pass": 0.5}, "leetcode": {"tasks": 1, "pass": 1.0}}
    assert s["breakdown"]["difficulty"]["hard"] == {"tasks": 1, "pass": 0.5}
    assert s["counts"]["no_extraction"] == 1
    # rescoring the same run directory (no --samples) gives the same numbers
    r = crl("eval", "score", str(tmp_path / "lcb"), env=env, timeout=300)
    assert r.returncode == 0 and json.loads((tmp_path / "lcb" / "summary.json").read_text())["pass@1"] == s["pass@1"]

    solved = tmp_path / "jsonl_samples.jsonl"
    solved.write_text("".join(json.dumps({"task_id": f"p{i}", "solution": STDIN["correct"]}) + "\n" for i in range(4)))
    r = crl(
        "eval",
        "score",
        str(tmp_path / "j"),
        "--samples",
        str(solved),
        "--benchmark",
        "jsonl",
        "--data",
        str(jsonl_file),
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr.decode()
    s = json.loads((tmp_path / "j" / "summary.json").read_text())
    assert s["pass@1"] == 1.0 and s["counts"]["tasks"] == 4 and s["breakdown"]["source"]["toy"]["tasks"] == 4


def test_report_unmatched_pattern_says_nothing_matched(crl, tmp_path):
    """Issue 15, item 8: `crl eval report runs/*` with no run quoted the literal pattern as a missing summary."""
    r = crl("eval", "report", str(tmp_path / "runs" / "*"))
    err = r.stderr.decode()
    assert r.returncode == 1 and "nothing matched" in err and "no summary.json" not in err, err


def test_report_shows_partial_runs(crl, tmp_path):
    """Issue 15, item 11: a run that covered only part of its benchmark (--limit) is shown as n/N tasks."""
    runs = [write_run(tmp_path, "a", "m", {"humaneval+": 0.5}), write_run(tmp_path, "b", "m", {"lcb-v5": 0.25})]
    summary = json.loads((runs[0] / "summary.json").read_text())
    summary["counts"] = {"tasks": 40, "benchmark_tasks": 164}
    (runs[0] / "summary.json").write_text(json.dumps(summary))
    r = crl("eval", "report", *map(str, runs), "--format", "markdown")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert lines[2] == "| m | 50.0 (40/164) | 25.0 |" and lines[-1].startswith("(n/N): the run scored n"), lines
    r = crl("eval", "report", *map(str, runs), "--format", "csv")
    assert r.stdout.decode().splitlines() == ["model,humaneval+,lcb-v5,partial", "m,50.00,25.00,humaneval+:40/164"]
    r = crl("eval", "report", *map(str, runs), env={"COLUMNS": "200"})
    assert r.returncode == 0 and "40/164" in r.stderr.decode()
