"""Resuming an output file (`--resume`): the ids already written, after trimming what a crash left half written.

A plain file's torn last line is cut (and said); a gzip file whose stream was cut is rewritten with its whole lines
(appending new members after a broken one would make everything past it unreadable). A file that cannot be
resumed safely is refused with the reason: a plain file named .gz, a line that is not a JSON record.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from . import jsonx
from .errors import CrlError

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark
# What a damaged or truncated gzip stream raises while being read.
GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


def trim_torn_tail(p: Path) -> None:
    """Drop a last line without its newline (a crash mid-write) so appended records start clean."""
    if p.stat().st_size == 0:
        return
    with open(p, "rb") as fh:
        gz = fh.read(2) == GZIP_MAGIC
    if p.suffix == ".gz" and not gz:
        raise CrlError(
            f"{p}: named .gz but not gzip (plain text?): appending gzip to it would mix the two",
            hint="rename it (without .gz) and resume into that name, or write to a new file",
        )
    if gz:
        _repair_gzip(p)
        return
    with open(p, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        size = fh.seek(0, os.SEEK_END)
        block = 1 << 16
        pos = size
        keep = 0
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            idx = chunk.rfind(b"\n")
            if idx >= 0:
                keep = start + idx + 1
                break
            pos = start
        fh.truncate(keep)
    from .log import logger

    logger.warning(
        "%s: its last line had no newline (a crash mid-write): dropped its %d byte(s) and resume after the whole lines",
        p,
        size - keep,
    )


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

    logger.warning(
        "%s: the gzip stream was cut off (a crash mid-write); kept its %d whole line(s) and resume after them", p, kept
    )


def done_ids(path: Path | str, key: str = "id") -> set[str]:
    """Ids already present in an output file, for `--resume`. A missing file means nothing is done."""
    p = Path(path)
    if not p.exists():
        return set()
    trim_torn_tail(p)
    ids: set[str] = set()
    with open(p, "rb") as fh:
        opener = gzip.open if fh.read(2) == GZIP_MAGIC else open
    try:
        with opener(p, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                raw = raw.strip()
                if not raw:
                    continue
                try:
                    rec = jsonx.loads(raw[len(BOM) :] if lineno == 1 and raw.startswith(BOM) else raw)
                except jsonx.JSONDecodeError as exc:
                    # appending after it would hide it in the middle of the output
                    raise CrlError(
                        f"{p}:{lineno}: not a JSON record ({exc}); --resume would append after it",
                        hint="is this the output of the same stage? fix or remove that line, or write to a new file",
                    ) from None
                if isinstance(rec, dict) and key in rec:
                    ids.add(str(rec[key]))
    except GZIP_ERRORS as exc:  # trim_torn_tail repaired it; damaged again since?
        raise CrlError(f"{p}: cannot read for --resume ({exc})", hint="regenerate the output file") from exc
    return ids
