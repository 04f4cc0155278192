"""`crl eval report` marks numbers graded unlike the benchmark's official harness (issue 18): a LiveCodeBench
run scored before crl had LiveCodeBench's own rule (its benchmark_info has no `grading`) is not comparable with
published numbers; a run scored with the rule, and runs of other benchmarks, are not marked."""

from __future__ import annotations

import json
from pathlib import Path

from crlcli.evaluation.report import GRADING_MARK, collect, grading_differs, markdown, to_csv


def run(root: Path, name: str, benchmark: str, score: float, info: dict | None) -> Path:
    d = root / name
    d.mkdir()
    summary = {"benchmark": benchmark, "model": "m", "headline": {benchmark: score}, "pass@1": score}
    if info is not None:
        summary["benchmark_info"] = info
    (d / "summary.json").write_text(json.dumps(summary))
    return d


def test_old_lcb_run_is_marked_new_one_is_not(tmp_path):
    old = run(tmp_path, "old", "lcb-v5", 0.25, {"name": "lcb-v5", "release": "v5"})
    new = run(tmp_path, "new", "lcb-v5", 0.25, {"name": "lcb-v5", "grading": {"rule": "lcb", "official": True}})
    bbeh = run(tmp_path, "bbeh", "bbeh", 0.5, {"name": "bbeh"})
    assert "token comparator" in grading_differs(json.loads((old / "summary.json").read_text()))
    assert grading_differs(json.loads((new / "summary.json").read_text())) is None
    assert grading_differs(json.loads((bbeh / "summary.json").read_text())) is None

    cols, rows = collect([old, bbeh], label="model")
    md = markdown(cols, rows).splitlines()
    assert md[2] == f"| m | 25.0{GRADING_MARK} | 50.0 |"
    assert md[-1].startswith(f"{GRADING_MARK} graded differently") and "crl eval score" in md[-1]
    assert to_csv(cols, rows).splitlines() == ["model,lcb-v5,bbeh,grading_differs", "m,25.00,50.00,lcb-v5"]

    cols, rows = collect([new, bbeh], label="model")
    assert GRADING_MARK not in markdown(cols, rows)


def test_a_benchmark_can_declare_its_grading_unofficial(tmp_path):
    d = run(
        tmp_path, "x", "jsonl", 0.5, {"grading": {"rule": "tokens", "official": False, "note": "x: our own records"}}
    )
    cols, rows = collect([d], label="model")
    assert markdown(cols, rows).splitlines()[-1].endswith("x: our own records")


def test_lcb_benchmark_declares_the_official_rule():
    from crlcli.evaluation.lcb import LiveCodeBench

    assert LiveCodeBench(data="unused").describe()["grading"] == {"rule": "lcb", "official": True}
