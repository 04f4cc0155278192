"""`crl train` as a child process for the CPU training tests: its log in a file, its process tree's peak memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

CRL = [sys.executable, "-m", "crlcli.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_rss(root: int) -> int:
    """Resident memory (bytes) of `root` and every process below it."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


class Run:
    """`crl train` as a child process: its stderr kept in a file, its process tree's peak memory sampled."""

    def __init__(self, argv: list[str], log: Path, cwd: Path):
        self.log = log
        self.fh = open(log, "ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self.fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.peak = 0
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while self.proc.poll() is None:
            self.peak = max(self.peak, _tree_rss(self.proc.pid))
            time.sleep(0.5)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.seconds = time.monotonic() - self.started
            self.fh.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)  # crl train turns this into a clean stop of its children

    def text(self) -> str:
        return self.log.read_text(errors="replace")
