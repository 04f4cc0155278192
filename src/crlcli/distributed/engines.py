"""N data-parallel generation engines as Ray actors, behind the one generation Protocol.

`RayEngines` is a Backend (crlcli.generation.base). Its `stream()` (what gen-candidates, eval and tts use) is one
shared queue for all engines (distributed/queue.py): each engine's window is kept full, results come back as
each request finishes on whichever engine ran it, and a dead engine's in-flight requests go back to the queue.
The batch calls `chat()` and `complete()` cut each call's prompts into N contiguous shards, one per engine
actor, and put the answers back in input order.

Each engine is a Ray actor (`EngineActor`) holding one backend (vllm: one `vllm.LLM`, `tensor_parallel_size`
GPUs). On a GPU cluster an engine asks Ray for `num_gpus = tensor_parallel_size`; on CPU-only clusters for
`num_cpus` (or any logical `resources` given). Faults are Ray's: an engine that dies is restarted
(`max_restarts`) and its call retried (`max_task_retries`); an engine gone for good has its shard re-queued on
the others. vLLM draws the samples of a request from the request's own seed (`--seed`), so the same seeds give
the same samples whichever engine runs the request, where vLLM's batching allows it.

    with RayEngines("vllm", dict(model="Qwen/Qwen3-8B", tensor_parallel_size=2), engines=4, address="auto") as b:
        outs = b.chat(conversations, SamplingParams(n=8))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import CrlError
from ..generation.base import Backend, Completion, SamplingParams
from ..log import logger
from . import ActorGroup, quiet_stdout

if TYPE_CHECKING:
    from .queue import StreamWorker

START_TIMEOUT = 1800.0  # seconds for every engine to load its model (large models on cold disks are slow)


def open_backend(name: str, model: str | None = None, options: dict[str, Any] | None = None) -> Backend:
    """The one way a command (or a tts run, from its recorded options) gets its backend: `engines` N > 1 or a
    `ray_address` among the options (--engines/--ray-address, or -O engines=N) spread it over N Ray engines
    (docs/cluster.md); otherwise it is built here, in this process. The wrapping is the caller's: the generation
    layer knows nothing of Ray."""
    from ..generation import get_backend

    options = {k: v for k, v in (options or {}).items() if v is not None}
    engines, address = options.pop("engines", None), options.pop("ray_address", None)
    if address or (engines is not None and int(engines) != 1):
        return RayEngines(
            name,
            {"model": model, **options} if model is not None else options,
            engines=int(engines or 1),
            address=address,
        )
    return get_backend(name, model=model, **options)


class EngineActor:
    """One generation backend in a Ray actor."""

    def __init__(self, backend: str, options: dict[str, Any]):
        quiet_stdout()
        from ..generation import get_backend

        self.backend = get_backend(backend, **options)
        self.worker: StreamWorker | None = None  # the streaming side (distributed/queue.py), started on first use

    def _stream(self) -> Any:
        if self.worker is None:
            from .queue import StreamWorker

            self.worker = StreamWorker(self.backend)
        return self.worker

    def stream_capacity(self) -> int:
        return self._stream().capacity()

    def stream_feed(self, requests: list) -> None:
        self._stream().feed(requests)

    def stream_poll(self, timeout: float) -> tuple[list, list]:
        return self._stream().poll(timeout)

    def describe(self) -> dict[str, Any]:
        import ray

        ctx = ray.get_runtime_context()
        return {
            "node_id": ctx.get_node_id(),
            "pid": os.getpid(),
            "ip": ray.util.get_node_ip_address(),
            "gpus": [str(g) for g in ray.get_gpu_ids()],
            "model": self.backend.model,
        }

    def chat(self, conversations: list, params: SamplingParams, enable_thinking: bool) -> list[list[Completion]]:
        return self.backend.chat(conversations, params, enable_thinking=enable_thinking)

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        return self.backend.complete(prompts, params)

    def tokenizer(self) -> Any:
        return getattr(self.backend, "tokenizer", None)


class RayEngines(ActorGroup, Backend):
    """`engines` copies of generation backend `backend` (built with `options`) on a Ray cluster."""

    def __init__(
        self,
        backend: str,
        options: dict[str, Any],
        engines: int = 2,
        address: str | None = None,
        num_gpus: float | None = None,
        num_cpus: float | None = None,
        resources: dict[str, float] | None = None,
        max_restarts: int = 1,
        env: dict[str, str] | None = None,
    ):
        if engines < 1:
            raise CrlError(f"--engines must be at least 1, got {engines}")
        ray = self._connect(address)
        self.name = backend
        self.model = options.get("model")
        self._tokenizer: Any = None
        tp = int(options.get("tensor_parallel_size") or 1)
        if backend == "vllm" and tp > 1:
            # The actor already holds its tp GPUs: vLLM's own Ray executor would ask Ray for them again and wait
            # forever; its multiprocessing executor uses the GPUs the actor was given.
            options = {"distributed_executor_backend": "mp", **options}
        if num_gpus is None and not resources and num_cpus is None:
            # A GPU cluster: each engine gets its tensor-parallel GPUs; CPU-only: one CPU each.
            has_gpus = ray.cluster_resources().get("GPU", 0) > 0
            num_gpus, num_cpus = (tp, 1) if has_gpus else (0, 1)
        # vLLM's own settings (VLLM_CPU_KVCACHE_SPACE, VLLM_*): the engines see the driver's.
        env_vars = {k: v for k, v in os.environ.items() if k.startswith(("VLLM_", "HF_", "TRANSFORMERS_"))}
        env_vars.update(env or {})
        # max_concurrency 2: a feed is not kept waiting behind a poll that waits for results
        opts: dict[str, Any] = dict(
            max_restarts=max_restarts,
            max_task_retries=max_restarts,
            max_concurrency=2,
            num_gpus=num_gpus or 0,
            num_cpus=num_cpus if num_cpus is not None else 1,
            runtime_env={"env_vars": env_vars} if env_vars else None,
        )
        if resources:
            opts["resources"] = dict(resources)
        remote = ray.remote(EngineActor)
        self.actors = [
            remote.options(**{k: v for k, v in opts.items() if v is not None}).remote(backend, options)
            for _ in range(engines)
        ]
        self.alive = [True] * engines
        try:
            self.engines = ray.get([a.describe.remote() for a in self.actors], timeout=START_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise CrlError(
                f"{engines} engine(s) could not start within {START_TIMEOUT:.0f} s",
                hint="each engine needs its resources free on one node; see `ray status`",
            ) from None
        except ray.exceptions.RayError as exc:
            self.close()
            cause = getattr(exc, "cause", None) or exc
            message = getattr(cause, "message", None) or str(cause)
            raise CrlError(
                f"a generation engine failed to start: {message}",
                hint="every node needs crl and the backend installed (the same versions) and the model "
                "at the same path or a hub name",
            ) from None
        nodes = {e["node_id"] for e in self.engines}
        logger.info(
            f"ray: {engines} {backend} engine(s) on {len(nodes)} node(s)"
            + (f", GPUs {[e['gpus'] for e in self.engines]}" if any(e["gpus"] for e in self.engines) else "")
        )

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = self._call(lambda a: a.tokenizer.remote(), [None])[0]
        return self._tokenizer

    def chat(
        self, conversations: list[list[dict]], params: SamplingParams, enable_thinking: bool = True
    ) -> list[list[Completion]]:
        return self._sharded(conversations, lambda a, shard: a.chat.remote(shard, params, enable_thinking))

    def complete(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        return self._sharded(prompts, lambda a, shard: a.complete.remote(shard, params))

    @property
    def window(self) -> int:
        """Sequences all live engines keep busy together (what a producer should keep under way)."""
        live = [a for a, ok in zip(self.actors, self.alive) if ok]
        return sum(self._ray.get([a.stream_capacity.remote() for a in live])) if live else 0

    def stream(self, requests: Any) -> Any:
        """Requests from one shared queue, each engine kept full; results in completion order."""
        from .queue import dispatch

        self.stream_stats: dict[str, Any] = {}
        return dispatch(self._ray, self.actors, self.alive, requests, self.stream_stats)

    def _sharded(self, items: list, call: Callable[[Any, list], Any]) -> list[list[Completion]]:
        """Contiguous shards, one per live engine; a shard whose engine is gone for good goes to another."""
        if not items:
            return []
        live = [i for i, ok in enumerate(self.alive) if ok]
        size = -(-len(items) // max(1, len(live)))
        shards = [(start, items[start : start + size]) for start in range(0, len(items), size)]
        out: list[Any] = [None] * len(items)
        queue = list(shards)
        while queue:
            live = [i for i, ok in enumerate(self.alive) if ok]
            if not live:
                raise CrlError(
                    "every generation engine on the cluster is gone",
                    hint="see the engines' Ray logs (`ray logs`); rerun with -o FILE --resume",
                )
            refs = {}
            for k, (start, shard) in enumerate(queue):
                i = live[k % len(live)]
                refs[call(self.actors[i], shard)] = (i, start, shard)
            queue = []
            for ref, (i, start, shard) in refs.items():
                try:
                    result = self._ray.get(ref)
                except self._ray.exceptions.ActorDiedError:
                    self.alive[i] = False
                    queue.append((start, shard))
                    continue
                except (self._ray.exceptions.RayActorError, self._ray.exceptions.ActorUnavailableError):
                    queue.append((start, shard))
                    continue
                except self._ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)
                    if isinstance(cause, CrlError):
                        raise cause from None
                    raise CrlError(f"a generation engine failed: {exc}") from None
                out[start : start + len(shard)] = result
        return out

    def _call(self, call: Callable[[Any], Any], default: list) -> list:
        for i, ok in enumerate(self.alive):
            if ok:
                return [self._ray.get(call(self.actors[i]))]
        return default
