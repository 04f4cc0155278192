"""Issue 24, section 1: two processes writing one output. The first holds an exclusive lock (a real `crl` process
kept waiting on its input); the second fails at once, naming the first, and leaves the output alone. Also the
resume refusals, duplicate samples in a run, duplicate JSON keys and a UTF-8 BOM."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time

import orjson
import pytest

from tests.conftest import crl_exe

PROBLEM = {
    "id": "p0",
    "question": "add",
    "tests": {"type": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3}]},
    "candidates": [{"id": "c0", "code": "def add(a, b):\n    return a + b\n"}],
}
STDIN_OK = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture(autouse=True)
def wide_log(monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # Rich wraps log lines at the terminal width, paths included


def flat(res) -> str:
    return " ".join(res.stderr.decode().split())  # Rich wraps long lines


class Holder:
    """A real `crl` process that has taken its locks and now waits for its input (a pipe or FIFO we keep open)."""

    def __init__(self, args: list[str], lock_file, env=None, stdin=subprocess.PIPE):
        self.proc = subprocess.Popen(
            [crl_exe(), *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 60
        while not (lock_file.exists() and lock_file.read_text()):
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the first process never took its lock"
            time.sleep(0.05)

    def finish(self, data: bytes = b"") -> subprocess.CompletedProcess:
        out, err = self.proc.communicate(data, timeout=120)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_second_writer_of_an_output_fails_at_once_naming_the_first(crl, tmp_path, name):
    out = tmp_path / name
    args = ["judge", "--workers", "1", "-o", str(out), "--resume"]
    first = Holder(args, tmp_path / f".{name}.lock")
    try:
        started = time.monotonic()
        second = crl(*args, input=orjson.dumps(PROBLEM) + b"\n")
        assert time.monotonic() - started < 30
        err = flat(second)
        assert second.returncode == 1, err
        assert f"being written by pid {first.proc.pid} (crl judge" in err
    finally:
        done = first.finish(orjson.dumps(PROBLEM) + b"\n")
    assert done.returncode == 0, done.stderr.decode()
    opener = gzip.open if name.endswith(".gz") else open
    with opener(out, "rb") as fh:  # whole and readable: one record, from the first process only
        assert [json.loads(line)["id"] for line in fh] == ["p0"]
    assert not (tmp_path / f".{name}.lock").exists()  # released and removed
    again = crl(*args, input=orjson.dumps(PROBLEM) + b"\n")  # and the next writer can go
    assert again.returncode == 0, again.stderr.decode()


def _problems(tmp_path):
    p = tmp_path / "problems.jsonl"
    p.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "question": "Print the sum.",
                    "starter_code": "",
                    "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
                }
            )
            + "\n"
            for i in range(2)
        )
    )
    return p


def test_second_run_into_a_run_directory_fails_at_once(crl, tmp_path):
    env = {"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""}
    problems, run = _problems(tmp_path), tmp_path / "runs" / "race"
    fifo = tmp_path / "samples.fifo"
    os.mkfifo(fifo)  # `crl eval score` takes the run's lock, then blocks opening its --samples FIFO
    first = Holder(
        ["eval", "score", str(run), "--samples", str(fifo), "--benchmark", "jsonl", "--data", str(problems)],
        run / ".crl.lock",
        env=env,
    )
    try:
        gen = crl(
            "eval",
            "--benchmark",
            "jsonl",
            "--data",
            str(problems),
            "--backend",
            "openai",
            "-m",
            "x",
            "-O",
            "base_url=http://127.0.0.1:9/v1",
            "-o",
            str(run),
            env=env,
        )
        assert gen.returncode == 1 and f"this run directory is being written by pid {first.proc.pid}" in flat(gen)
        rescore = crl("eval", "score", str(run), env=env)
        assert rescore.returncode == 1 and "being written by pid" in flat(rescore)
    finally:
        with open(fifo, "w") as fh:
            fh.write(
                "".join(json.dumps({"task_id": f"p{i}", "sample": 0, "solution": STDIN_OK}) + "\n" for i in range(2))
            )
        done = first.finish()
    assert done.returncode == 0, done.stderr.decode()
    assert len((run / "samples.jsonl").read_text().splitlines()) == 2


def test_score_and_report_refuse_duplicate_task_sample_pairs(crl, tmp_path):
    env = {"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""}
    problems, run = _problems(tmp_path), tmp_path / "run"
    samples = tmp_path / "s.jsonl"
    rows = [{"task_id": "p0", "sample": 0, "solution": STDIN_OK}, {"task_id": "p1", "sample": 0, "solution": STDIN_OK}]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:1]))
    r = crl(
        "eval", "score", str(run), "--samples", str(samples), "--benchmark", "jsonl", "--data", str(problems), env=env
    )
    assert r.returncode == 1 and f"{samples}:3: task 'p0' sample 0 again (first on line 1)" in flat(r)
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = crl(
        "eval", "score", str(run), "--samples", str(samples), "--benchmark", "jsonl", "--data", str(problems), env=env
    )
    assert r.returncode == 0, r.stderr.decode()
    with open(run / "samples.jsonl", "a") as fh:  # what two unlocked writers left behind
        fh.write((run / "samples.jsonl").read_text().splitlines()[0] + "\n")
    for args in (("eval", "report", str(run)), ("eval", "score", str(run))):
        r = crl(*args, env=env)
        assert r.returncode == 1 and "samples.jsonl:3: task 'p0' sample 0 again" in flat(r), flat(r)


def test_resume_refusals(crl, tmp_path):
    line = orjson.dumps(PROBLEM) + b"\n"
    skip = tmp_path / "same.jsonl"
    r = crl("judge", "-o", str(skip), "--skip-invalid", str(skip), input=line)
    assert r.returncode == 2 and "-o/--output and --skip-invalid are the same file" in flat(r)
    plain_gz = tmp_path / "plain.jsonl.gz"  # plain text named .gz: resuming used to drop it as "cut off"
    plain_gz.write_bytes(b'{"id": "old"}\n')
    r = crl("judge", "-o", str(plain_gz), "--resume", input=line)
    assert r.returncode == 1 and "named .gz but not gzip" in flat(r)
    assert plain_gz.read_bytes() == b'{"id": "old"}\n'
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b'{"id": "old"}\nnot json\n')
    r = crl("judge", "-o", str(mixed), "--resume", input=line)
    assert r.returncode == 1 and f"{mixed}:2: not a JSON record" in flat(r)
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(b'{"id": "old"}\n{"id": "p0", "quest')
    r = crl("judge", "-o", str(torn), "--resume", "--workers", "1", input=line)
    assert r.returncode == 0 and "its last line had no newline" in flat(r), flat(r)
    assert [json.loads(x)["id"] for x in torn.read_text().splitlines()] == ["old", "p0"]


def test_duplicate_keys_are_warned_and_a_bom_is_stripped(crl, tmp_path):
    src = tmp_path / "in.jsonl"
    rec = orjson.dumps(PROBLEM)
    src.write_bytes(b"\xef\xbb\xbf" + rec + b"\n" + rec.replace(b'{"id":"p0"', b'{"id":"p1","id":"p2"') + b"\n")
    r = crl("judge", "-i", str(src), "--workers", "1")
    assert r.returncode == 0, r.stderr.decode()
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == ["p0", "p2"]
    assert f"{src}:2: key 'id' appears twice in one object; the last value is used" in flat(r)
