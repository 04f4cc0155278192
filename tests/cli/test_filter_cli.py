"""`crl filter` end to end through the installed console script."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson


def problem(pid: str, inputs: list[str]) -> bytes:
    rec = {
        "id": pid,
        "question": "q",
        "tests": {"type": "stdio", "cases": [{"input": s, "output": "o"} for s in inputs]},
    }
    return orjson.dumps(rec) + b"\n"


def records(out: bytes) -> list[dict]:
    return [orjson.loads(line) for line in out.splitlines()]


def test_malformed_line_stops_with_file_and_line(tmp_path, crl):
    path = tmp_path / "in.jsonl"
    path.write_bytes(problem("a", ["1\n"]) + b'{"id": "b", oops\n' + problem("c", ["2\n"]))
    res = crl("filter", "-i", str(path))
    assert res.returncode == 1
    assert f"{path}:2: malformed JSON" in res.stderr.decode()
    assert b"--skip-invalid" in res.stderr  # the hint says what to do


def test_record_of_wrong_shape_stops_with_line(crl):
    res = crl("filter", input=problem("a", ["1\n"]) + b'{"id": "b", "question": "q", "tests": {"type": "x"}}\n')
    assert res.returncode == 1 and "<stdin>:2: record 'b': tests.type must be one of" in res.stderr.decode()


def test_skip_invalid_records_line_and_goes_on(tmp_path, crl):
    skip = tmp_path / "bad.jsonl"
    data = problem("a", ["1\n"]) + b"not json\n" + problem("c", ["2\n"])
    res = crl("filter", "--skip-invalid", str(skip), input=data)
    assert res.returncode == 0, res.stderr.decode()
    assert [r["id"] for r in records(res.stdout)] == ["a", "c"]
    entry = orjson.loads(skip.read_bytes())
    assert entry["line"] == 2 and entry["text"].strip() == "not json" and "malformed JSON" in entry["error"]
    assert "skipped 1 invalid line" in res.stderr.decode()


def test_gzip_in_and_out_with_stats(tmp_path, crl):
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wb") as fh:
        fh.write(problem("a", [f"{i}\n" for i in range(50)] + ["7 " * 400]) + problem("b", ["9 " * 400]))
    out, stats = tmp_path / "out.jsonl.gz", tmp_path / "stats.json"
    res = crl("filter", "-i", str(src), "-o", str(out), "--max-cases", "20", "--seed", "1", "--stats", str(stats))
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout == b""
    recs = records(gzip.decompress(out.read_bytes()))
    assert [r["id"] for r in recs] == ["a"] and len(recs[0]["tests"]["cases"]) == 20
    st = orjson.loads(stats.read_bytes())
    assert st["before"]["questions"] == 2 and st["after"]["questions"] == 1
    assert st["before"]["test_cases"] == 52 and st["after"]["avg_test_cases"] == 20
    assert st["dropped"] == {"long_cases": 2, "sampled_out_cases": 30, "questions": 1}
    assert "questions" in res.stderr.decode() and "before" in res.stderr.decode()  # the table, on stderr


def test_seeded_sampling_is_reproducible_across_runs(crl):
    data = b"".join(problem(f"p{i}", [f"{j}\n" for j in range(40)]) for i in range(10))
    a = crl("filter", "--max-cases", "5", "--seed", "7", input=data)
    b = crl("filter", "--max-cases", "5", "--seed", "7", input=data)
    c = crl("filter", "--max-cases", "5", "--seed", "8", input=data)
    assert a.returncode == b.returncode == c.returncode == 0
    assert a.stdout == b.stdout != c.stdout


def _exe() -> str:
    exe = Path(sys.executable).with_name("crl")
    return str(exe) if exe.exists() else shutil.which("crl")


def test_pipe_source_into_filter_through_two_processes(shared_data, tmp_path):
    path = shared_data / "cp_samples" / "code_contests.json"
    env = {k: v for k, v in os.environ.items() if k != "CRL_DEBUG"}
    first = subprocess.Popen(
        [_exe(), "filter", "--source", "code-contests", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    second = subprocess.Popen(
        [_exe(), "filter", "--max-cases", "5"],
        stdin=first.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    first.stdout.close()  # the second process owns the read end now
    out, err2 = second.communicate(timeout=180)
    err1 = first.stderr.read()
    first.wait(timeout=60)
    assert first.returncode == 0, err1.decode()
    assert second.returncode == 0, err2.decode()
    recs = records(out)
    assert 100 < len(recs) <= 165
    assert all(1 <= len(r["tests"]["cases"]) <= 5 for r in recs)
    assert all(r["id"].startswith("code-contests/") and r["tests"]["type"] == "stdio" for r in recs)
    assert b"crl filter" in err1 and b"crl filter" in err2  # each printed its table on stderr


def test_usage_errors(crl, tmp_path):
    res = crl("filter", "some/path.json")
    assert res.returncode == 2 and b"needs --source" in res.stderr
    res = crl("filter", "--source", "nope", "x")
    assert res.returncode == 2 and b"unknown source" in res.stderr
    res = crl("filter", "--max-cases", "-1", input=b"")
    assert res.returncode == 2
    res = crl("filter", "--source", "code-contests", str(tmp_path / "missing.json"))
    assert res.returncode == 1 and b"no such file" in res.stderr


def test_help_shows_a_pipeline_example(crl):
    res = crl("filter", "--help")
    assert res.returncode == 0 and b"| crl filter --max-cases 5 > p.jsonl" in res.stdout


def test_missing_tokenizer_extra_names_the_extra(tmp_path, crl):
    # A `tokenizers` that cannot be imported stands in for an install without the tok extra.
    fake = tmp_path / "fake" / "tokenizers"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('tokenizers is not installed (test)')\n")
    env = {"PYTHONPATH": str(tmp_path / "fake")}
    res = crl("filter", input=problem("a", ["1 " * 300]), env=env)
    assert res.returncode == 1
    assert b"crlcli[tok]" in res.stderr and b"--max-case-tokens 0" in res.stderr
    res = crl("filter", "--max-case-tokens", "0", input=problem("a", ["1 " * 300]), env=env)
    assert res.returncode == 0 and len(records(res.stdout)) == 1


def test_tokenizer_folder_option(crl):
    from crlcli.tokens import default_tokenizer_dir

    data = problem("a", ["1 " * 100, "1 " * 101, "short\n"])
    res = crl("filter", "--tokenizer", str(default_tokenizer_dir()), input=data)
    assert res.returncode == 0, res.stderr.decode()
    assert [c["input"] for c in records(res.stdout)[0]["tests"]["cases"]] == ["1 " * 100, "short\n"]
    res = crl("filter", "--tokenizer", "/no/such/tokenizer", input=data, env={"HF_HUB_OFFLINE": "1"})
    assert res.returncode == 1 and b"no such file or folder" in res.stderr
