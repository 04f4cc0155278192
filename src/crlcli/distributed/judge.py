"""`crl judge --ray-address`: one sandbox pool per node of a Ray cluster, candidates streamed to them in bounded
batches, judgments back in input order.

Each pool is a Ray actor (`PoolActor`) that owns its node's cores (`num_cpus`) and wraps the local
`crlcli.sandbox.SandboxPool`, so a candidate is judged exactly as by the local `crl judge`: same runner, same
limits, same comparators in the actor's trusted process. The driver (this process) reads records, checks their
tests, cuts their candidates into batches of at most `batch_size`, keeps a few batches in flight per pool (the
least loaded pool per core gets the next one) and writes records in input order as their last candidate comes
back. Faults are Ray's business: an actor that dies is restarted (`max_restarts`) and its calls are retried
(`max_task_retries`; judging a candidate twice is harmless); a pool that is gone for good has its batches
re-queued on the others.

    with RayJudge("auto", limits=Limits(timeout=4)) as rj:   # or address=None: a local Ray instance
        for message in rj.warnings: ...                      # nodes that judge without isolation
        for record in rj.judge_records(records, threshold=0.8): ...
"""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import CrlError
from ..judging import LABEL_THRESHOLD, JudgeStats, checked_codes
from ..sandbox import Limits
from . import ActorGroup, alive_nodes, quiet_stdout

PLACEMENT_TIMEOUT = 300.0  # seconds to wait for the pools to be placed and their sandboxes probed


class PoolActor:
    """A Ray actor around one SandboxPool (its workers = the cores it was given). Threaded (max_concurrency > 1):
    several batches are queued into the pool at once, so its workers never wait for the next batch."""

    def __init__(self, workers: int, limits: Limits, mode: str = "auto", python: str | None = None):
        quiet_stdout()
        from ..sandbox import SandboxPool

        self.pool = SandboxPool(workers=workers, limits=limits, mode=mode, python=python)

    def describe(self) -> dict[str, Any]:
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "ip": ray.util.get_node_ip_address(), "pid": os.getpid(), "mode": self.pool.mode,
                "detail": self.pool.info.detail, "workers": self.pool.workers}

    def judge(self, items: list[tuple[dict, list[str]]]) -> list[list[dict[str, Any]]]:
        """[(tests, [code, ...]), ...] -> the run_tests() dicts, in the same order."""
        futures = [[self.pool.submit(code, tests) for code in codes] for tests, codes in items]
        return [[f.result() for f in fs] for fs in futures]

    def ping(self) -> int:
        return os.getpid()


@dataclass
class _Entry:
    record: dict[str, Any]
    tests: Any = None
    results: list[Any] = field(default_factory=list)
    missing: int = 0


