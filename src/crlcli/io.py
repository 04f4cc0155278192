"""JSON Lines streaming shared by every command.

- stdin/stdout by default, files with `-i`/`-o`, gzip when the name ends in `.gz` (both ways);
- constant memory: one line at a time;
- a malformed line stops the run with `<file>:<line>: <what>`, unless a skip file is given, in which case the
  line goes there verbatim with its number and reason, and the reader counts it (nothing is dropped silently);
- resumable outputs: `done_ids` reads the ids already written and trims a torn last line left by a crash.
"""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from . import jsonx
from .errors import CrlError

STDIO = "-"


def _display(path: Path | str | None) -> str:
    return "<stdin>" if path in (None, STDIO) else str(path)


GZIP_MAGIC = b"\x1f\x8b"
# What a damaged or truncated gzip stream raises while being read.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def open_binary_read(path: Path | str | None) -> IO[bytes]:
    """stdin or a file; gzip is recognised by its magic bytes (stdin and files of any name) as well as `.gz`."""
    if path in (None, STDIO):
        stdin = sys.stdin.buffer
        head = stdin.peek(2)[:2] if hasattr(stdin, "peek") else b""
        return gzip.GzipFile(fileobj=stdin, mode="rb") if head == GZIP_MAGIC else stdin
    p = Path(path)
    if not p.exists():
        raise CrlError(f"{p}: no such file", hint="check the path given to -i/--input")
    if p.is_dir():
        raise CrlError(f"{p}: is a directory, expected a JSON Lines file")
    if p.suffix == ".gz":
        return gzip.open(p, "rb")
    fh = open(p, "rb")
    if fh.peek(2)[:2] == GZIP_MAGIC:
        fh.close()
        return gzip.open(p, "rb")
    return fh


def open_binary_write(path: Path | str | None, append: bool = False) -> IO[bytes]:
    if path in (None, STDIO):
        return sys.stdout.buffer
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    mode = "ab" if append else "wb"
    if p.suffix == ".gz":
        # gzip files may hold several members, so appending on resume stays readable by any gunzip.
        return gzip.open(p, mode)
    return open(p, mode)


