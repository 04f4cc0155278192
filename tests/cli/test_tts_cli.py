"""`crl tts` through the installed console script, with the tiny random Qwen3 model on the hf backend."""

from __future__ import annotations

import json

import orjson
import pytest

from ..tts.helpers import assert_valid_png


def _problem(pid: str, candidates: list[str] | None = None) -> dict:
    rec = {
        "id": pid,
        "question": "Write add_one(x) returning x + 1.",
        "starter_code": "",
        "tests": {
            "type": "call",
            "fn_name": "add_one",
            "class_name": None,
            "cases": [{"input": [1], "output": 2}, {"input": [5], "output": 6}],
            "program": None,
        },
    }
    if candidates is not None:
        rec["candidates"] = [{"id": f"c{i}", "code": c} for i, c in enumerate(candidates)]
    return rec


RIGHT = "def add_one(x):\n    return x + 1\n"
WRONG = "def add_one(x):\n    return x - 1\n"


def _jsonl(path, records):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def _read(path):
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


@pytest.mark.slow
def test_budget_force_cli_rounds_tokens_plot_and_rescore(crl, tiny_model, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs the plot extra (matplotlib)")
    problems = _jsonl(tmp_path / "p.jsonl", [_problem("a"), _problem("b")])
    run, png = tmp_path / "run", tmp_path / "bf.png"
    proc = crl(
        "tts",
        "budget-force",
        "-i",
        str(problems),
        "-b",
        "hf",
        "-m",
        str(tiny_model),
        "--rounds",
        "1",
        "--max-thinking-tokens",
        "3",
        "--answer-tokens",
        "2",
        "-o",
        str(run),
        "--plot",
        str(png),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.splitlines()
    assert len(lines) == 1  # stdout: the summary record only; tables and progress go to stderr
    summary = orjson.loads(lines[0])
    assert "budget forcing" in proc.stderr.decode()
    # A random model never closes its thinking: every continuation runs to its 3-token cap, exactly.
    assert [r["mean_thinking_tokens"] for r in summary["rounds"]] == [3, 6]
    assert [r["mean_answer_tokens"] for r in summary["rounds"]] == [2, 2]
    assert [r["accuracy"] for r in summary["rounds"]] == [0.0, 0.0]
    gens = _read(run / "generations.jsonl")
    assert len(gens) == 2 * 2 * 2  # problems x rounds x (think + answer)
    assert all(g["prompt_tail"].endswith("Wait") for g in gens if g["kind"] == "think" and g["round"] > 0)
    assert_valid_png(png)

    png2 = tmp_path / "again.png"
    proc = crl("tts", "budget-force", "score", str(run), "--plot", str(png2))
    assert proc.returncode == 0, proc.stderr.decode()
    assert orjson.loads(proc.stdout)["rounds"] == summary["rounds"]
    assert_valid_png(png2)


@pytest.mark.slow
def test_critique_select_cli_on_record_candidates(crl, tiny_model, tmp_path):
    problems = _jsonl(tmp_path / "p.jsonl", [_problem("a", [WRONG, RIGHT]), _problem("b", [RIGHT, WRONG])])
    run = tmp_path / "run"
    proc = crl(
        "tts",
        "critique-select",
        "-i",
        str(problems),
        "-b",
        "hf",
        "-m",
        str(tiny_model),
        "--reuse-candidates",
        "--k",
        "2",
        "--m",
        "2",
        "--critique-tokens",
        "4",
        "-o",
        str(run),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    summary = orjson.loads(proc.stdout)
    gens = _read(run / "generations.jsonl")
    crits = [g for g in gens if g["kind"] == "critiques"]
    assert sorted((g["id"], g["candidate"]) for g in crits) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert all(len(g["outputs"]) == 2 for g in crits)
    assert summary["mean_pass@1"] == 0.5 and summary["oracle_pass@k"] == 1.0
    # Random text never concludes: no T anywhere, every selection is a tie without any signal, which is counted
    # and never credited (the lowest index would have been right for one problem of two).
    assert summary["critic"]["critiques"] == 8 and summary["critic"]["missing_conclusion"] == 8
    assert summary["critic"]["recall"] == 0.0 and summary["critic"]["precision"] is None
    assert summary["selectors"]["crl-votes"]["accuracy"] == 0.0
    assert summary["selectors"]["crl-votes"]["ties_without_signal"] == 2
    assert summary["tokens"]["critique"] == sum(o["tokens"] for g in crits for o in g["outputs"])
    rescored = crl("tts", "critique-select", "score", str(run))
    assert rescored.returncode == 0, rescored.stderr.decode()
    assert orjson.loads(rescored.stdout) == summary == json.loads((run / "summary.json").read_text())


def test_usage_errors(crl, tmp_path):
    proc = crl("tts", "budget-force", "-b", "hf", "-m", "x", "-o", str(tmp_path / "r"))
    assert proc.returncode == 2 and "--benchmark" in proc.stderr.decode()
    proc = crl("tts", "critique-select", "-i", "x.jsonl", "-b", "hf")
    assert proc.returncode == 2 and "-o RUN_DIR" in proc.stderr.decode()
    proc = crl("tts", "budget-force", "score", str(tmp_path))
    assert proc.returncode == 1 and "run.json" in proc.stderr.decode()


def test_help_shows_pipeline_examples(crl):
    for sub in ("budget-force", "critique-select"):
        proc = crl("tts", sub, "--help")
        assert proc.returncode == 0
        assert f"crl tts {sub} score" in proc.stdout.decode()


def test_budget_force_over_openai_completions(crl, tmp_path):
    """The openai backend continues raw text on /v1/completions; chat prompts are rendered with --tokenizer.
    The loopback server (tests/generation/fake_openai_server.py) logs every request body it gets."""
    import subprocess
    import sys
    from pathlib import Path

    from crlcli.generation.tiny import qwen3_tokenizer_dir

    server = Path(__file__).resolve().parents[1] / "generation" / "fake_openai_server.py"
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(server), "--log", str(log)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        problems = _jsonl(tmp_path / "p.jsonl", [_problem("a")])
        run = tmp_path / "run"
        out = crl(
            "tts",
            "budget-force",
            "-i",
            str(problems),
            "-b",
            "openai",
            "--base-url",
            f"http://127.0.0.1:{port}/v1",
            "--tokenizer",
            str(qwen3_tokenizer_dir()),
            "--rounds",
            "2",
            "--max-thinking-tokens",
            "8",
            "--answer-tokens",
            "8",
            "-o",
            str(run),
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert out.returncode == 0, out.stderr.decode()
    summary = orjson.loads(out.stdout)
    # The server answers every completion with 2 tokens (its usage count), finish "length".
    assert [r["mean_thinking_tokens"] for r in summary["rounds"]] == [2, 4, 6]
    bodies = [r["body"] for r in _read(log) if r["path"].endswith("/completions")]
    thinks = [b for b in bodies if b.get("stop") == ["</think>"]]
    answers = [b for b in bodies if not b.get("stop")]
    assert len(thinks) == 3 and len(answers) == 3
    assert thinks[0]["prompt"].startswith("<|im_start|>user\n") and thinks[0]["prompt"].endswith(
        "<|im_start|>assistant\n<think>\n"
    )
    assert thinks[1]["prompt"] == thinks[0]["prompt"] + "\n    return 42\nWait"
    assert all(a["prompt"].endswith("\n</think>\n\n") for a in answers)
    assert answers[2]["prompt"] == thinks[2]["prompt"] + "\n    return 42\n</think>\n\n"
