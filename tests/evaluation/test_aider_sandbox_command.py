"""crlcli.sandbox.command: toolchain commands on a private copy, with limits and whole-group kill."""

from __future__ import annotations

import os
import time

import pytest

from crlcli.sandbox.command import CommandLimits, isolation_mode, run_command


@pytest.fixture
def workdir(tmp_path):
    d = tmp_path / "my-exercise"
    d.mkdir()
    (d / "input.txt").write_text("hello\n")
    return d


def test_runs_on_a_writable_copy_named_like_the_folder(workdir):
    r = run_command(["sh", "-c", 'cat input.txt; echo built > out.txt; cat out.txt; basename "$PWD"'], workdir)
    assert r.status == "ok" and r.returncode == 0
    assert r.output.split() == ["hello", "built", "my-exercise"]
    assert not (workdir / "out.txt").exists()  # the caller's folder is untouched


def test_failure_exit_code_and_merged_stderr(workdir):
    r = run_command(["sh", "-c", "echo to-stderr >&2; exit 3"], workdir)
    assert r.status == "failed" and r.returncode == 3 and "to-stderr" in r.output


def test_timeout_kills_the_whole_group(workdir, tmp_path):
    marker = f"crl-sleeper-{os.getpid()}"
    t0 = time.monotonic()
    r = run_command(
        ["bash", "-c", f"(exec -a {marker} sleep 60) & (exec -a {marker} sleep 60) & wait"],
        workdir,
        limits=CommandLimits(timeout=1.0),
    )
    assert r.status == "timeout" and time.monotonic() - t0 < 15
    time.sleep(0.3)
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).startswith(marker)]
    assert leftovers == []


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_output_cap(workdir):
    r = run_command(["sh", "-c", "yes crl"], workdir, limits=CommandLimits(max_output=50_000, timeout=30))
    assert r.status == "output_limit" and len(r.output) < 60_000


def test_memory_cap(workdir):
    code = "x = bytearray(1500 << 20); print('allocated')"
    r = run_command(["python3", "-c", code], workdir, limits=CommandLimits(memory_mb=300, timeout=30))
    assert r.status != "ok" and "allocated" not in r.output


def test_no_network_and_no_host_home_under_bwrap(workdir):
    if isolation_mode() != "bwrap":
        pytest.skip("bubblewrap isolation not available on this host")
    code = (
        "import socket, os\n"
        "s = socket.socket(); s.settimeout(2)\n"
        "try:\n    s.connect(('1.1.1.1', 80)); print('connected')\nexcept OSError as e:\n    print('blocked', e)\n"
        "print('home-visible' if os.path.exists(os.path.expanduser('~root/.bashrc')) else 'home-hidden')\n"
        "print('input-visible' if os.path.exists('" + str(workdir) + "') else 'input-hidden')\n"
    )
    r = run_command(["python3", "-c", code], workdir, limits=CommandLimits(timeout=30))
    assert "blocked" in r.output and "connected" not in r.output
    assert "home-hidden" in r.output and "input-hidden" in r.output
