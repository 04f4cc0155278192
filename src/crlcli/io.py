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
from typing import IO, Any, cast

import orjson

from . import jsonx
from .errors import CrlError, os_error

# Resuming an output (trimming a torn tail, the ids already written) lives in crlcli.resume, with the gzip and
# BOM constants both read; re-exported here, where every stage has always imported them from.
from .resume import BOM, GZIP_ERRORS, GZIP_MAGIC, done_ids, trim_torn_tail  # noqa: F401

STDIO = "-"


def is_stdio(path: Path | str | None) -> bool:
    """None or "-" (also as a Path: `-i -` arrives as Path("-")): stdin or stdout."""
    return path is None or str(path) == STDIO


def _display(path: Path | str | None) -> str:
    return "<stdin>" if is_stdio(path) else str(path)


_SHOWN = 3  # warnings of one kind shown line by line before a count at the end


def open_binary_read(path: Path | str | None) -> IO[bytes]:
    """stdin or a file; gzip is recognised by its magic bytes (stdin and files of any name) as well as `.gz`."""
    if path is None or is_stdio(path):  # (is_stdio(None) is True: the None test only tells mypy)
        if sys.stdin.isatty():  # nothing piped in: say so rather than wait in silence
            from .log import logger

            logger.warning(
                "reading JSON Lines from the terminal (stdin): pipe a file in or give -i FILE; Ctrl-D ends the input"
            )
            return sys.stdin.buffer  # no gzip peek: on a terminal it would swallow the first Ctrl-D
        stdin = sys.stdin.buffer
        head = stdin.peek(2)[:2] if hasattr(stdin, "peek") else b""
        return _as_io(gzip.GzipFile(fileobj=stdin, mode="rb")) if head == GZIP_MAGIC else stdin
    p = Path(path)
    if not p.exists():
        raise CrlError(f"{p}: no such file", hint="check the path given to -i/--input")
    if p.is_dir():
        raise CrlError(f"{p}: is a directory, expected a JSON Lines file")
    # The magic bytes decide, not the name: a plain file called x.jsonl.gz is read as plain text.
    fh = open(p, "rb")
    if fh.peek(2)[:2] == GZIP_MAGIC:
        fh.close()
        return _as_io(gzip.open(p, "rb"))
    return fh


def _as_io(fh: Any) -> IO[bytes]:
    """A GzipFile, or an open() whose mode is not a literal, as the IO[bytes] it behaves as (typeshed's GzipFile is
    a BufferedIOBase, not an IO): for mypy only."""
    return cast(IO[bytes], fh)


def open_binary_write(path: Path | str | None, append: bool = False) -> IO[bytes]:
    if path is None or is_stdio(path):  # (is_stdio(None) is True: the None test only tells mypy)
        return sys.stdout.buffer
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    mode = "ab" if append else "wb"
    if p.suffix == ".gz":
        # gzip files may hold several members, so appending on resume stays readable by any gunzip.
        return _as_io(gzip.open(p, mode))
    return _as_io(open(p, mode))


