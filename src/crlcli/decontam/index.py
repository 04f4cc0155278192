"""The benchmark n-gram index: built once from the benchmark problems, cached on disk, consulted per record.

An index holds, for statements and for solutions apart, the sorted 64-bit hashes of every n-gram of every
benchmark problem with the problem it comes from (a hash shared by several problems appears once per problem).
An n-gram found in more than MAX_DF problems of one benchmark is a template of that benchmark (BigCodeBench's
"You should write self-contained code starting with", AtCoder's input-format preamble), not a problem's content,
and is left out; so is one that is mostly numbers (`_prose_grams`).

Screening does not hash every n-gram of a training text, which in Python was most of a record's cost. Every
k-gram (k = `probe_len(n)`, about n/2) inside an indexed n-gram is marked in a 4 MB table, a bit per value of
its key's top 25 bits (1.2% of them set for the shipped benchmarks). Of the n - k + 1 first positions of an
n-gram, one is a multiple of n - k + 1, and the k-gram there lies inside the n-gram: so only the k-grams at
those positions (1 in 7 words, 1 in 26 code tokens at the defaults) are looked up, and only the n-grams around
a marked one (1-1.3% of the shipped samples' n-grams, nearly all marked by chance) are hashed and looked up by
bisection. The hits are those of looking up every n-gram.

Cache: one file per combination of benchmarks, options and data-file checksums, in `.crl-cache/` beside the
data, or, when that folder cannot be written (read-only data), in the user cache (`$CRL_CACHE_DIR`, else
`$XDG_CACHE_HOME/crl`, else `~/.cache/crl`), under `decontam/`.
"""

from __future__ import annotations

import hashlib
import os
import time
from array import array
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from .. import jsonx
from ..errors import CrlError, UsageError
from .benchmarks import Doc, Spec, data_for, files_of, load_docs
from .normalize import MASK, TUPLE_HASH, code_tokens, gram_hashes, probe_keys, rolling, token_hashes, words

FORMAT = 4  # bump when the file layout, the normalisation or the hashing changes (4: the table holds k-grams)
MAGIC = b"CRLDCON1"
MAX_DF = 10
PREFIX_BITS = 25  # ~1.2% of the table is set for the shipped benchmarks
BITMAP_BYTES = 1 << (PREFIX_BITS - 3)
DEFAULT_NGRAM = 13
DEFAULT_CODE_RUN = 50
KINDS = ("statement", "solution")


