"""`crl filter --decontaminate` end to end: dropped or flagged problems, the report, statistics, resume."""

from __future__ import annotations

import orjson
import pytest

from crlcli.decontam.normalize import words

STATEMENT = (
    "Given a list of stones arranged in a circle, a frog jumps over every second stone until one remains; "
    "print the index of the last stone standing after all the jumps are done."
)
SOLUTION = "\n".join(
    f"def step_{i}(stones, k):\n    left = [s for s in stones if s % k != {i}]\n"
    f"    return sorted(left)[::-1] + [len(left) * {i}]\n"
    for i in range(3)
)


def problem(pid: str, question: str, code: str | None = None, **extra) -> dict:
    rec = {
        "id": pid,
        "question": question,
        "tests": {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]},
        **extra,
    }
    if code is not None:
        rec["candidates"] = [{"id": "ref0", "code": code, "origin": {"backend": "reference"}}]
    return rec


def jsonl(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def lines(data: bytes) -> list[dict]:
    return [orjson.loads(x) for x in data.splitlines() if x.strip()]


@pytest.fixture
def setup(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_bytes(jsonl([problem("B/1", STATEMENT, SOLUTION), problem("B/2", "Sum two numbers " * 5)]))
    train = tmp_path / "train.jsonl"
    rows = [
        problem("t/0", "Read n and print n squared, for every test case of the input."),
        problem("t/1", "  STORY TIME.  " + STATEMENT.upper().replace(",", ";") + " Examples follow."),
        problem(
            "t/2",
            "Another unrelated problem about graphs and their shortest paths.",
            SOLUTION.replace("stones", "xs").replace("left", "rest"),
        ),
        problem("t/3", "Yet another unrelated problem about strings and palindromes in them."),
    ]
    train.write_bytes(jsonl(rows))
    env = {"CRL_CACHE_DIR": str(tmp_path / "cache")}
    return bench, train, env


def test_contaminated_problems_are_dropped_reported_and_counted(setup, tmp_path, crl):
    bench, train, env = setup
    report, stats = tmp_path / "hits.jsonl", tmp_path / "stats.json"
    res = crl(
        "filter",
        "-i",
        str(train),
        "--decontaminate-against",
        str(bench),
        "--contamination-report",
        str(report),
        "--stats",
        str(stats),
        env=env,
    )
    assert res.returncode == 0, res.stderr.decode()
    assert [r["id"] for r in lines(res.stdout)] == ["t/0", "t/3"]
    hits = lines(report.read_bytes())
    assert [(h["id"], h["benchmark"], h["task_id"], h["kind"], h["action"]) for h in hits] == [
        ("t/1", "file:bench.jsonl", "B/1", "statement", "dropped"),
        ("t/2", "file:bench.jsonl", "B/1", "solution", "dropped"),
    ]
    assert hits[0]["size"] == len(words(STATEMENT)) and hits[0]["match"] == " ".join(words(STATEMENT))
    assert hits[1]["size"] >= 50 and hits[1]["n"] == 50
    st = orjson.loads(stats.read_bytes())
    assert st["dropped"]["contaminated"] == {"file:bench.jsonl": 2} and st["dropped"]["contaminated_questions"] == 2
    assert st["before"]["questions"] == 4 and st["after"]["questions"] == 2
    err = res.stderr.decode()
    assert "removed as contaminated:" in err and "2 problem(s) removed as contaminated" in err


def test_keep_contaminated_flags_instead_and_output_is_deterministic(setup, crl):
    bench, train, env = setup
    args = ("filter", "-i", str(train), "--decontaminate-against", str(bench), "--keep-contaminated", "--ngram", "20")
    a, b = crl(*args, env=env), crl(*args, env=env)
    assert a.returncode == 0, a.stderr.decode()
    assert a.stdout == b.stdout
    recs = {r["id"]: r for r in lines(a.stdout)}
    assert len(recs) == 4 and "contamination" not in recs["t/0"]
    assert recs["t/1"]["contamination"] == [
        {"benchmark": "file:bench.jsonl", "task_id": "B/1", "kind": "statement", "size": len(words(STATEMENT))}
    ]
    assert "flagged as contaminated" in a.stderr.decode()


def test_resume_skips_done_and_dropped_ids_and_writes_no_hit_twice(setup, tmp_path, crl):
    bench, train, env = setup
    out, report = tmp_path / "out.jsonl", tmp_path / "hits.jsonl"
    args = [
        "filter",
        "-i",
        str(train),
        "--decontaminate-against",
        str(bench),
        "-o",
        str(out),
        "--contamination-report",
        str(report),
    ]
    full = crl(*args, env=env)
    assert full.returncode == 0, full.stderr.decode()
    want_out, want_report = out.read_bytes(), report.read_bytes()
    # an interrupted run: the first record written, the first hit reported, the rest not yet
    out.write_bytes(want_out.splitlines(keepends=True)[0])
    report.write_bytes(want_report.splitlines(keepends=True)[0])
    again = crl(*args, "--resume", env=env)
    assert again.returncode == 0, again.stderr.decode()
    assert out.read_bytes() == want_out and report.read_bytes() == want_report
    assert "resume: 2 record(s)" in again.stderr.decode()


def test_usage_errors(setup, tmp_path, crl):
    bench, train, env = setup
    res = crl("filter", "-i", str(train), "--ngram", "10", env=env)
    assert res.returncode == 2 and b"go with --decontaminate" in res.stderr
    res = crl("filter", "-i", str(train), "--decontaminate-against", str(bench), "--ngram", "0", env=env)
    assert res.returncode == 2 and b"--ngram and --code-run must be >= 1" in res.stderr
    res = crl(
        "filter",
        "-i",
        str(train),
        "--decontaminate-against",
        str(bench),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--contamination-report",
        str(tmp_path / "o.jsonl"),
        env=env,
    )
    assert res.returncode == 2 and b"are the same file" in res.stderr
    res = crl("filter", "-i", str(train), "--decontaminate", "bbeh", env=env)
    assert res.returncode == 2 and b"unknown benchmark 'bbeh'" in res.stderr
    res = crl("filter", "-i", str(train), "--decontaminate-against", str(tmp_path / "none.jsonl"), env=env)
    assert res.returncode == 1 and b"no such file" in res.stderr


def test_shipped_benchmarks_from_the_data_folder(shared_data, tmp_path, crl):
    """--data: the folder crl eval reads; a copied MBPP+ statement is dropped, the LeetCode samples are not."""
    import gzip

    row = orjson.loads(gzip.open(shared_data / "mbppplus" / "MbppPlus.jsonl.gz").readline())
    rows = [problem("copy", row["prompt"].replace('"""', "").upper())]
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(rows))
    res = crl(
        "filter",
        "-i",
        str(path),
        "--decontaminate",
        "mbpp+",
        "--data",
        str(shared_data),
        "--contamination-report",
        str(tmp_path / "hits.jsonl"),
        env={"CRL_CACHE_DIR": str(tmp_path / "c")},
    )
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout == b""
    assert lines((tmp_path / "hits.jsonl").read_bytes())[0]["task_id"] == row["task_id"]


def test_decontaminate_reports_the_same_hits_and_drops_nothing(setup, tmp_path, crl):
    bench, train, env = setup
    report = tmp_path / "hits.jsonl"
    filtered = crl(
        "filter",
        "-i",
        str(train),
        "--decontaminate-against",
        str(bench),
        "--contamination-report",
        str(report),
        env=env,
    )
    res = crl("decontaminate", "--against", str(bench), "-i", str(train), env=env)
    assert filtered.returncode == res.returncode == 0, res.stderr.decode()
    assert lines(res.stdout) == [{k: v for k, v in h.items() if k != "action"} for h in lines(report.read_bytes())]
    err = res.stderr.decode()
    assert "file:bench.jsonl" in err and "4 problems screened" in err
    res = crl("decontaminate", "-i", str(train), env=env)
    assert res.returncode == 2 and b"no benchmark to screen against" in res.stderr
