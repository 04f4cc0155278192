"""`crl judge` end to end through the installed console script, with real sandboxes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crlcli.sandbox.pool import UID_BASE
from tests.conftest import sigint_default

ADD = {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "2 2\n", "output": "4\n"}]}
GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"


def rec(i, code=GOOD, tests=ADD):
    return {"id": f"p{i}", "tests": tests, "candidates": [{"id": "c0", "code": code}], "extra": {"keep": i}}


def jsonl(*records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def lines(data: bytes) -> list[dict]:
    return [json.loads(x) for x in data.splitlines() if x.strip()]


def test_pipe_judges_in_input_order(crl):
    records = [rec(0), {"id": "bare"}, rec(1, "print(3)\n"), rec(2, "while True:\n    pass\n")]
    res = crl("judge", "--workers", "2", "--test-timeout", "1", input=jsonl(*records))
    assert res.returncode == 0, res.stderr.decode()
    out = lines(res.stdout)
    assert [r["id"] for r in out] == ["p0", "bare", "p1", "p2"]
    assert [r.get("candidates", [{}])[0].get("judgment", {}).get("verdicts") for r in out] == ["AA", None, "AW", "TT"]
    assert out[0]["candidates"][0]["judgment"]["label"] == "T" and out[2]["candidates"][0]["judgment"]["label"] == "F"
    assert out[0]["extra"] == {"keep": 0}
    err = res.stderr.decode()
    assert "sandbox:" in err and "1 record(s) had no candidates" in err


def test_resume_skips_done_ids(crl, tmp_path):
    out = tmp_path / "judged.jsonl"
    first = crl("judge", "-o", str(out), input=jsonl(rec(0), rec(1)))
    assert first.returncode == 0, first.stderr.decode()
    res = crl("judge", "-o", str(out), "--resume", input=jsonl(rec(0), rec(1), rec(2), rec(3)))
    assert res.returncode == 0, res.stderr.decode()
    assert [r["id"] for r in lines(out.read_bytes())] == ["p0", "p1", "p2", "p3"]
    assert "already in" in res.stderr.decode()


def test_resume_needs_output(crl):
    res = crl("judge", "--resume", input=jsonl(rec(0)))
    assert res.returncode == 2 and b"--resume" in res.stderr


def test_options_reach_the_sandbox(crl, tmp_path):
    big = rec(0, "print('x' * 5000)\n", {"type": "stdio", "cases": [{"input": "", "output": "x"}] * 3})
    res = crl(
        "judge",
        "--max-output",
        "1k",
        "--max-tests",
        "2",
        "--threshold",
        "0.0",
        "--memory-mb",
        "256",
        input=jsonl(big, rec(1, "x = bytearray(400 * 1024 * 1024)\n" + GOOD)),
    )
    assert res.returncode == 0, res.stderr.decode()
    out = lines(res.stdout)
    assert out[0]["candidates"][0]["judgment"]["verdicts"] == "OO"
    assert out[1]["candidates"][0]["judgment"]["verdicts"] == "MM"


def test_limits_mode_warns_and_require_isolation_refuses(crl):
    res = crl("judge", "--sandbox", "limits", input=jsonl(rec(0)))
    assert res.returncode == 0 and lines(res.stdout)[0]["candidates"][0]["judgment"]["verdicts"] == "AA"
    assert "WITHOUT ISOLATION" in res.stderr.decode()
    res = crl("judge", "--sandbox", "limits", "--require-isolation", input=jsonl(rec(0)))
    # a contradiction of two options: a usage error (issue 24), before anything runs
    assert res.returncode == 2 and res.stdout == b""
    assert "--require-isolation and --sandbox limits contradict each other" in res.stderr.decode()
    assert crl("judge", "--sandbox", "docker", input=b"").returncode == 2


def test_bad_tests_name_file_and_line(crl, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(rec(0), rec(1, tests={"type": "stdio", "cases": []})))
    res = crl("judge", "-i", str(src))
    assert res.returncode == 1
    assert f"{src}:2" in res.stderr.decode() and "no cases" in res.stderr.decode()
    skipped = tmp_path / "skipped.jsonl"
    res = crl("judge", "-i", str(src), "--skip-invalid", str(skipped))
    assert res.returncode == 0 and [r["id"] for r in lines(res.stdout)] == ["p0"]
    assert json.loads(skipped.read_text().splitlines()[0])["line"] == 2


def _leftovers(pid: int) -> list[str]:
    lo, hi = UID_BASE + (pid % 1_000_000) * 256, UID_BASE + (pid % 1_000_000 + 1) * 256
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                uid = int((d / "status").read_text().split("Uid:")[1].split()[0])
                cmd = (d / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if lo <= uid < hi or (b"/crl/runner.py" in cmd and f"{pid}-w".encode() in cmd):
                found.append(d.name)
    groups = [str(g) for base in (Path("/sys/fs/cgroup/pids/crl"),) if base.exists() for g in base.glob(f"{pid}-w*")]
    return found + groups


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupt_leaves_no_sandbox(tmp_path, sig):
    crl_exe = str(Path(sys.executable).with_name("crl"))
    src = tmp_path / "slow.jsonl"
    src.write_bytes(jsonl(*[rec(i, "import time\nwhile True:\n    time.sleep(0.01)\n") for i in range(8)]))
    proc = subprocess.Popen(
        [crl_exe, "judge", "-i", str(src), "--workers", "2", "--test-timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=sigint_default,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _leftovers(proc.pid):
        time.sleep(0.1)
    time.sleep(1.0)
    assert _leftovers(proc.pid), "the judge never started its sandboxes"
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    time.sleep(0.5)
    left = _leftovers(proc.pid)
    if sig == signal.SIGKILL:  # no chance to rmdir: the next judge removes those empty cgroups
        left = [x for x in left if not x.startswith("/sys/")]
    assert left == []


def test_pipeline_verifies_reference_solutions(crl, shared_data):
    """`crl filter --source leetcode ... | crl judge`: the reference solutions pass their own tests."""
    src = shared_data / "cp_samples" / "leetcode.json"
    if not src.exists():
        pytest.skip(f"{src} not found")
    problems = crl("filter", "--source", "leetcode", str(src))
    assert problems.returncode == 0, problems.stderr.decode()
    # Solutions that need packages outside the standard library (sortedcontainers) are left out.
    recs = [
        r
        for r in lines(problems.stdout)
        if r.get("candidates") and "\nfrom sortedcontainers" not in r["candidates"][0]["code"]
    ][:25]
    res = crl("judge", input=jsonl(*recs))
    assert res.returncode == 0, res.stderr.decode()
    out = lines(res.stdout)
    assert [r["id"] for r in out] == [r["id"] for r in recs]
    labels = [c["judgment"]["label"] for r in out for c in r["candidates"]]
    assert labels and set(labels) == {"T"}, [(r["id"], r["candidates"][0]["judgment"]) for r in out]


def test_compare_lcb_uses_livecodebench_rule(crl):
    """Issue 18: `--compare lcb` grades by LiveCodeBench's rule and says so in the output records; the default
    stays the token comparator; a record's own tests.compare is used when no flag is given."""
    two_lines = {"type": "stdio", "cases": [{"input": "1 2\n", "output": "1\n2\n"}]}
    hundred = {"type": "stdio", "cases": [{"input": "", "output": "100\n"}]}
    records = [rec(0, "print(input())\n", two_lines), rec(1, "print('1e2')\n", hundred)]
    default = crl("judge", "--workers", "1", input=jsonl(*records))
    assert default.returncode == 0, default.stderr.decode()
    assert [r["candidates"][0]["judgment"]["verdicts"] for r in lines(default.stdout)] == ["A", "W"]
    lcb = crl("judge", "--workers", "1", "--compare", "lcb", input=jsonl(*records))
    assert lcb.returncode == 0, lcb.stderr.decode()
    out = lines(lcb.stdout)
    assert [r["candidates"][0]["judgment"]["verdicts"] for r in out] == ["W", "A"]
    assert {r["tests"]["compare"] for r in out} == {"lcb"}
    own = crl("judge", "--workers", "1", input=jsonl(rec(1, "print('1e2')\n", {**hundred, "compare": "lcb"})))
    assert lines(own.stdout)[0]["candidates"][0]["judgment"]["verdicts"] == "A"
    bad = crl("judge", "--compare", "exact", input=jsonl(*records))
    assert bad.returncode == 2 and b"--compare" in bad.stderr