class SkipLog:
    """Where `--skip-invalid` puts bad lines: one JSON object per line with file, line, error and text."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._fh: IO[bytes] | None = None
        self.count = 0

    def write(self, source: str, lineno: int | None, reason: str, text: bytes | str | None) -> None:
        if self._fh is None:
            self._fh = open_binary_write(self.path)
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        entry = {"file": source, "line": lineno, "error": reason, "text": text}
        self._fh.write(jsonx.dumps(entry) + b"\n")
        self._fh.flush()
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class JsonlReader:
    """Iterate dict records from a JSON Lines source, with line numbers for every error.

    `reject(record, reason)` lets a stage report a record that parsed but cannot be used, through the same
    stop-or-skip policy as a malformed line.
    """

    def __init__(self, path: Path | str | None = None, skip: SkipLog | None = None, skip_option: bool = False):
        self.path = path
        self.name = _display(path)
        self.skip = skip
        self.skip_option = skip_option  # the command has --skip-invalid: the hint may suggest it
        self.lineno = 0
        self.read = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        fh = open_binary_read(self.path)
        try:
            for raw in fh:
                self.lineno += 1
                line = raw.strip()
                if not line:
                    continue
                try:
                    record = jsonx.loads(line)
                except jsonx.JSONDecodeError as exc:
                    self._bad(f"malformed JSON ({exc})", raw)
                    continue
                if not isinstance(record, dict):
                    self._bad(f"expected a JSON object, got {type(record).__name__}", raw)
                    continue
                self.read += 1
                yield record
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            torn = isinstance(exc, GZIP_ERRORS)
            raise CrlError(
                f"{self.name}:{self.lineno}: cannot read ({'damaged or truncated gzip: ' if torn else ''}{exc})",
                hint="the gzip stream ends early (a crash mid-write?): rerun the stage that wrote it with --resume "
                     "to keep its readable part, or regenerate it" if torn else None,
            ) from exc
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()

    def where(self) -> str:
        return f"{self.name}:{self.lineno}"

    def _bad(self, reason: str, raw: bytes | str | None) -> None:
        if self.skip is None:
            raise CrlError(
                f"{self.where()}: {reason}",
                hint="fix the line, or pass --skip-invalid FILE to set bad lines aside and go on"
                if self.skip_option else "fix the line",
            )
        self.skip.write(self.name, self.lineno, reason, raw)

    def reject(self, record: dict[str, Any], reason: str) -> None:
        """Report a parsed record that a stage cannot use (stops, or goes to the skip file)."""
        self._bad(reason, jsonx.dumps(record))


class JsonlWriter:
    def __init__(self, path: Path | str | None = None, append: bool = False):
        self.path = path
        self.name = "<stdout>" if path in (None, STDIO) else str(path)
        self._fh = open_binary_write(path, append=append)
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        try:
            data = jsonx.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:
            raise CrlError(f"cannot serialise record {record.get('id')!r}: {exc}") from exc
        self._fh.write(data + b"\n")
        self.written += 1
        # Flush each record to files so an interrupted run leaves whole lines to resume from.
        if self._fh is not sys.stdout.buffer:
            self._fh.flush()

    def write_all(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            self.write(r)

    def close(self) -> None:
        if self._fh is sys.stdout.buffer:
            self._fh.flush()
        else:
            self._fh.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def trim_torn_tail(p: Path) -> None:
    """Drop a last line without its newline (a crash mid-write) so appended records start clean."""
    if p.stat().st_size == 0:
        return
    if p.suffix == ".gz":
        _repair_gzip(p)
        return
    with open(p, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        size = fh.seek(0, os.SEEK_END)
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                fh.truncate(start + idx + 1)
                return
            pos = start
        fh.truncate(0)


def _gzip_intact(p: Path) -> bool:
    """The whole file decompresses and its text ends with a newline (or is empty)."""
    last = b"\n"
    try:
        with gzip.open(p, "rb") as fh:
            while chunk := fh.read(1 << 20):
                last = chunk[-1:]
    except GZIP_ERRORS:
        return False
    return last == b"\n"


def _repair_gzip(p: Path) -> None:
    """A crash mid-write leaves a gzip member without its end (and maybe half a line): appending new members
    after it would make everything past the crash unreadable. Rewrite the readable whole lines instead (through
    a temporary file, replaced atomically)."""
    if _gzip_intact(p):
        return
    tmp = p.with_name(p.name + ".repair.tmp")
    kept = 0
    with gzip.open(tmp, "wb") as out:
        try:
            with gzip.open(p, "rb") as fh:
                for line in fh:
                    if not line.endswith(b"\n"):
                        break
                    out.write(line)
                    kept += 1
        except GZIP_ERRORS:
            pass
    os.replace(tmp, p)
    from .log import logger

    logger.warning("%s: the gzip stream was cut off (a crash mid-write); kept its %d whole line(s) and resume "
                   "after them", p, kept)


def done_ids(path: Path | str, key: str = "id") -> set[str]:
    """Ids already present in an output file, for `--resume`. A missing file means nothing is done."""
    p = Path(path)
    if not p.exists():
        return set()
    trim_torn_tail(p)
    ids: set[str] = set()
    opener = gzip.open if p.suffix == ".gz" else open
    try:
        with opener(p, "rb") as fh:
            for raw in fh:
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    rec = jsonx.loads(raw)
                except jsonx.JSONDecodeError:
                    continue
                if isinstance(rec, dict) and key in rec:
                    ids.add(str(rec[key]))
    except GZIP_ERRORS as exc:  # trim_torn_tail repaired it; damaged again since?
        raise CrlError(f"{p}: cannot read for --resume ({exc})", hint="regenerate the output file") from exc
    return ids


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr for a while, so that what libraries, C++ code and child processes print
    (vLLM, Ray) cannot reach stdout, which carries records only."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def write_json(path: Path | str, obj: Any) -> None:
    """Write a JSON file atomically (a crash leaves the old file whole): indented, keys sorted, integers exact."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    tmp.write_bytes(jsonx.dumps(obj, option=options) + b"\n")
    os.replace(tmp, path)


def dumps(record: Any) -> str:
    return jsonx.dumps(record).decode()