class RayJudge(ActorGroup):
    """Sandbox pools on a Ray cluster. By default one pool per live node with all of that node's CPUs
    (`workers` > 0: at most that many per node); `pools=N` instead places N pools of `workers` cores each
    wherever Ray finds room (several pools on one machine simulate several nodes)."""

    def __init__(self, address: str | None = None, limits: Limits = Limits(), mode: str = "auto",
                 require_isolation: bool = False, workers: int = 0, pools: int | None = None,
                 batch_size: int = 16, depth: int = 3, max_restarts: int = 3, python: str | None = None):
        if batch_size < 1 or depth < 1:
            raise CrlError("batch size and depth must be at least 1")
        ray = self._connect(address, num_cpus=os.cpu_count() if not address else None)
        self.limits, self.batch_size, self.depth = limits, batch_size, depth
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(PoolActor)
        common = dict(max_restarts=max_restarts, max_task_retries=max_restarts, max_concurrency=depth + 1)
        specs: list[tuple[int, dict[str, Any]]] = []
        if pools:
            specs = [(max(1, workers or 1), {"scheduling_strategy": "SPREAD"}) for _ in range(pools)]
        else:
            for node in alive_nodes(ray):
                cpus = int(node.get("Resources", {}).get("CPU", 0))
                if cpus < 1:
                    continue  # a node without CPUs to offer (e.g. all reserved as custom resources)
                # soft: a restarted pool may go to another node when its own is gone
                strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=True)
                specs.append((min(workers, cpus) if workers else cpus, {"scheduling_strategy": strategy}))
        if not specs:
            raise CrlError("the Ray cluster has no node with a CPU to judge on",
                           hint="check `ray status`; every node needs num_cpus >= 1")
        self.actors = [remote.options(num_cpus=w, **common, **extra).remote(w, limits, mode, python)
                       for w, extra in specs]
        self.workers = [w for w, _ in specs]
        self.alive = [True] * len(self.actors)
        try:
            self.nodes = ray.get([a.describe.remote() for a in self.actors], timeout=PLACEMENT_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise CrlError(f"the judge pools could not be placed within {PLACEMENT_TIMEOUT:.0f} s "
                           f"({len(specs)} pool(s) of {self.workers} CPU(s))",
                           hint="the nodes' CPUs are taken by other Ray work; see `ray status`") from None
        except ray.exceptions.RayError as exc:
            self.close()
            raise CrlError(f"a judge pool failed to start on the cluster: {exc}",
                           hint="every node needs crl installed (the same version) and bubblewrap") from None
        self.warnings = self._check_isolation(require_isolation)

    def _check_isolation(self, require: bool) -> list[str]:
        weak: dict[str, str] = {}
        for d in self.nodes:
            if d["mode"] != "bwrap":
                weak.setdefault(f"{d['host']} ({d['ip']}, node {d['node_id'][:12]})", d["detail"])
        if weak and require:
            self.close()
            names = "; ".join(f"{node}: {detail}" for node, detail in weak.items())
            raise CrlError(f"isolation required but unavailable on {len(weak)} node(s): {names}",
                           hint="install bubblewrap on those nodes (apt-get install bubblewrap) "
                                "or drop --require-isolation")
        return [f"node {node} judges with limits only, no isolation: {detail}" for node, detail in weak.items()]

    @property
    def total_workers(self) -> int:
        return sum(w for w, ok in zip(self.workers, self.alive) if ok)

    def judge_records(
        self,
        records: Iterable[dict[str, Any]],
        threshold: float = LABEL_THRESHOLD,
        reject: Callable[[dict[str, Any], str], None] | None = None,
        on_candidate: Callable[[int], None] | None = None,
        stats: JudgeStats | None = None,
    ) -> Iterator[dict[str, Any]]:
        """crlcli.judging.judge_records over the cluster: the same records, judgments, rejections and stats."""
        ray = self._ray
        stats = stats if stats is not None else JudgeStats()
        window: deque[_Entry] = deque()
        batch: list[tuple[_Entry, int, list[str]]] = []
        pending: dict[Any, tuple[int, list]] = {}
        load = [0] * len(self.actors)
        requeue: list[list] = []
        held = 0
        limit = (self.depth + 1) * self.batch_size * len(self.actors) + self.batch_size

        def dispatch(items: list) -> None:
            while True:
                live = [i for i, ok in enumerate(self.alive) if ok]
                if not live:
                    raise CrlError("every judge pool on the cluster is gone",
                                   hint="see the Ray logs of the pools (`ray logs`); rerun with --resume")
                free = [i for i in live if load[i] < self.depth]
                if free:
                    break
                collect()
            i = min(free, key=lambda k: load[k] / self.workers[k])
            ref = self.actors[i].judge.remote([(e.tests, codes) for e, _, codes in items])
            pending[ref] = (i, items)
            load[i] += 1

        def collect() -> None:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i, items = pending.pop(ref)
                load[i] -= 1
                try:
                    out = ray.get(ref)
                except ray.exceptions.ActorDiedError:
                    self.alive[i] = False  # restarts used up, or its node is gone: the others take its work
                    requeue.append(items)
                    continue
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                    requeue.append(items)
                    continue
                except ray.exceptions.RayTaskError as exc:
                    raise CrlError(f"a judge pool failed: {exc}") from None
                for (entry, start, codes), results in zip(items, out):
                    entry.results[start:start + len(codes)] = results
                    entry.missing -= len(codes)

        def flush() -> None:
            nonlocal batch
            if batch:
                items, batch = batch, []
                dispatch(items)

        def emit() -> Iterator[dict[str, Any]]:
            nonlocal held
            while requeue:
                dispatch(requeue.pop())
            while window and window[0].missing == 0:
                entry = window.popleft()
                for cand, result in zip(entry.record.get("candidates") or [], entry.results):
                    stats.judged(cand, result, threshold)
                    held -= 1
                    if on_candidate is not None:
                        on_candidate(result["total"])
                stats.records += 1
                yield entry.record

        try:
            for record in records:
                cands = record.get("candidates")
                if not cands:
                    stats.no_candidates += 1
                    window.append(_Entry(record))
                    yield from emit()
                    continue
                codes = checked_codes(record, self.limits, stats, reject)  # the local judge's checks
                if codes is None:
                    continue
                entry = _Entry(record, record.get("tests"), [None] * len(codes), len(codes))
                window.append(entry)
                held += len(codes)
                for start in range(0, len(codes), self.batch_size):
                    chunk = codes[start:start + self.batch_size]
                    batch.append((entry, start, chunk))
                    if sum(len(c) for _, _, c in batch) >= self.batch_size:
                        flush()
                while held > limit and (batch or pending or requeue):
                    if requeue or batch:
                        flush() if batch else dispatch(requeue.pop())
                    else:
                        collect()
                    yield from emit()
                yield from emit()
            flush()
            while window:
                if not pending and not requeue:
                    raise CrlError("internal error: judged records are missing results")  # pragma: no cover
                if pending:
                    collect()
                yield from emit()
        finally:
            for ref in pending:  # a stopped run (error, interrupt) leaves nothing queued on the pools
                try:
                    ray.cancel(ref, force=False)
                except Exception:  # noqa: BLE001 - finished or gone already
                    pass