@dataclass
class Index:
    n: int
    code_n: int
    benchmarks: list[str]
    docs: list[list[Any]]  # [benchmark index, task id, statement n-grams, solution n-grams]
    keys: dict[str, Any]  # kind -> sorted hashes (array or memoryview of 'Q')
    owners: dict[str, Any]  # kind -> doc index of each hash ('I')
    bitmap: Any  # bytes-like: the k-grams of the indexed n-grams (both kinds), see probe_len
    lcb: list[dict[str, Any]] = field(default_factory=list)  # {benchmark, start, end, contests: {id: task}}
    stats: dict[str, Any] = field(default_factory=dict)
    cache_path: Path | None = None
    cache_note: str | None = None  # how the cache was found or written, for the command to log
    built_s: float | None = None  # seconds spent building (None: loaded from the cache)

    # --- on disk -------------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays = [self.keys[k] for k in KINDS] + [self.owners[k] for k in KINDS]
        header = {
            "format": FORMAT,
            "n": self.n,
            "code_n": self.code_n,
            "probe": _probe(self.n, self.code_n),
            "benchmarks": self.benchmarks,
            "docs": self.docs,
            "lcb": self.lcb,
            "stats": self.stats,
            "lengths": [len(a) for a in arrays],
        }
        head = jsonx.dumps(header)
        head += b" " * (-len(head) % 8)
        parts = [MAGIC, len(head).to_bytes(8, "little"), head] + [bytes(a) for a in arrays] + [bytes(self.bitmap)]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: Any, where: Path) -> Index:
        if data[:8] != MAGIC:
            raise ValueError(f"{where}: not a crl decontamination index")
        size = int.from_bytes(data[8:16], "little")
        header = jsonx.loads(data[16 : 16 + size])
        if header.get("format") != FORMAT or header.get("probe") != _probe(header["n"], header["code_n"]):
            raise ValueError(f"{where}: index format {header.get('format')}, expected {FORMAT}")
        pos, arrays, view = 16 + size, [], memoryview(data)
        for i, length in enumerate(header["lengths"]):
            fmt: Literal["Q", "I"] = "Q" if i < 2 else "I"
            nbytes = length * (8 if i < 2 else 4)
            arrays.append(view[pos : pos + nbytes].cast(fmt))  # a view, not a copy: loading costs no time
            pos += nbytes
        bitmap = view[pos : pos + BITMAP_BYTES]
        if len(bitmap) != BITMAP_BYTES:
            raise ValueError(f"{where}: truncated index")
        return cls(
            header["n"],
            header["code_n"],
            header["benchmarks"],
            header["docs"],
            dict(zip(KINDS, arrays[:2])),
            dict(zip(KINDS, arrays[2:])),
            bitmap,
            header["lcb"],
            header["stats"],
        )

    # --- lookup --------------------------------------------------------------------------------------------
    def find(self, wh: list[int], kind: str) -> dict[int, list[int]]:
        """doc index -> positions (sorted) of the n-grams of a text (its tokens' hashes `wh`) that it shares."""
        n = self.n if kind == "statement" else self.code_n
        k = probe_len(n)
        step, last = n - k + 1, len(wh) - n
        if last < 0:
            return {}
        bm, byte, bit = self.bitmap, 64 - PREFIX_BITS + 3, 64 - PREFIX_BITS
        # probe_keys(wh, k, step) and the table test in one comprehension: it runs for every record
        marked = [
            p
            for p in range(0, len(wh) - k + 1, step)
            if bm[(h := hash(tuple(wh[p : p + k])) & MASK) >> byte] >> ((h >> bit) & 7) & 1
        ]
        spans: list[list[int]] = []  # [first, last] start of the n-grams that hold a marked k-gram, merged
        for p in marked:
            lo, hi = max(0, p - (n - k)), min(p, last)
            if spans and lo <= spans[-1][1] + 1:
                spans[-1][1] = hi
            else:
                spans.append([lo, hi])
        keys, owners = self.keys[kind], self.owners[kind]
        end = len(keys)
        found: dict[int, list[int]] = {}
        for lo, hi in spans:
            for i, h in enumerate(rolling(wh[lo : hi + n], n), lo):
                j = bisect_left(keys, h)
                while j < end and keys[j] == h:
                    found.setdefault(owners[j], []).append(i)
                    j += 1
        return found


def _probe(n: int, code_n: int) -> list[Any]:
    """What the table's keys depend on besides the format: the k-gram lengths and how tuples hash."""
    return [probe_len(n), probe_len(code_n), TUPLE_HASH]


def probe_len(n: int) -> int:
    """The length of the k-grams screening looks up first: one in n - k + 1 positions is looked up, and a longer
    k-gram is rarer in unrelated text (of the LeetCode sample's statement k-grams looked up at n = 13, 1.2% of the
    6-grams are in a benchmark's n-grams, 0.2% of the 7-grams); about n/2 balances the two."""
    return (n + 1) // 2


