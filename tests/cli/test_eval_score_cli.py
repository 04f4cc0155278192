"""Issue 15, item 6 (and item 10's bad-input exit code): `crl eval score` rescoring a run made from --samples,
samples of unknown tasks counted and refused unless --skip-invalid, wrong-typed fields reported with file:line."""

from __future__ import annotations

import json

import pytest

STDIN_OK = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture
def env(tmp_path):
    return {"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""}


@pytest.fixture
def problems(tmp_path):
    p = tmp_path / "problems.jsonl"
    recs = [
        {
            "id": f"p{i}",
            "question": "Print the sum of two integers on one line.",
            "starter_code": "",
            "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
        }
        for i in range(3)
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return p


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def score(crl, env, run, *args):
    return crl("eval", "score", str(run), *args, env=env, timeout=300)


def test_rescore_a_run_made_from_solutions(crl, tmp_path, env, problems):
    samples = write(tmp_path / "s.jsonl", [{"task_id": f"p{i}", "solution": STDIN_OK} for i in range(3)])
    run = tmp_path / "run"
    r = score(crl, env, run, "--samples", str(samples), "--benchmark", "jsonl", "--data", str(problems))
    assert r.returncode == 0, r.stderr.decode()
    r = score(crl, env, run)
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads((run / "summary.json").read_text())["pass@1"] == 1.0
    # rescoring under --limit keeps the samples outside it in samples.jsonl
    r = score(crl, env, run, "--limit", "1")
    assert r.returncode == 0, r.stderr.decode()
    assert len((run / "samples.jsonl").read_text().splitlines()) == 3
    counts = json.loads((run / "summary.json").read_text())["counts"]
    assert counts["left_out"]["outside_limit"] == 2 and (counts["tasks"], counts["benchmark_tasks"]) == (1, 3)
    r = crl("eval", "report", str(run), "--format", "markdown")
    assert "(1/3)" in r.stdout.decode(), r.stdout.decode()


def test_unknown_task_ids_are_counted_and_refused(crl, tmp_path, env, problems):
    samples = write(
        tmp_path / "s.jsonl", [{"task_id": "p0", "solution": STDIN_OK}, {"task_id": "nope", "solution": STDIN_OK}]
    )
    run = tmp_path / "run"
    base = ("--samples", str(samples), "--benchmark", "jsonl", "--data", str(problems))
    r = score(crl, env, run, *base)
    err = r.stderr.decode()
    assert r.returncode == 1 and f"{samples}:2:" in err and "'nope' is not in benchmark" in err, err
    assert "--skip-invalid" in err
    skipped = tmp_path / "skipped.jsonl"
    r = score(crl, env, run, *base, "--skip-invalid", str(skipped))
    err = r.stderr.decode()
    assert r.returncode == 0 and "left out 1 sample" in err, err
    assert json.loads(skipped.read_text())["line"] == 2
    summary = json.loads((run / "summary.json").read_text())
    assert summary["counts"]["left_out"]["unknown_task"] == 1 and summary["counts"]["samples"] == 1


@pytest.mark.parametrize(
    "row, message",
    [
        ({"task_id": "p0", "solution": 5}, "field 'solution' must be a string, got a number"),
        ({"task_id": "p0", "completion": ["x"]}, "field 'completion' must be a string, got a list"),
        ({"completion": "x"}, "a sample needs a 'task_id'"),
        ({"task_id": 7, "completion": "x"}, "field 'task_id' must be a non-empty string, got a number"),
        ({"task_id": "p0"}, "a sample needs 'completion'"),
    ],
)
def test_bad_samples_are_bad_input_with_the_line(crl, tmp_path, env, problems, row, message):
    samples = write(tmp_path / "s.jsonl", [{"task_id": "p1", "solution": STDIN_OK}, row])
    r = score(crl, env, tmp_path / "run", "--samples", str(samples), "--benchmark", "jsonl", "--data", str(problems))
    err = r.stderr.decode()
    assert r.returncode == 1 and f"{samples}:2: {message}" in err and "internal error" not in err, err
