"""Issue 15, item 2: `--resume` on a `.gz` output after a crash. The killed writer leaves a gzip member without
its end; appending new members after it made everything past the crash point unreadable. Also item 8: gzip on
stdin (or in a file without `.gz`) is read, not reported as invalid UTF-8."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import time
import zlib

from crlcli.io import JsonlReader, JsonlWriter, done_ids
from tests.conftest import crl_exe

PROBLEM = {"question": "q", "tests": {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]}}


def torn_gzip(path, n_whole: int) -> bytes:
    """A gzip member with n_whole whole lines and half of another, sync-flushed, never finished: what SIGKILL
    leaves behind JsonlWriter."""
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip wrapper
    data = b"".join(json.dumps({"id": f"r{i}", **PROBLEM}).encode() + b"\n" for i in range(n_whole)) + b'{"id": "r'
    raw = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
    path.write_bytes(raw)
    return raw


def read_all(path) -> list[str]:
    return [json.loads(x)["id"] for x in gzip.decompress(path.read_bytes()).splitlines() if x.strip()]


def test_done_ids_repairs_torn_gzip_and_appends_stay_readable(tmp_path):
    p = tmp_path / "out.jsonl.gz"
    torn_gzip(p, 3)
    assert done_ids(p) == {"r0", "r1", "r2"}
    with JsonlWriter(p, append=True) as w:
        w.write({"id": "r3"})
    assert read_all(p) == ["r0", "r1", "r2", "r3"]  # before the fix: BadGzipFile / EOFError here


def test_reading_a_torn_gzip_says_so(tmp_path, crl):
    p = tmp_path / "in.jsonl.gz"
    torn_gzip(p, 2)
    res = crl("filter", "-i", str(p))
    err = res.stderr.decode()
    assert res.returncode == 1 and "damaged or truncated gzip" in err and "internal error" not in err


SLOW = "import time\ntime.sleep(0.4)\nprint(input())\n"


def test_sigkill_mid_write_then_resume(tmp_path):
    records = [
        {
            "id": f"p{i}",
            "tests": {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]},
            "candidates": [{"id": "c0", "code": SLOW}],
        }
        for i in range(12)
    ]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    out = tmp_path / "judged.jsonl.gz"
    proc = subprocess.Popen(
        [crl_exe(), "judge", "--workers", "1", "-o", str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc.stdin.write(data)
    proc.stdin.close()
    deadline = time.monotonic() + 60
    while True:  # wait for a few records, then kill it mid-stream
        assert time.monotonic() < deadline and proc.poll() is None, "judge finished or stalled before the kill"
        raw = out.read_bytes() if out.exists() else b""
        try:  # a decompressor object reads an unfinished member as far as it goes
            n = zlib.decompressobj(31).decompress(raw).count(b"\n")
        except zlib.error:
            n = 0
        if n >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        gzip.decompress(out.read_bytes())
        raise AssertionError("the killed run left a finished gzip stream; the test needs a torn one")
    except EOFError:
        pass
    res = subprocess.run(
        [crl_exe(), "judge", "--workers", "1", "--resume", "-o", str(out)], input=data, capture_output=True, timeout=120
    )
    assert res.returncode == 0, res.stderr.decode()
    ids = read_all(out)
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))
    assert len(list(JsonlReader(out))) == 12


def test_gzip_on_stdin_and_in_a_plain_named_file(tmp_path, crl):
    rec = {"id": "a", "question": "q", "tests": {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}]}}
    blob = gzip.compress(json.dumps(rec).encode() + b"\n")
    res = crl("filter", input=blob)
    assert res.returncode == 0, res.stderr.decode()
    assert json.loads(res.stdout)["id"] == "a"
    p = tmp_path / "data.jsonl"
    p.write_bytes(blob)
    res = crl("filter", "-i", str(p))
    assert res.returncode == 0 and json.loads(res.stdout)["id"] == "a", res.stderr.decode()