def build(sources: list[tuple[Spec, Any]], n: int, code_n: int) -> Index:
    """An index of the specs' problems (`sources`: each spec with what `load_docs` reads)."""
    benchmarks = [s.label for s, _ in sources]
    docs: list[list[Any]] = []
    pairs: dict[str, list[tuple[int, int]]] = {k: [] for k in KINDS}
    lcb: list[dict[str, Any]] = []
    stats: dict[str, Any] = {}
    probes: set[int] = set()
    sizes = (n, code_n)
    for b, (spec, source) in enumerate(sources):
        problems = list(load_docs(spec, source))
        tokens = [([words(t) for t in d.texts], [code_tokens(c, py) for c, py in d.codes]) for d in problems]
        grams = [[[_prose_grams(t, size) for t in toks] for toks, size in zip(d, sizes)] for d in tokens]
        sets = [[{h for g in kind for _, h in g} for kind in d] for d in grams]
        template = [_template(problems, [s[k] for s in sets]) for k in range(2)]
        first = len(docs)
        for i, (d, s) in enumerate(zip(problems, sets)):
            kept = [s[k] - template[k] for k in range(2)]
            docs.append([b, d.task_id, len(kept[0]), len(kept[1])])
            for k, (kind, hs) in enumerate(zip(KINDS, kept)):
                pairs[kind] += [(h, first + i) for h in hs]
                size, probe = sizes[k], probe_len(sizes[k])
                for toks, g in zip(tokens[i][k], grams[i][k]):  # the k-grams of the kept n-grams
                    kh = probe_keys(token_hashes(toks), probe)
                    for lo, hi in _merged([j for j, h in g if h in hs], size - probe):
                        probes.update(kh[lo : hi + 1])
        stats[spec.label] = {
            "problems": len(problems),
            "template_ngrams": [len(t) for t in template],
            "no_statement_ngram": sum(1 for d in docs[first:] if not d[2]),
        }
        if spec.family == "lcb":
            lcb.append(_lcb_window(spec.label, source, problems))
    keys, owners = {}, {}
    for kind in KINDS:
        ordered = sorted(pairs[kind])
        keys[kind] = array("Q", [h for h, _ in ordered])
        owners[kind] = array("I", [d for _, d in ordered])
    bitmap = bytearray(BITMAP_BYTES)
    for h in probes:
        bitmap[h >> (64 - PREFIX_BITS + 3)] |= 1 << ((h >> (64 - PREFIX_BITS)) & 7)
    return Index(n, code_n, benchmarks, docs, keys, owners, bytes(bitmap), lcb, stats)


def _merged(starts: list[int], width: int) -> list[tuple[int, int]]:
    """The union of [s, s + width] over the sorted `starts`, as disjoint (first, last) spans: each k-gram is
    marked once, not once per n-gram that holds it."""
    out: list[tuple[int, int]] = []
    for s in starts:
        if out and s <= out[-1][1] + 1:
            out[-1] = (out[-1][0], s + width)
        else:
            out.append((s, s + width))
    return out


def _prose_grams(tokens: list[str], n: int) -> list[tuple[int, int]]:
    """(position, hash) of the n-grams of a benchmark text, less those of n-grams that are mostly numbers: example
    data (`0 0 0 1 0 0 ...`, `1 1 2 1 2 3 ...`) that unrelated problems share, not the problem's words."""
    hashes = gram_hashes(tokens, n)
    numeric = [0]
    for t in tokens:
        numeric.append(numeric[-1] + t.isdigit())
    return [(i, h) for i, h in enumerate(hashes) if 2 * (numeric[i + n] - numeric[i]) <= n]


def _template(problems: list[Doc], sets: list[set[int]]) -> set[int]:
    """N-grams of more than MAX_DF problems (an exercise in several languages counts once)."""
    by_family: dict[str, set[int]] = {}
    for d, s in zip(problems, sets):
        by_family.setdefault(d.family or d.task_id, set()).update(s)
    df = Counter(h for s in by_family.values() for h in s)
    return {h for h, c in df.items() if c > MAX_DF}


def _lcb_window(label: str, bench: Any, problems: list[Doc]) -> dict[str, Any]:
    days = sorted(d.day for d in problems if d.day)
    contests: dict[str, str] = {}
    for d in problems:
        if d.contest_id:
            contests.setdefault(d.contest_id, d.task_id)
    start = str(bench.start) if bench.start else (days[0] if days else None)
    end = str(bench.end) if bench.end else (days[-1] if days else None)
    return {"benchmark": label, "start": start, "end": end, "contests": contests}


# --- the cache ------------------------------------------------------------------------------------------------


def user_cache_dir() -> Path:
    root = os.environ.get("CRL_CACHE_DIR") or (
        Path(os.environ["XDG_CACHE_HOME"]) / "crl"
        if os.environ.get("XDG_CACHE_HOME")
        else Path.home() / ".cache" / "crl"
    )
    return Path(root) / "decontam"


