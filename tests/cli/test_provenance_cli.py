"""Issue 24, section 3: run provenance. A real `crl eval score` run writes run.json and summary.json with what
someone comparing numbers needs, `crl eval report` flags runs that are not comparable and `--provenance` shows
how they differ; `crl mix --stats` carries it too."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess

import pytest

STDIN_OK = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture(autouse=True)
def wide_log(monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")


def flat(res) -> str:
    return " ".join(res.stderr.decode().split())


def scored_run(crl, tmp_path, name: str, question: str = "Print the sum.") -> tuple:
    problems = tmp_path / f"{name}-problems.jsonl"
    problems.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "question": question,
                    "starter_code": "",
                    "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
                }
            )
            + "\n"
            for i in range(2)
        )
    )
    samples = tmp_path / f"{name}-samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": f"p{i}", "solution": STDIN_OK}) + "\n" for i in range(2)))
    run = tmp_path / name
    res = crl(
        "eval",
        "score",
        str(run),
        "--samples",
        str(samples),
        "--benchmark",
        "jsonl",
        "--data",
        str(problems),
        "--workers",
        "1",
        env={"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""},
    )
    assert res.returncode == 0, res.stderr.decode()
    return run, problems, samples


def test_run_json_records_provenance(crl, tmp_path):
    from crlcli import __version__
    from crlcli.sandbox import detect_isolation

    run, problems, samples = scored_run(crl, tmp_path, "a")
    prov = json.loads((run / "run.json").read_text())["provenance"]
    assert prov["crl"]["version"] == __version__
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=__file__.rsplit("/", 3)[0])
    if head.returncode == 0:  # a checkout: its commit, and whether it had uncommitted changes
        assert prov["crl"]["git_commit"] == head.stdout.strip() and isinstance(prov["crl"]["git_dirty"], bool)
    assert prov["command"][:3] == ["crl", "eval", "score"] and str(samples) in prov["command"]
    assert prov["data"][str(problems)]["sha256"] == hashlib.sha256(problems.read_bytes()).hexdigest()
    assert prov["data"][str(samples)]["sha256"] == hashlib.sha256(samples.read_bytes()).hexdigest()
    assert prov["sandbox"]["mode"] == detect_isolation("auto").mode and prov["workers"] == 1
    assert prov["python"] == platform.python_version() and prov["host"]["cores"] >= 1 and prov["host"]["cpu"]
    assert set(prov["packages"]) >= {"vllm", "torch", "openrlhf", "transformers"}
    assert prov["started"] <= prov["finished"]
    assert prov["benchmark_info"]["name"] == "jsonl:a-problems"  # the benchmark release/variant it scored
    # the summary the report reads carries the same record
    assert json.loads((run / "summary.json").read_text())["provenance"]["finished"] == prov["finished"]


def test_report_flags_runs_that_are_not_comparable(crl, tmp_path):
    a, _, _ = scored_run(crl, tmp_path, "a")
    b, _, _ = scored_run(crl, tmp_path, "b", question="Print the sum of the two numbers.")  # other data
    summary = json.loads((b / "summary.json").read_text())
    summary["provenance"]["sandbox"]["mode"] = "limits"  # as if scored on a host without bubblewrap
    (b / "summary.json").write_text(json.dumps(summary))
    res = crl("eval", "report", str(a), str(b), "--label", "run", "--provenance")
    err = flat(res)
    assert res.returncode == 0, err
    assert f"{b}: scored with the sandbox in limits mode (no isolation)" in err
    assert "provenance differences" in err and "sandbox" in err
    # each run read its own problem file: listed side by side, but not a "same file changed" warning
    assert "data a-problems.jsonl sha256" in err and "sha256 differs" not in err
    res = crl("eval", "report", str(a), str(a), "--label", "run", "--provenance")
    assert "no differences" in flat(res)


def test_same_data_file_changed_between_runs_is_flagged(crl, tmp_path):
    a, problems, samples = scored_run(crl, tmp_path, "a")
    problems.write_text(problems.read_text().replace("Print the sum.", "Print the sum!"))
    b = tmp_path / "b"
    res = crl(
        "eval",
        "score",
        str(b),
        "--samples",
        str(samples),
        "--benchmark",
        "jsonl",
        "--data",
        str(problems),
        env={"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""},
    )
    assert res.returncode == 0, res.stderr.decode()
    res = crl("eval", "report", str(a), str(b), "--label", "run")
    assert f"data {problems.name} sha256 differs" in flat(res)


def test_mix_stats_carry_provenance(crl, tmp_path):
    src = tmp_path / "judged.jsonl"
    src.write_text(
        json.dumps({"id": "p", "question": "q", "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]}})
        + "\n"
    )
    stats = tmp_path / "stats.json"
    res = crl("mix", "-i", str(src), "--crl-ratio", "0", "--stats", str(stats))
    assert res.returncode == 0, res.stderr.decode()
    prov = json.loads(stats.read_text())["provenance"]
    assert prov["data"][str(src)]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert prov["command"][:2] == ["crl", "mix"] and prov["finished"]


def test_tts_and_train_run_json_carry_provenance(tmp_path):
    """The same record in a tts run directory (run.json, with the generating session's end time) and in a training
    output folder (what crlcli.training.launcher writes before the first phase and after the last)."""
    from crlcli.provenance import train_provenance
    from crlcli.tts.runs import RunDir

    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "p"}\n')
    run = RunDir(tmp_path / "bf", "budget-force", ("model",))
    run.open(
        {
            "model": "m",
            "temperature": 0.6,
            "top_p": 0.95,
            "top_k": 20,
            "seed": 0,
            "source": {"input": str(problems), "data": None},
        }
    )
    prov = json.loads((tmp_path / "bf" / "run.json").read_text())["provenance"]
    assert prov["data"][str(problems)]["sha256"] == hashlib.sha256(problems.read_bytes()).hexdigest()
    assert prov["sampling"] == {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "seed": 0} and not prov["finished"]
    run.write_results([], {"kind": "budget-force"})
    finished = json.loads((tmp_path / "bf" / "run.json").read_text())["provenance"]
    assert finished["finished"] and finished["started"] == prov["started"]
    run.write_results([], {"kind": "budget-force"})  # a rescore keeps the generating session's end
    assert json.loads((tmp_path / "bf" / "run.json").read_text())["provenance"] == finished

    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "r"}\n')
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    done = train_provenance(
        {
            "data.train": str(rows),
            "model.path": str(model),
            "rollout.temperature": 0.6,
            "rollout.top_p": 0.95,
            "rollout.top_k": 20,
        },
        tmp_path,
    )
    prov = json.loads((tmp_path / "run.json").read_text())["provenance"]
    assert prov["model"]["path"] == str(model) and prov["model"]["config_sha256"] == hashlib.sha256(b"{}").hexdigest()
    assert prov["data"][str(rows)]["bytes"] == rows.stat().st_size and prov["finished"] is None
    done()
    assert json.loads((tmp_path / "run.json").read_text())["provenance"]["finished"]


def test_filter_stats_carry_provenance(crl, tmp_path):
    src = tmp_path / "problems.jsonl"
    src.write_text(
        json.dumps({"id": "p", "question": "q", "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]}})
        + "\n"
    )
    stats = tmp_path / "filter-stats.json"
    res = crl("filter", "-i", str(src), "--stats", str(stats))
    assert res.returncode == 0, res.stderr.decode()
    prov = json.loads(stats.read_text())["provenance"]
    assert prov["data"][str(src)]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert prov["command"][:2] == ["crl", "filter"] and prov["started"] <= prov["finished"]
