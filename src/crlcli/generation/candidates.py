"""Problem records in, the same records with sampled candidates appended out (the library of gen-candidates).

Generation streams (generation/stream.py): records go out as their samples complete, so the output order may
differ from the input order; `ordered` restores it with a reorder buffer of at most `reorder_window` records
(past it, no new problem is started until the oldest one is written).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..extract import extract_code
from ..prompts import render
from ..records import candidates_of
from .base import Backend, Completion, SamplingParams
from .mutate import references
from .stream import HOLD, GenRequest, Reorder, stream


@dataclass
class GenStats:
    problems: int = 0
    completions: int = 0
    kept: int = 0
    dropped_empty: int = 0  # completions with no code block (or only an empty one)
    tokens: int = 0
    truncated: int = 0  # finish_reason "length"
    no_reference: int = 0  # mutate: problems without a reference candidate


@dataclass
class GenSettings:
    params: SamplingParams
    template: str = ""
    template_name: str = "solve.txt"
    enable_thinking: bool = True
    raw_prompt: bool = False  # send the rendered template as raw text (complete) instead of a chat turn
    keep_raw: bool = False
    batch_size: int = 16  # problems per backend call, for backends that cannot stream (hf, mutate)
    ordered: bool = False  # write records in input order (else as they complete)
    reorder_window: int = 1024  # ordered: records started but not yet written, at most


def _batches(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for rec in records:
        batch.append(rec)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _next_ids(existing: list[dict[str, Any]], count: int) -> list[str]:
    taken = {str(c.get("id")) for c in existing if isinstance(c, dict)}
    ids: list[str] = []
    k = len(existing)
    while len(ids) < count:
        if f"c{k}" not in taken:
            ids.append(f"c{k}")
        k += 1
    return ids


def _origin(backend: Backend, settings: GenSettings, sample: int, comp: Completion) -> dict[str, Any]:
    if backend.model_free:
        meta = comp.meta
        return {
            "backend": backend.name,
            "parent": meta.get("parent"),
            "mutation": meta.get("mutation"),
            "detail": meta.get("detail"),
            "sample": sample,
            "seed": meta.get("seed"),
        }
    p = settings.params
    return {
        "backend": backend.name,
        "model": backend.model,
        "sample": sample,
        "tokens": comp.tokens,
        "finish_reason": comp.finish_reason,
        "prompt_template": settings.template_name,
        "thinking": settings.enable_thinking and not settings.raw_prompt,
        "temperature": p.temperature,
        "top_p": p.top_p,
        "top_k": p.top_k,
        "max_tokens": p.max_tokens,
        "seed": p.seed,
    }


def _request(key: int, rec: dict[str, Any], settings: GenSettings) -> GenRequest:
    prompt = render(settings.template, rec)
    if settings.raw_prompt:
        return GenRequest(key=key, params=settings.params, prompt=prompt)
    return GenRequest(
        key=key,
        params=settings.params,
        messages=[{"role": "user", "content": prompt}],
        enable_thinking=settings.enable_thinking,
    )


def _attach(
    rec: dict[str, Any], comps: list[Completion], backend: Backend, settings: GenSettings, stats: GenStats
) -> tuple[int, int]:
    """Append a record's new candidates (code extracted, empty ones dropped); returns (tokens, kept)."""
    model_free = backend.model_free
    if model_free and not comps and not references(rec):
        stats.no_reference += 1
    tokens = 0
    new: list[tuple[int, str, Completion]] = []
    for sample, comp in enumerate(comps):
        stats.completions += 1
        stats.tokens += comp.tokens
        tokens += comp.tokens
        stats.truncated += comp.finish_reason == "length"
        code = comp.meta.get("code") if model_free else extract_code(comp.text)
        if not code or not code.strip():
            stats.dropped_empty += 1
            continue
        new.append((sample, code, comp))
    existing = candidates_of(rec)
    added = []
    for cid, (sample, code, comp) in zip(_next_ids(existing, len(new)), new):
        cand: dict[str, Any] = {"id": cid, "code": code, "origin": _origin(backend, settings, sample, comp)}
        if settings.keep_raw and not model_free:
            cand["raw"] = comp.text
        added.append(cand)
    rec["candidates"] = [*existing, *added]
    stats.kept += len(added)
    stats.problems += 1
    return tokens, len(added)


def generate_candidates(
    records: Iterable[dict[str, Any]],
    backend: Backend,
    settings: GenSettings,
    stats: GenStats | None = None,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield each record with its new candidates appended, as soon as its samples are done (input order with
    settings.ordered); `on_batch(problems, tokens, kept)` after each record (each batch for model-free ones)."""
    stats = stats if stats is not None else GenStats()
    if backend.model_free:
        # mutate: no model, no tail to wait for; it works on whole records
        for batch in _batches(records, max(1, settings.batch_size)):
            outputs = backend.for_records(batch, settings.params)
            tokens = kept = 0
            for rec, comps in zip(batch, outputs):
                t, k = _attach(rec, comps, backend, settings, stats)
                tokens, kept = tokens + t, kept + k
                yield rec
            if on_batch is not None:
                on_batch(len(batch), tokens, kept)
        return
    started: dict[int, dict[str, Any]] = {}  # records being generated, by input position
    order: Reorder[dict[str, Any]] = Reorder(settings.ordered, settings.reorder_window)

    def feed() -> Iterator[GenRequest | None]:
        source = iter(records)
        for key in itertools.count():
            # ordered: hold before reading the next record while the reorder buffer is full, so the window also
            # bounds what is in memory
            while not order.room(key):
                yield HOLD
            rec = next(source, None)
            if rec is None:
                return
            started[key] = rec
            yield _request(key, rec, settings)

    for req, comps in stream(backend, feed(), batch=settings.batch_size):
        rec = started.pop(req.key)
        tokens, kept = _attach(rec, comps, backend, settings, stats)
        if on_batch is not None:
            on_batch(1, tokens, kept)
        yield from order.done(req.key, rec)