def _digest(path: Path | str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise CrlError(f"{path}: cannot read ({exc})") from exc
    return h.hexdigest()


def _mapped(path: Path) -> Any:
    """The file mapped, not read: a short run touches a few pages of the table and the hashes."""
    import mmap

    with open(path, "rb") as fh:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def _writable(folder: Path) -> bool:
    """Whether to cache beside the data: a folder whose mode gives no one write access counts as read-only even
    for root, whom the kernel would let write there."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def _digests(names: list[str]) -> list[str]:
    """SHA-256 of each file, remembered in the user cache by (size, mtime, inode), as make and git do: Aider's
    1,100 small files cost more to read than the rest of a short run."""
    memo_path = user_cache_dir() / "digests.json"
    try:
        memo = orjson.loads(memo_path.read_bytes())  # not jsonx: its 19-digit check sends mtime_ns to json, 3x slower
    except (OSError, ValueError):
        memo = {}
    out, changed = [], False
    for f in names:
        try:
            st = os.stat(f)
        except OSError as exc:
            raise CrlError(f"{f}: cannot read ({exc})") from exc
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = memo.get(f)
        if not (isinstance(known, list) and known[:3] == stamp):
            known, changed = [*stamp, _digest(f)], True
            memo[f] = known
        out.append(known[3])
    if changed:
        try:
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = memo_path.with_name(f"digests.{os.getpid()}.tmp")
            tmp.write_bytes(jsonx.dumps(memo))
            os.replace(tmp, memo_path)
        except OSError:
            pass  # only a speed-up
    return out


def cache_key(specs: list[Spec], files: list[list[Path]], n: int, code_n: int) -> str:
    parts: list[Any] = [FORMAT, n, code_n, MAX_DF, TUPLE_HASH]
    digests = iter(_digests([str(f) for fs in files for f in fs]))
    for spec, fs in zip(specs, files):
        names = [str(f) for f in fs]
        cut = len(os.path.commonpath([os.path.dirname(f) for f in names])) + 1 if names else 0
        # names relative to the spec's folder: a copy of the data elsewhere keeps its index
        parts.append([spec.key(), [[f[cut:], next(digests)] for f in names]])
    return hashlib.sha256(jsonx.dumps(parts)).hexdigest()


def open_index(
    specs: list[Spec],
    data: str | None = None,
    overrides: dict[str, str] | None = None,
    n: int = DEFAULT_NGRAM,
    code_n: int = DEFAULT_CODE_RUN,
    data_root: Any = None,
) -> Index:
    """The index of `specs`, from the cache when its key (options and data checksums) is there, else built and
    cached."""
    if n < 1 or code_n < 1:
        raise CrlError("the n-gram and code-run lengths must be at least 1")
    overrides = overrides or {}
    if data and Path(data).is_file() and len({s.family for s in specs if s.family != "file"}) > 1:
        raise UsageError(
            f"--data {data} is one file, for several benchmarks",
            hint="give the folder that holds them, or --data NAME=PATH for each",
        )
    unknown = set(overrides) - {name for s in specs for name in (s.label, s.family)}
    if unknown:
        raise UsageError(
            f"--data {', '.join(sorted(unknown))}=...: not a benchmark being screened",
            hint=f"NAME is one of: {', '.join(s.label for s in specs if s.family != 'file')}",
        )
    resolved = [(spec, *files_of(spec, data_for(spec, data, overrides, data_root))) for spec in specs]
    files = [fs for _, fs, _ in resolved]
    key = cache_key(specs, files, n, code_n)
    name = f"decontam-{key[:24]}.idx"
    anchor = Path(data) if data and Path(data).is_dir() else next((fs[0].parent for fs in files if fs), None)
    near = anchor / ".crl-cache" / name if anchor is not None else None
    writable = near is not None and anchor is not None and _writable(anchor)  # (both or neither are None)
    far = user_cache_dir() / name
    for path in (near, far):
        if path is not None and path.is_file():
            try:
                index = Index.from_bytes(_mapped(path), path)
            except (ValueError, KeyError, TypeError, OSError):
                continue  # a damaged or old file is rebuilt below
            index.cache_path, index.cache_note = path, f"benchmark index loaded from {path}"
            return index
    t0 = time.perf_counter()
    index = build([(spec, source) for spec, _, source in resolved], n, code_n)
    index.built_s = time.perf_counter() - t0
    blob = index.to_bytes()
    note = f"benchmark index built in {index.built_s:.1f} s"
    if near is not None and not writable:
        note += f"; {anchor} is read-only"
    for path in (near if writable else None, far):
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, path)
        except OSError as exc:
            # read-only data (a shared or CI copy): the user cache instead, and the log says so
            note += f"; cannot write beside the data ({exc.strerror or exc})" if path is near else ""
            continue
        index.cache_path, index.cache_note = path, f"{note}; cached at {path}"
        return index
    index.cache_note = f"{note}; no cache folder could be written"
    return index
