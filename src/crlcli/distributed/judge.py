"""`crl judge --ray-address`: one sandbox pool per node of a Ray cluster, candidates streamed to them in bounded
batches, judgments back in input order.

Each pool is a Ray actor (`PoolActor`) that owns its node's cores (`num_cpus`) and wraps the local
`crlcli.sandbox.SandboxPool`, so a candidate is judged exactly as by the local `crl judge`: same runner, same
limits, same comparators in the actor's trusted process. The driver (this process) runs the local judge's
ordered window (crlcli.judging.judge_window: the same checks, order and bound) with a runner of its own that
cuts candidates into batches of at most `batch_size` and keeps a few batches in flight per pool (the least
loaded pool per core gets the next one); a record is written, in input order, once its last candidate is back. Faults are Ray's business: an actor that dies is restarted (`max_restarts`) and its calls are retried
(`max_task_retries`; judging a candidate twice is harmless); a pool that is gone for good has its batches
re-queued on the others.

    with RayJudge("auto", limits=Limits(timeout=4)) as rj:   # or address=None: a local Ray instance
        for message in rj.warnings: ...                      # nodes that judge without isolation
        for record in rj.judge_records(records): ...         # threshold: judging.LABEL_THRESHOLD
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any

from ..errors import CrlError
from ..judging import LABEL_THRESHOLD, NO_ISOLATION_WARNING, JudgeStats, judge_window
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

        return {
            "node_id": ray.get_runtime_context().get_node_id(),
            "host": socket.gethostname(),
            "ip": ray.util.get_node_ip_address(),
            "pid": os.getpid(),
            "mode": self.pool.mode,
            "detail": self.pool.info.detail,
            "workers": self.pool.workers,
        }

    def judge(self, items: list[tuple[dict, list[str]]]) -> list[list[dict[str, Any]]]:
        """[(tests, [code, ...]), ...] -> the run_tests() dicts, in the same order."""
        futures = [[self.pool.submit(code, tests) for code in codes] for tests, codes in items]
        return [[f.result() for f in fs] for fs in futures]

    def ping(self) -> int:
        return os.getpid()


class RayJudge(ActorGroup):
    """Sandbox pools on a Ray cluster. By default one pool per live node with all of that node's CPUs
    (`workers` > 0: at most that many per node); `pools=N` instead places N pools of `workers` cores each
    wherever Ray finds room (several pools on one machine simulate several nodes)."""

    def __init__(
        self,
        address: str | None = None,
        limits: Limits = Limits(),
        mode: str = "auto",
        require_isolation: bool = False,
        workers: int = 0,
        pools: int | None = None,
        batch_size: int = 16,
        depth: int = 3,
        max_restarts: int = 3,
        python: str | None = None,
    ):
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
            raise CrlError(
                "the Ray cluster has no node with a CPU to judge on",
                hint="check `ray status`; every node needs num_cpus >= 1",
            )
        self.actors = [
            remote.options(num_cpus=w, **common, **extra).remote(w, limits, mode, python) for w, extra in specs
        ]
        self.workers = [w for w, _ in specs]
        self.alive = [True] * len(self.actors)
        try:
            self.nodes = ray.get([a.describe.remote() for a in self.actors], timeout=PLACEMENT_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise CrlError(
                f"the judge pools could not be placed within {PLACEMENT_TIMEOUT:.0f} s "
                f"({len(specs)} pool(s) of {self.workers} CPU(s))",
                hint="the nodes' CPUs are taken by other Ray work; see `ray status`",
            ) from None
        except ray.exceptions.RayError as exc:
            self.close()
            raise CrlError(
                f"a judge pool failed to start on the cluster: {exc}",
                hint="every node needs crl installed (the same version) and bubblewrap",
            ) from None
        self.warnings = self._check_isolation(require_isolation)

    def _check_isolation(self, require: bool) -> list[str]:
        weak: dict[str, str] = {}
        for d in self.nodes:
            if d["mode"] != "bwrap":
                weak.setdefault(f"{d['host']} ({d['ip']}, node {d['node_id'][:12]})", d["detail"])
        if weak and require:
            self.close()
            names = "; ".join(f"{node}: {detail}" for node, detail in weak.items())
            raise CrlError(
                f"isolation required but unavailable on {len(weak)} node(s): {names}",
                hint="install bubblewrap on those nodes (apt-get install bubblewrap) or drop --require-isolation",
            )
        return [f"node {node} judges with limits only, no isolation: {detail}" for node, detail in weak.items()]

    @property
    def total_workers(self) -> int:
        return sum(w for w, ok in zip(self.workers, self.alive) if ok)

    def describe(self) -> list[tuple[str, str]]:
        lines = [
            (
                "info",
                f"ray: {len(self.nodes)} sandbox pool(s), {self.total_workers} worker(s): "
                + ", ".join(f"{d['host']} {d['ip']} ({d['workers']} x {d['mode']})" for d in self.nodes),
            )
        ]
        lines += [("warning", message) for message in self.warnings]
        if self.warnings:
            lines.append(("warning", NO_ISOLATION_WARNING))
        return lines

    def judge_records(
        self,
        records: Iterable[dict[str, Any]],
        threshold: float = LABEL_THRESHOLD,
        reject: Callable[[dict[str, Any], str], None] | None = None,
        on_candidate: Callable[[int], None] | None = None,
        stats: JudgeStats | None = None,
    ) -> Iterator[dict[str, Any]]:
        """crlcli.judging.judge_records over the cluster: the same window, records, judgments, rejections and
        stats; only the runner differs."""
        return judge_window(records, _RayRunner(self), self.limits, threshold, reject, on_candidate, stats)


class _RayRunner:
    """The pools of a RayJudge behind the ordered window (judging.judge_window), for one judge_records call.

    Candidates are cut into batches of at most `batch_size` (across records), each batch goes to the least
    loaded pool per core that has fewer than `depth` batches queued, and the futures of its candidates are
    filled here, in the driver's thread, as ray.wait hands the batches back. Nothing runs in the background:
    progress happens in submit() (a full batch with no free pool waits for one) and in wait()."""

    def __init__(self, judge: RayJudge):
        self.judge, self.ray = judge, judge._ray
        self.batch: list[tuple[Any, list[Future], list[str]]] = []  # (tests, futures, codes), not yet sent
        self.pending: dict[Any, tuple[int, list]] = {}  # ray ref -> (pool index, its items)
        self.load = [0] * len(judge.actors)  # batches queued per pool
        self.requeue: list[list] = []  # batches of pools that failed, to send again
        self.limit = (judge.depth + 1) * judge.batch_size * len(judge.actors) + judge.batch_size

    def submit(self, tests: Any, codes: list[str]) -> list[Future]:
        futures: list[Future] = [Future() for _ in codes]
        size = self.judge.batch_size
        for start in range(0, len(codes), size):
            self.batch.append((tests, futures[start : start + size], codes[start : start + size]))
            if sum(len(c) for _, _, c in self.batch) >= size:
                self.flush()
        self._resend()
        return futures

    def flush(self) -> None:
        if self.batch:
            items, self.batch = self.batch, []
            self._dispatch(items)

    def wait(self, futures: list[Future]) -> None:
        # One step, whatever `futures` are: the head record's candidates may sit in any batch.
        if self.batch:
            self.flush()
        elif self.requeue:
            self._dispatch(self.requeue.pop())
        elif self.pending:
            self._collect()
        else:
            raise CrlError("internal error: judged records are missing results")  # pragma: no cover
        self._resend()

    def abandon(self) -> None:
        for ref in self.pending:  # a stopped run (error, interrupt) leaves nothing queued on the pools
            try:
                self.ray.cancel(ref, force=False)
            except Exception:  # noqa: BLE001 - finished or gone already
                pass

    def _resend(self) -> None:
        while self.requeue:
            self._dispatch(self.requeue.pop())

    def _dispatch(self, items: list) -> None:
        judge = self.judge
        while True:
            live = [i for i, ok in enumerate(judge.alive) if ok]
            if not live:
                raise CrlError(
                    "every judge pool on the cluster is gone",
                    hint="see the Ray logs of the pools (`ray logs`); rerun with --resume",
                )
            free = [i for i in live if self.load[i] < judge.depth]
            if free:
                break
            self._collect()
        i = min(free, key=lambda k: self.load[k] / judge.workers[k])
        ref = judge.actors[i].judge.remote([(tests, codes) for tests, _, codes in items])
        self.pending[ref] = (i, items)
        self.load[i] += 1

    def _collect(self) -> None:
        ray = self.ray
        ready, _ = ray.wait(list(self.pending), num_returns=1)
        for ref in ready:
            i, items = self.pending.pop(ref)
            self.load[i] -= 1
            try:
                out = ray.get(ref)
            except ray.exceptions.ActorDiedError:
                self.judge.alive[i] = False  # restarts used up, or its node is gone: the others take its work
                self.requeue.append(items)
                continue
            except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                self.requeue.append(items)
                continue
            except ray.exceptions.RayTaskError as exc:
                raise CrlError(f"a judge pool failed: {exc}") from None
            for (_, futures, _), results in zip(items, out):
                for fut, result in zip(futures, results):
                    fut.set_result(result)
