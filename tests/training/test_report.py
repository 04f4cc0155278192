"""`crl train report` and the per-step line of `crl train`, on a run directory written by crl itself: a real
launch (`crl train`, the real reward server with its per-sample record) whose trainer is a stand-in running
OpenRLHF's loop shape through crl's real step patches (standin_steps.py, which scripts every answer)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from .standin_steps import SCRIPT
from .test_launch import free_port

STANDIN = Path(__file__).with_name("standin_steps.py")
ROW = {"id": "a", "kind": "crl", "prompt": [{"role": "user", "content": "q"}], "label": '{"kind": "crl", "label": "T"}'}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from ..conftest import run_crl

    base = tmp_path_factory.mktemp("report")
    (base / "train.jsonl").write_text(json.dumps(ROW) + "\n")
    config = base / "standin.toml"
    config.write_text(
        f'name = "t"\n[model]\npath = "tiny-model"\n[data]\ntrain = "{base / "train.jsonl"}"\n'
        f'[output]\ndir = "{base}/run"\n[cluster]\ngpus_per_node = 1\n'
        f"[reward]\nport = {free_port()}\nworkers = 1\nstartup_timeout = 60.0\n"
        f'[trainer]\ncommand = ["{sys.executable}", "{STANDIN}"]\n'
    )
    res = run_crl("train", str(config), "--phase", "1", "--no-preflight", timeout=240)
    assert res.returncode == 0, res.stderr.decode()
    return {"dir": base / "run", "stderr": res.stderr.decode()}


def _report(run, *args):
    from ..conftest import run_crl

    res = run_crl("train", "report", str(run["dir"]), *args)
    assert res.returncode == 0, res.stderr.decode()
    return res


def test_records_are_joined_per_step_and_every_sample_counts(run):
    rows = [json.loads(line) for line in _report(run, "--format", "json").stdout.decode().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, "all"]
    s1, s2, s3, total = rows
    # step 1: two CRL groups kept; 4 of 8 verdicts right, one missing; phase 1 pays 0.5 a right verdict
    assert (s1["samples"], s1["crl_accuracy"], s1["reward"], s1["missing_rate"]) == (8, 0.5, 0.25, 0.125)
    assert s1["confusion"] == "2/2/1/2" and s1["groups_dropped"] == 0 and s1["refill_rows"] == 0
    assert s1["openrlhf_reward_mean"] == pytest.approx(s1["reward"])  # nothing filtered: the same mean
    # step 2: the all-right group was dropped and refilled; an RL group passes 1 of 2 tests or none
    assert (s2["samples"], s2["crl_samples"], s2["rl_samples"]) == (12, 8, 4)
    assert s2["crl_accuracy"] == 7 / 8 and s2["reward_crl"] == 0.5 * 7 / 8 and s2["confusion"] == "4/0/1/3"
    assert s2["reward_rl"] == 0.25 and s2["rl_pass_rate"] == 0.25 and s2["reward"] == pytest.approx(4.5 / 12)
    assert (s2["groups_dropped"], s2["refill_rows"], s2["rows_consumed"]) == (1, 1, 3)
    # OpenRLHF's mean covers the kept groups only: higher or lower than the truth, here lower
    assert s2["openrlhf_reward_mean"] == pytest.approx(2.5 / 8)
    # step 3: an all-right and an all-wrong group dropped, both counted in the reward
    assert (s3["samples"], s3["crl_accuracy"], s3["confusion"]) == (16, 10 / 16, "3/5/1/7")
    assert (s3["groups_dropped"], s3["refill_rows"]) == (2, 2) and s3["openrlhf_reward_mean"] == pytest.approx(0.375)
    assert s3["response_unit"] == "tokens" and (s3["response_mean"], s3["response_max"]) == (8.5, 10)
    assert s3["sync_s"] == 0.25 and s3["step_s"] > 0
    # the phase: every sample the server scored, dropped groups included
    n = sum(len(answers) for step in SCRIPT for _, answers in step)
    assert total["samples"] == n == 36 and total["crl_accuracy"] == 21 / 32
    assert (total["groups_dropped"], total["refill_rows"]) == (3, 3)
    assert all(r["latency_max_ms"] >= r["latency_p99_ms"] >= r["latency_p50_ms"] > 0 for r in rows)


def test_crl_train_prints_one_line_per_step(run):
    text = " ".join(run["stderr"].split())  # the log handler wraps long lines to the terminal's width
    lines = text.split("phase 1 step ")[1:]
    assert len(lines) == 3, run["stderr"][-3000:]
    assert lines[1].startswith("2: reward 0.38 over 12 samples: crl 0.44 (acc 0.88, n=8), rl 0.25 (pass 0.25, n=4)")
    assert "| dropped 1 group(s), 1 refill row(s) |" in lines[1] and "(sync 0.25 s)" in lines[1]


def test_markdown_csv_table_and_plot(run, tmp_path):
    md = _report(run, "--format", "markdown").stdout.decode().splitlines()
    assert md[0].startswith("| phase | step | samples | reward |") and len(md) == 2 + 4
    assert md[-1].startswith("| phase1 | all | 36 |")
    rows = list(csv.DictReader(io.StringIO(_report(run, "--format", "csv").stdout.decode())))
    assert [r["step"] for r in rows] == ["1", "2", "3", "all"] and rows[1]["groups_dropped"] == "1"
    table = _report(run)  # Rich table on stderr, stdout left for records
    assert table.stdout == b"" and "T→T/T→F/F→T/F→F" in table.stderr.decode()
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    _report(run, "--format", "json", "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_refuses_what_it_cannot_read(crl, tmp_path):
    res = crl("train", "report", str(tmp_path))
    assert res.returncode == 1 and b"no steps.jsonl or rewards.jsonl" in res.stderr
    (tmp_path / "phase1").mkdir()
    (tmp_path / "phase1" / "rewards.jsonl").write_text('{"step": 1, "kind": "crl", "reward": 1.0}\n{"st')
    res = crl("train", "report", str(tmp_path), "--format", "yaml")
    assert res.returncode == 2 and b"--format must be one of" in res.stderr
    res = crl("train", "report", str(tmp_path), "--format", "json")  # a torn last line: left for later
    assert res.returncode == 0 and [json.loads(x)["samples"] for x in res.stdout.decode().splitlines()] == [1, 1]
