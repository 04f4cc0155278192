"""One shared queue for N generation engines (issue 27): no call waits for the slowest engine.

The driver (`dispatch`) is the queue: it keeps each live engine's window full (as many sequences submitted as the
engine can keep busy), pulling requests from one iterator, and returns each request's completions as soon as any
engine finishes it. An engine that finishes early simply gets more; nothing is split in advance.

Each engine actor runs its backend's own stream (generation/stream.py) in a background thread (`StreamWorker`),
fed through `feed()` and drained through `poll()`. Faults: every poll answers with the actor's incarnation (a
random id made when it starts), so when Ray restarts an engine (which loses its state) everything it was given
goes back to the queue; an engine gone for good is dropped and its in-flight requests re-queued on the others. A
request that ends up done twice is returned once. (A threaded actor may run a poll before a feed sent earlier, so
what an engine holds is not compared with what it was sent.)
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import CrlError
from ..generation.stream import HOLD, GenRequest, stream
from ..log import logger

POLL_S = 0.5  # how long an engine's poll waits for a first result before answering with none


class StreamWorker:
    """Actor side: the backend's stream in a thread, fed from a queue (it waits there when it holds nothing)."""

    def __init__(self, backend: Any):
        self.backend = backend
        self.incarnation = uuid.uuid4().hex
        self.inbox: queue.Queue = queue.Queue()
        self.outbox: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.done = 0  # results the backend returned
        self.thread: threading.Thread | None = None

    def capacity(self) -> int:
        """Sequences worth keeping submitted to this engine: what it runs at once and a quarter more waiting (a
        longer queue on one engine would be work another engine could have taken at the end)."""
        seqs = getattr(self.backend, "max_num_seqs", None)
        if isinstance(seqs, int) and seqs > 0:
            return seqs + max(1, seqs // 4)
        for attr in ("window", "concurrency"):
            value = getattr(self.backend, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        return 4 * int(getattr(self.backend, "batch_size", 16) or 16)

    def feed(self, requests: list[GenRequest]) -> None:
        for r in requests:
            self.inbox.put(r)
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="crl-stream", daemon=True)
            self.thread.start()

    def _requests(self) -> Iterator[GenRequest | None]:
        given = 0
        while True:
            # nothing in the backend: wait for work here; else hold, so the backend goes on with what it has
            try:
                item = self.inbox.get(block=given == self.done)
            except queue.Empty:
                yield HOLD
                continue
            given += 1
            yield item

    def _run(self) -> None:
        try:
            for req, comps in stream(self.backend, self._requests()):
                self.done += 1
                self.outbox.put((req.key, comps))
        except BaseException as exc:  # noqa: BLE001 - handed to the driver by the next poll
            self.error = exc
            self.outbox.put(None)

    def poll(self, timeout: float = POLL_S) -> tuple[list[tuple[int, Any]], str]:
        """(finished (id, completions) pairs, this incarnation); waits up to `timeout` for a first result."""
        out: list[tuple[int, Any]] = []
        try:
            item = self.outbox.get(timeout=timeout)
            while True:
                if item is None:
                    raise self.error or CrlError("the engine's stream stopped")
                out.append(item)
                item = self.outbox.get_nowait()
        except queue.Empty:
            pass
        return out, self.incarnation


@dataclass
class _Engine:
    actor: Any
    capacity: int
    inflight: dict[int, GenRequest] = field(default_factory=dict)  # id -> request (ours, with the caller's key)
    poll: Any = None  # the outstanding poll's ref
    incarnation: str | None = None  # the actor's, as its last poll said
    busy_since: float | None = None
    busy_s: float = 0.0
    sequences: int = 0
    requests: int = 0
    tokens: int = 0
    alive: bool = True

    @property
    def load(self) -> int:
        return sum(r.params.n for r in self.inflight.values())


def dispatch(
    ray: Any,
    actors: list[Any],
    alive: list[bool],
    requests: Iterator[GenRequest | None],
    stats: dict[str, Any] | None = None,
) -> Iterator[tuple[GenRequest, list[Any]]]:
    """Keep every live engine's window full from one queue; yield (request, completions) as they finish.
    `alive` is updated in place (an engine gone for good is marked False); `stats` gets per-engine figures."""
    engines: dict[int, _Engine] = {}
    for i, actor in enumerate(actors):
        if alive[i]:
            try:
                engines[i] = _Engine(actor, ray.get(actor.stream_capacity.remote()))
            except ray.exceptions.ActorDiedError:  # gone since the last call
                alive[i] = False
    retry: deque[tuple[int, GenRequest]] = deque()
    outstanding: dict[int, GenRequest] = {}  # every id handed out and not yet returned
    next_id = 0
    requeued: list[Any] = []  # the caller's keys of requests that went back to the queue
    exhausted = held = False
    t0 = time.monotonic()

    def take() -> tuple[int, GenRequest] | None:
        nonlocal next_id, exhausted, held
        if retry:
            return retry.popleft()
        if exhausted or held:
            return None
        try:
            item = next(requests)
        except StopIteration:
            exhausted = True
            return None
        if item is HOLD:
            held = True
            return None
        rid, next_id = next_id, next_id + 1
        outstanding[rid] = item
        return rid, item

    def requeue(e: _Engine, ids: list[int]) -> None:
        for rid in ids:
            req = e.inflight.pop(rid, None)
            if req is not None and rid in outstanding:
                retry.appendleft((rid, req))
                requeued.append(req.key)

    try:
        while True:
            held = False
            now = time.monotonic()
            # one request at a time to the engine with the most room (relative to its window), so a workload
            # smaller than one window still spreads over every engine
            batches: dict[int, list[GenRequest]] = {}
            while True:
                room = [(e.load / e.capacity, i) for i, e in engines.items() if e.alive and e.load < e.capacity]
                got = take() if room else None
                if got is None:
                    break
                i = min(room)[1]
                rid, req = got
                engines[i].inflight[rid] = req
                batches.setdefault(i, []).append(replace(req, key=rid, meta={}))
            for i, e in engines.items():
                if i in batches:
                    e.actor.stream_feed.remote(batches[i])
                    if e.busy_since is None:
                        e.busy_since = now
                if e.alive and e.inflight and e.poll is None:
                    e.poll = e.actor.stream_poll.remote(POLL_S)
            polls = {e.poll: i for i, e in engines.items() if e.poll is not None}
            if not polls:
                if not any(e.alive for e in engines.values()):
                    raise CrlError(
                        "every generation engine on the cluster is gone",
                        hint="see the engines' Ray logs (`ray logs`); rerun with -o FILE --resume",
                    )
                if exhausted and not retry:
                    return
                raise CrlError("internal: the request stream held with nothing in flight")
            ready, _ = ray.wait(list(polls), num_returns=1)
            for ref in ready:
                i = polls[ref]
                e = engines[i]
                e.poll = None
                try:
                    results, incarnation = ray.get(ref)
                except ray.exceptions.ActorDiedError:
                    logger.warning(f"ray: generation engine {i} is gone; {len(e.inflight)} request(s) re-queued")
                    e.alive = alive[i] = False
                    requeue(e, list(e.inflight))
                    _idle(e)
                    continue
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                    # restarting: what it held is lost; the restarted actor gets them again
                    requeue(e, list(e.inflight))
                    e.incarnation = None
                    _idle(e)
                    time.sleep(POLL_S)
                    continue
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, CrlError):
                        raise cause from None
                    raise CrlError(f"a generation engine failed: {exc}") from None
                if e.incarnation not in (None, incarnation):  # restarted by Ray without an error seen here
                    lost = [rid for rid in e.inflight if rid not in {r for r, _ in results}]
                    logger.warning(f"ray: generation engine {i} was restarted; {len(lost)} request(s) re-queued")
                    requeue(e, lost)
                e.incarnation = incarnation
                for rid, comps in results:
                    e.inflight.pop(rid, None)
                    if rid in outstanding:  # else: done by another engine already
                        req = outstanding.pop(rid)
                        e.requests += 1
                        e.sequences += req.params.n
                        e.tokens += sum(c.tokens for c in comps)
                        yield req, comps
                if not e.inflight:
                    _idle(e)
    finally:
        if stats is not None:
            wall = time.monotonic() - t0
            for e in engines.values():
                _idle(e)
            stats.update(
                wall_s=wall,
                requeued=requeued,
                engines=[
                    {
                        "busy_s": e.busy_s,
                        "requests": e.requests,
                        "sequences": e.sequences,
                        "tokens": e.tokens,
                        "alive": e.alive,
                    }
                    for e in engines.values()
                ],
            )


def _idle(e: _Engine) -> None:
    if e.busy_since is not None:
        e.busy_s += time.monotonic() - e.busy_since
        e.busy_since = None
