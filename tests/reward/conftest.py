"""Fixtures for the reward tests: a real `crl reward serve` process on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """All live descendants of `pid`, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def post(url: str, payload, timeout: float = 170) -> tuple[int, dict]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@contextmanager
def reward_server(*args: str, env: dict | None = None, verbose: bool = False):
    """Yield (base_url, Popen); on exit SIGTERM it, check a clean exit and that no process is left behind.

    The server's stderr is drained by a thread into `proc.lines` (a full pipe would block the server)."""
    port = free_port()
    crl = str(Path(sys.executable).with_name("crl"))
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault("COLUMNS", "200")  # keep Rich from wrapping log lines the tests look for
    proc = subprocess.Popen(
        [crl, *(["-v"] if verbose else []), "reward", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=full_env,
    )
    proc.lines = []
    reader = threading.Thread(target=lambda: proc.lines.extend(iter(proc.stderr.readline, b"")), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                time.sleep(0.2)
                raise RuntimeError(f"server exited early: {b''.join(proc.lines).decode()}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not healthy after 60 s")
            time.sleep(0.1)
        yield base, proc
    finally:
        kids = descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise AssertionError("reward server did not stop within 30 s of SIGTERM") from exc
        reader.join(timeout=10)
        proc.stderr_text = b"".join(proc.lines).decode()
        proc.stderr.close()
        time.sleep(0.2)
        left = [k for k in kids if alive(k)]
        assert not left, f"processes left behind by the reward server: {left}"


import types  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def srv():
    """Helpers to run and talk to a real reward server: srv.reward_server(...), srv.post(...)."""
    return types.SimpleNamespace(
        reward_server=reward_server, post=post, descendants=descendants, alive=alive, wait_for_line=wait_for_line
    )


def wait_for_line(proc, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not any(text.encode() in line for line in list(proc.lines)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the server log: {b''.join(proc.lines).decode()}")
        time.sleep(0.02)