class SkipLog:
    """Where `--skip-invalid` puts bad lines: one JSON object per line with file, line, error and text."""

    def __init__(self, path: Path | str):
        from . import locks

        self.path = Path(path)
        self._lock: str | None = locks.acquire(self.path)  # one writer per skip file, as for every output
        self._fh: IO[bytes] | None = None
        self.count = 0
        self.set_aside = 0  # of count: valid records a stage left out by policy (not malformed input)

    def write(
        self, source: str, lineno: int | None, reason: str, text: bytes | str | None, policy: bool = False
    ) -> None:
        """One line set aside; `policy`: a valid record the stage refuses to use (e.g. `crl mix` and tests that
        run in the candidate's process), said apart from malformed lines in the summary."""
        if self._fh is None:
            try:
                self._fh = open_binary_write(self.path)
            except OSError as exc:
                raise os_error(exc, "write", str(self.path)) from exc
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        entry = {
            "file": source,
            "line": lineno,
            "error": reason,
            "text": text,
            "kind": "set aside by policy" if policy else "invalid",
        }
        try:
            self._fh.write(jsonx.dumps(entry) + b"\n")
            self._fh.flush()
        except OSError as exc:  # not a read error of the input it is called from: name this file
            raise os_error(exc, "write", str(self.path)) from exc
        self.count += 1
        self.set_aside += policy

    def close(self) -> None:
        from . import locks

        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._lock is not None:
            locks.release(self._lock)
            self._lock = None


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
        self.duplicate_keys = 0  # lines with a key twice in one object (warned about)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        fh = open_binary_read(self.path)
        try:
            for raw in fh:
                self.lineno += 1
                line = raw.strip()
                if self.lineno == 1 and line.startswith(BOM):  # editors on Windows start files with one
                    line = line[len(BOM) :].strip()
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
                self._check_keys(line, record)
                self.read += 1
                yield record
            if self.duplicate_keys > _SHOWN:
                from .log import logger

                logger.warning(f"{self.name}: {self.duplicate_keys} line(s) in all had a key twice in one object")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            torn = isinstance(exc, GZIP_ERRORS)
            # the line being read when it failed: the one after the last whole line (gzip reads ahead in blocks
            # and loses the block it fails in, so count the lines of a file's whole readable part)
            path = self.path  # (is_stdio(None) is True: the None test only tells mypy)
            at = (_readable_lines(Path(path)) if torn and path is not None and not is_stdio(path) else self.lineno) + 1
            raise CrlError(
                f"{self.name}:{at}: cannot read ({'damaged or truncated gzip: ' if torn else ''}{exc})",
                hint="the gzip stream ends early (a crash mid-write?): rerun the stage that wrote it with --resume "
                "to keep its readable part, or regenerate it"
                if torn
                else None,
            ) from exc
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()

    def where(self) -> str:
        return f"{self.name}:{self.lineno}"

    def _check_keys(self, line: bytes, record: dict[str, Any]) -> None:
        """Warn about a key given twice in one object: the parser keeps the last value, and the writer of the
        file may have meant the first."""
        key = jsonx.duplicate_key(line, record)
        if key is None:
            return
        self.duplicate_keys += 1
        if self.duplicate_keys <= _SHOWN:
            from .log import logger

            logger.warning(f"{self.where()}: key {key!r} appears twice in one object; the last value is used")

    def _bad(self, reason: str, raw: bytes | str | None) -> None:
        if self.skip is None:
            raise CrlError(
                f"{self.where()}: {reason}",
                hint="fix the line, or pass --skip-invalid FILE to set bad lines aside and go on"
                if self.skip_option
                else "fix the line",
            )
        self.skip.write(self.name, self.lineno, reason, raw)

    def reject(self, record: dict[str, Any], reason: str) -> None:
        """Report a parsed record that a stage cannot use (stops, or goes to the skip file)."""
        self._bad(reason, jsonx.dumps(record))


def count_lines(path: Path | str | None) -> int | None:
    """Non-empty lines of an input file (gzip too), for a progress total; None for stdin or anything unreadable."""
    if is_stdio(path):
        return None
    try:
        fh = open_binary_read(path)
    except CrlError:
        return None
    try:
        return sum(1 for line in fh if line.strip())
    except (OSError, EOFError, zlib.error):
        return None
    finally:
        fh.close()


def _readable_lines(p: Path) -> int:
    """Whole lines in the readable part of a damaged gzip file (every byte zlib can still decompress)."""
    lines = 0
    inflate = zlib.decompressobj(wbits=31)  # 31: a gzip header
    with open(p, "rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                lines += inflate.decompress(chunk).count(b"\n")
                while inflate.eof and inflate.unused_data:  # a next gzip member (appended on resume)
                    rest = inflate.unused_data
                    inflate = zlib.decompressobj(wbits=31)
                    lines += inflate.decompress(rest).count(b"\n")
        except zlib.error:
            pass
    return lines


class JsonlWriter:
    def __init__(self, path: Path | str | None = None, append: bool = False):
        self.path = path
        self.name = "<stdout>" if is_stdio(path) else str(path)
        self._fh = open_binary_write(path, append=append)
        self.written = 0

    def write(self, record: dict[str, Any]) -> None:
        try:
            data = jsonx.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:
            raise CrlError(f"cannot serialise record {record.get('id')!r}: {exc}") from exc
        try:
            self._fh.write(data + b"\n")
            # Flush each record to files so an interrupted run leaves whole lines to resume from.
            if self._fh is not sys.stdout.buffer:
                self._fh.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # a full disk reports no file name: give ours
            raise os_error(exc, "write", self.name) from exc
        self.written += 1

    def write_all(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            self.write(r)

    def close(self) -> None:
        try:
            if self._fh is sys.stdout.buffer:
                self._fh.flush()
            else:
                self._fh.close()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise os_error(exc, "write", self.name) from exc

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    write_file(path, jsonx.dumps(obj, option=options) + b"\n")


def write_file(path: Path | str, data: bytes) -> None:
    """Replace a file's bytes atomically (through a temporary file beside it); an OS error names the file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(path))
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise os_error(exc, "write", str(path)) from exc


def dumps(record: Any) -> str:
    return jsonx.dumps(record).decode()
