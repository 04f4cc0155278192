"""Streaming generation: requests flow into a backend as its slots free up, results flow out as they complete.

A batch API (`Backend.chat` / `complete`) waits for the slowest sample of each call, and reasoning models have
long-tailed output lengths: the engine ends every batch decoding a few stragglers with its other slots empty
(issue 27). Here a backend instead *pulls* requests from an iterator whenever it has room, and yields each
request's completions the moment all of its samples are done:

    for req, comps in stream(backend, requests):   # requests: an iterator of GenRequest (or HOLD)
        ...

The iterator is read lazily, so memory holds only the window the backend keeps in flight. It may yield `HOLD`
("nothing to add now, ask again after the next result"): a producer that must not run ahead (an ordered writer
whose reorder buffer is full, budget forcing waiting for a round to finish) holds instead of ending. A producer
may only hold while at least one of its requests is in flight, or the stream would wait forever.

Results come back in completion order; `Reorder` puts them back in start order for the commands' `--ordered`
(gen-candidates, eval, both tts methods), with a bounded buffer.

Backends with a `stream(requests)` method (vllm, openai, Ray engines) keep their engine full; any other backend
(hf, mutate, a user's) goes through `batched`, which cuts the requests into calls of `batch` requests as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from .base import Backend, Completion, SamplingParams

HOLD: Final = None  # what a request iterator yields to say "nothing now" (see the module docstring)


@dataclass
class GenRequest:
    """One prompt with its own sampling settings; `key` is the caller's (returned with the result)."""

    key: Any
    params: SamplingParams
    prompt: str | None = None  # raw text (complete) ...
    messages: list[dict] | None = None  # ... or a chat conversation
    enable_thinking: bool = True
    meta: dict[str, Any] = field(default_factory=dict)  # the caller's, untouched

    @property
    def sequences(self) -> int:
        return self.params.n


Result = tuple[GenRequest, list[Completion]]


def stream(backend: Any, requests: Iterable[GenRequest | None], batch: int = 16) -> Iterator[Result]:
    """(request, completions) pairs in completion order. `batch`: requests per call for batch-only backends."""
    own = getattr(backend, "stream", None)
    if callable(own):
        return own(iter(requests))
    return batched(backend, iter(requests), batch)


class BatchOnly(Backend):
    """A backend without its `stream`: `stream()` falls back to batches, each waiting for its slowest sample (what
    hf and mutate get, and what every backend got before streaming). For measuring the difference (bench/gen_bench.py)
    and for checking that both paths write the same records."""

    def __init__(self, backend: Any):
        self._b = backend
        self.name, self.model, self.tokenizer = backend.name, backend.model, backend.tokenizer

    def chat(self, *a: Any, **k: Any) -> Any:
        return self._b.chat(*a, **k)

    def complete(self, *a: Any, **k: Any) -> Any:
        return self._b.complete(*a, **k)


def prompts_of(backend: Any, reqs: list[GenRequest]) -> list[str]:
    """Raw prompt strings of requests, chat-templated with the backend's tokenizer where they are chats."""
    from .base import apply_chat_template

    out: list[str] = []
    for r in reqs:
        if r.prompt is not None:
            out.append(r.prompt)
        else:
            out.extend(apply_chat_template(backend.tokenizer, [r.messages or []], r.enable_thinking))
    return out


def call_group(backend: Any, reqs: list[GenRequest]) -> list[list[Completion]]:
    """One batch call for requests that share params and kind (chat with one thinking switch, or raw)."""
    first = reqs[0]
    if first.prompt is not None:
        return backend.complete([r.prompt for r in reqs], first.params)
    return backend.chat([r.messages for r in reqs], first.params, enable_thinking=first.enable_thinking)


def _group_key(r: GenRequest) -> tuple:
    p = r.params  # its stop list makes it unhashable
    return (
        r.prompt is None,
        r.enable_thinking if r.prompt is None else None,
        (p.n, p.temperature, p.top_p, p.top_k, p.max_tokens, p.seed, tuple(p.stop or ())),
    )


def batched(backend: Any, requests: Iterator[GenRequest | None], batch: int) -> Iterator[Result]:
    """The barrier path for batch-only backends: up to `batch` requests per call (fewer at a HOLD), grouped by
    sampling settings, results in request order within each call."""
    done = False
    while not done:
        taken: list[GenRequest] = []
        while len(taken) < max(1, batch):
            try:
                item = next(requests)
            except StopIteration:
                done = True
                break
            if item is HOLD:
                break
            taken.append(item)
        if not taken:
            if done:
                return
            raise RuntimeError("the request iterator held with nothing in flight")
        groups: dict[tuple, list[GenRequest]] = {}
        for r in taken:
            groups.setdefault(_group_key(r), []).append(r)
        results: dict[int, list[Completion]] = {}
        for group in groups.values():
            for r, comps in zip(group, call_group(backend, group)):
                results[id(r)] = comps
        for r in taken:
            yield r, results[id(r)]


class Window:
    """Pull requests from an iterator while a budget of sequences in flight allows; the bookkeeping every
    streaming backend shares. `budget`: sequences (a request of n samples counts n) to keep submitted."""

    def __init__(self, requests: Iterator[GenRequest | None], budget: int):
        self.requests = requests
        self.budget = max(1, budget)
        self.in_flight = 0  # sequences submitted and not yet returned
        self.exhausted = False

    def pull(self, submit: Callable[[GenRequest], None], room: int | None = None) -> int:
        """Submit requests until the budget (or `room` sequences) is used, the iterator holds, or it ends.
        A request larger than the whole budget still goes in when nothing else is in flight."""
        added = 0
        limit = self.budget if room is None else min(self.budget, room)
        while not self.exhausted and (added < limit) and (self.in_flight < self.budget or self.in_flight == 0):
            try:
                item = next(self.requests)
            except StopIteration:
                self.exhausted = True
                break
            if item is HOLD:
                break
            submit(item)
            self.in_flight += item.sequences
            added += item.sequences
        return added

    def returned(self, req: GenRequest) -> None:
        self.in_flight -= req.sequences

    @property
    def finished(self) -> bool:
        return self.exhausted and self.in_flight == 0


T = TypeVar("T")


class Reorder(Generic[T]):
    """A bounded reorder buffer: units (a problem, a task) are numbered 0, 1, ... as they start and `done(key, item)`
    returns the items now due, in start order (at once, unordered). A producer starts unit `key` only while
    `room(key)`: past `window` units started and not yet released it holds, so memory stays bounded; the oldest
    unit is then unfinished, i.e. still in flight, so the hold ends (the stream's rule for HOLD)."""

    def __init__(self, ordered: bool, window: int = 1024):
        self.ordered = ordered
        self.window = max(1, window)
        self.next_out = 0  # the oldest unit not yet released
        self.waiting: dict[int, T] = {}

    def room(self, key: int) -> bool:
        return not self.ordered or key - self.next_out < self.window

    def done(self, key: int, item: T) -> list[T]:
        if not self.ordered:
            return [item]
        self.waiting[key] = item
        out: list[T] = []
        while self.next_out in self.waiting:
            out.append(self.waiting.pop(self.next_out))
            self.next_out += 1
        return out
