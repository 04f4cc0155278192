"""Exclusive locks on what a command writes: an output file, a skip file, a stats file, a run directory.

Two processes appending to one file interleave their lines (a gzip stream becomes unreadable), and two runs in one
run directory double its samples. So every writer first takes an exclusive `fcntl.flock` on a small lock file
beside its target (`.NAME.lock` next to a file, `.crl.lock` inside a run directory), without waiting: a second
writer fails at once, naming the first (its pid and command line, which the holder writes into the lock file).

The lock lives on a separate file, not on the output itself, because resuming can replace the output (a damaged
gzip is rewritten through a temporary file and renamed over it), which would move a lock held on it. The lock
file is removed on release; a process killed outright leaves it behind, and flock, which the kernel drops with
the process, lets the next writer take it. Locks are per process and re-entrant: a command that opens the same
target twice (a run directory, then its samples file) holds one lock.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import CrlError, os_error

LOCK_NAME = ".crl.lock"  # inside a run directory
_held: dict[str, _Lock] = {}


class _Lock:
    def __init__(self, key: str, lock_path: Path | None, fd: int):
        self.key, self.lock_path, self.fd, self.count = key, lock_path, fd, 1


def lock_path_of(target: Path, directory: bool = False) -> Path:
    return target / LOCK_NAME if directory else target.with_name(f".{target.name}.lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "another process (it has not said which yet)"


def acquire(target: str | Path, directory: bool = False) -> str:
    """Take the exclusive lock on `target` (a file, or a run directory when `directory`), or raise CrlError
    naming the process that holds it. Returns the key to `release` it with."""
    target = Path(target)
    key = str(target.resolve())
    if key in _held:
        _held[key].count += 1
        return key
    if not directory and target.exists() and not target.is_file():
        return key  # /dev/null, a FIFO, /dev/stdout: nothing there to keep whole (release ignores the key)
    path = lock_path_of(target, directory)
    lock_file: Path | None = path  # None: no lock file, the file itself is locked
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _take(path, target, directory)
    except OSError as exc:
        if directory or not target.is_file():
            raise os_error(exc, "write", str(target)) from exc
        # A file we may write in a folder we may not (no room for a lock file): lock the file itself.
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
            _flock(fd, target, directory)
        except OSError as exc2:
            raise os_error(exc2, "write", str(target)) from exc2
        lock_file = None
    else:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} ({' '.join(['crl', *sys.argv[1:]])})\n".encode())
    _held[key] = _Lock(key, lock_file, fd)
    return key


def _flock(fd: int, target: Path, directory: bool) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        what = "run directory" if directory else "file"
        raise CrlError(
            f"{target}: this {what} is being written by {holder}",
            hint="two writers would mix or corrupt it: wait for that one to finish (or stop it), "
            "or write somewhere else",
        ) from None


def _take(path: Path, target: Path, directory: bool) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        _flock(fd, target, directory)
        # A holder releasing it removes the file: if ours was removed between open and flock, take a new one.
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def release(key: str) -> None:
    lock = _held.get(key)
    if lock is None:
        return
    lock.count -= 1
    if lock.count > 0:
        return
    del _held[key]
    if lock.lock_path is not None:
        try:
            lock.lock_path.unlink()  # still holding it: nobody can take it between the unlink and the close
        except OSError:
            pass
    os.close(lock.fd)


@contextmanager
def locked(target: str | Path | None, directory: bool = False) -> Iterator[None]:
    """Hold the lock on `target` for a block; None (stdout) needs none."""
    if target is None or str(target) == "-":
        yield
        return
    key = acquire(target, directory)
    try:
        yield
    finally:
        release(key)


@atexit.register
def _release_all() -> None:
    for key in list(_held):
        _held[key].count = 1
        release(key)


def holds_run_dir(arg: str):
    """Decorator: the function holds the lock on its run directory (the argument named `arg`: a path, or an object
    with `.path`) while it runs. A second run into the same directory fails at once instead of doubling it."""
    import functools
    import inspect

    def wrap(fn):
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def locked_call(*args, **kwargs):
            target = sig.bind(*args, **kwargs).arguments[arg]
            with locked(getattr(target, "path", target), directory=True):
                return fn(*args, **kwargs)

        return locked_call

    return wrap
