"""Options and the read-process-write loop shared by the streaming subcommands."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import locks
from ..errors import CrlError, UsageError
from ..io import JsonlReader, JsonlWriter, SkipLog, done_ids
from ..log import logger
from ..options import parse_key_values
from ..records import candidate_id_problem, check_problem, json_type

InputOpt = Annotated[Path | None, typer.Option("--input", "-i", help="JSON Lines input (.gz allowed); default stdin.")]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="JSON Lines output (.gz allowed); default stdout.")
]
SkipInvalidOpt = Annotated[
    Path | None,
    typer.Option(
        "--skip-invalid",
        help="Write malformed input lines (with line number and reason) to this file and go on, instead of stopping.",
    ),
]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="Append to -o FILE and skip records whose id is already there.")
]
# Cluster mode of the model backends (docs/cluster.md): N data-parallel engines as Ray actors.
EnginesOpt = Annotated[int, typer.Option("--engines", help="Data-parallel engines as Ray actors (docs/cluster.md).")]
RayAddressOpt = Annotated[
    str | None, typer.Option("--ray-address", help="Place the engines on this Ray cluster (auto: the one joined).")
]
# streaming backends write as results complete; these restore the batch path's order (generation/stream.py Reorder)
OrderedOpt = Annotated[
    bool,
    typer.Option(
        "--ordered",
        help="Write records in input order (a bounded reorder "
        "buffer; streaming backends otherwise write as they "
        "complete).",
    ),
]
ReorderWindowOpt = Annotated[
    int, typer.Option("--reorder-window", help="--ordered: problems started but not yet written, at most.")
]


def renamed(new: str, value: Any, old: str, old_value: Any, where: str = "") -> Any:
    """The value of an option spelled `new`, or given by its old spelling `old`, kept hidden for one release: the
    old one still works, with a note on stderr; both with different values is a usage error, never a silent
    override. Unset means None (or an empty list, for repeatable options)."""
    if old_value is None or old_value == []:
        return value
    if value is not None and value != [] and value != old_value:
        raise UsageError(
            f"{new} {value} and {old} {old_value} disagree",
            hint=f"{old} is a deprecated spelling of {new}{where}; give {new} only",
        )
    from ..log import console

    console.print(f"note: {old} is deprecated{where}; use {new}", markup=False, highlight=False, soft_wrap=True)
    return old_value


def check_numbers(*checks: tuple[str, Any, float, bool]) -> None:
    """(flag, value, bound, strict) per option: the value must be >= bound (> bound when strict); unset (None)
    passes. A bad number is a usage error (exit 2) naming its flag, before anything starts."""
    for option, value, bound, strict in checks:
        if value is None:
            continue
        if value != value or (value <= bound if strict else value < bound):  # value != value: NaN
            want = f"greater than {bound:g}" if strict else f"at least {bound:g}"
            raise UsageError(f"{option} must be {want}, got {value}")


def check_choice(option: str, value: Any, choices: tuple[str, ...] | list[str]) -> None:
    """An option with a fixed set of values: anything else is a usage error (exit 2) before anything starts."""
    if value not in choices:
        raise UsageError(f"{option} must be one of {', '.join(choices)}, got {value!r}")


def backend_options(
    backend: str,
    *,
    base_url: str | None = None,
    device: str | None = None,
    tensor_parallel_size: int | None = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    prefix_cache: bool = False,
    seed: int | None = None,
    engines: int = 1,
    ray_address: str | None = None,
    extra: Iterable[str] | None = None,
    option: str = "--backend-option",
) -> dict[str, Any]:
    """A generation backend's options from the command's flags that apply to it (flags left unset keep the
    backend's defaults), then the `KEY=VALUE` extras on top, then what its declared environment variables fill in
    where both left an option unset (the openai backend's base_url: $OPENAI_BASE_URL). `engines`/`ray_address`
    ride along for the caller (distributed.engines.open_backend), which spreads the backend over Ray."""
    if engines < 1:  # a usage error (exit 2), before any model loads
        raise UsageError(f"--engines must be at least 1, got {engines}")
    opts: dict[str, Any] = {}
    if engines > 1 or ray_address:
        from ..generation import BACKENDS, backend_class

        if backend in BACKENDS and backend_class(backend).model_free:
            raise UsageError("--engines/--ray-address need a model backend", hint=f"{backend} is model-free")
        opts.update(engines=engines, ray_address=ray_address)
    if backend == "openai":
        opts.update(base_url=base_url, concurrency=concurrency, timeout=timeout)
    elif backend == "hf":
        opts.update(device=device)
    elif backend == "vllm":
        opts.update(tensor_parallel_size=tensor_parallel_size)
        if prefix_cache:
            opts["enable_prefix_caching"] = True  # tts re-sends a longer copy of the same prefix each round
    elif backend == "mutate":
        opts.update(seed=seed if seed is not None else 0)  # its mutants are drawn at random
    opts = {k: v for k, v in opts.items() if v is not None}
    opts.update(parse_key_values(extra, option))
    from ._env import backend_env

    return backend_env(backend, opts)


def unique_ids(records: Iterable[dict[str, Any]], reader: JsonlReader | None = None) -> Iterator[dict[str, Any]]:
    """Records with a usable, unique id (resume and sampling key on it). Others stop the run or, through the
    reader, go to the skip file, naming the line of the first record with that id (record numbers when the
    records do not come from a reader: a source)."""
    seen: dict[str, int] = {}
    n = 0
    for rec in records:
        n += 1
        where = reader.lineno if reader is not None else n
        rid = rec.get("id")
        reason = None
        if not isinstance(rid, str) or not rid:
            what = (
                "record without an 'id'"
                if "id" not in rec
                else f"record 'id' must be a non-empty string, got {json_type(rid)}"
            )
            reason = f"{what} (resume and sampling key on a unique string id)"
        elif rid in seen:
            reason = f"duplicate id {rid!r}: also on {'line' if reader is not None else 'record'} {seen[rid]}"
        if reason is None:
            assert isinstance(rid, str)  # else a reason was given above
            seen[rid] = where
            yield rec
        elif reader is not None:
            reader.reject(rec, reason)
        else:
            raise CrlError(f"record {n}: {reason}", hint="the source has records with the same id")


def check_distinct(*files: tuple[str, Path | None]) -> None:
    """Refuse one file given to two options (say -o and --skip-invalid): the writers would overwrite each other,
    or a stage would read what it writes. stdin/stdout ("-", None) may repeat."""
    seen: dict[Path, str] = {}
    for option, path in files:
        if path is None or str(path) == "-":
            continue
        real = Path(path).resolve()
        if real in seen:
            raise UsageError(f"{seen[real]} and {option} are the same file ({path})", hint="give each its own file")
        seen[real] = option


class Stage:
    """Reader + optional resume filter + writer, with the skip summary logged at the end."""

    def __init__(
        self,
        input: Path | None,
        output: Path | None,
        skip_invalid: Path | None = None,
        resume: bool = False,
        problems: dict[str, bool] | None = None,
    ):
        """`problems`: the records are problem records, each checked by `records.check_problem(**problems)`
        (the one validation every stage uses) and rejected through the reader's stop-or-skip policy."""
        if resume and output is None:
            raise UsageError("--resume needs -o/--output FILE", hint="resume appends to the file given with -o")
        check_distinct(("-i/--input", input), ("-o/--output", output), ("--skip-invalid", skip_invalid))
        # Locked before anything reads or trims the output: a second writer fails here, before it can touch it.
        self._locks = [locks.acquire(p) for p in (output, skip_invalid) if p is not None and str(p) != "-"]
        self.skip = SkipLog(skip_invalid) if skip_invalid else None
        self.reader = JsonlReader(input, self.skip, skip_option=True)
        self.done: set[str] = done_ids(output) if resume and output is not None else set()
        self.resume = resume
        self.output = output
        self.skipped_done = 0
        self.problems = problems
        self.candidate_warnings = 0

    def records(self) -> Iterator[dict[str, Any]]:
        for rec in unique_ids(self.reader, self.reader):
            if self.done and rec["id"] in self.done:
                self.skipped_done += 1
                continue
            if self.problems is not None:
                why = check_problem(rec, **self.problems)
                if why:
                    self.reader.reject(rec, why)
                    continue
                why = candidate_id_problem(rec)
                if why:
                    self.candidate_warnings += 1
                    if self.candidate_warnings <= 3:
                        logger.warning(f"{self.reader.where()}: {why}")
            yield rec

    def run(self, process: Callable[[Iterator[dict[str, Any]]], Iterator[dict[str, Any]]]) -> int:
        written = 0
        with JsonlWriter(self.output, append=self.resume) as out:
            for rec in process(self.records()):
                out.write(rec)
                written += 1
        self.finish()
        return written

    def finish(self) -> None:
        for key in self._locks:
            locks.release(key)
        self._locks = []
        if self.skip is not None:
            self.skip.close()
            invalid = self.skip.count - self.skip.set_aside
            if invalid:
                logger.warning(f"skipped {invalid} invalid line(s) (malformed input); see {self.skip.path}")
            if self.skip.set_aside:
                logger.warning(
                    f"set aside {self.skip.set_aside} valid record(s) by policy (not errors: the reason "
                    f"is on each line of {self.skip.path})"
                )
        if self.candidate_warnings > 3:
            logger.warning(f"{self.candidate_warnings} record(s) in all had candidates without a unique id")
        if self.skipped_done:
            logger.info(f"resume: {self.skipped_done} record(s) already in {self.output}, skipped")
