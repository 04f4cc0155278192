"""`crl eval` generation on a streaming backend (vllm, openai, Ray engines; issue 27).

Every task's missing samples go into the backend's stream at once (it pulls them as its slots free up, so memory
holds its window, not the benchmark); each task's samples are scored as soon as they are back, on one scoring
thread, so generation never waits for scoring nor for a batch's slowest task. Scored samples are appended to
samples.jsonl as they complete (any order), or with `ordered` in the order of `todo` (task order, then sample
index: what the batch path writes) through a reorder buffer of at most `reorder_window` tasks; a rerun generates
only the (task, sample) pairs still missing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from .base import Benchmark, Task
from .scoring import score_many


def streams(backend: Any, bench: Benchmark) -> bool:
    """Does this run take the streaming path? (multi-turn benchmarks generate and score in their own rounds)"""
    return not bench.multi_turn and callable(getattr(backend, "stream", None))


def stream_generate_and_score(
    bench: Benchmark,
    by_id: dict[str, Task],
    todo: list[tuple[Task, int]],
    have: dict[str, int],
    backend: Any,
    params: Any,
    thinking: bool,
    pool: Any,
    threads: int,
    write: Callable[[dict[str, Any]], None],
    watch: Any,
    chunk_tasks: int = 16,
    progress: Callable[[int], None] | None = None,
    ordered: bool = False,
    reorder_window: int = 1024,
) -> None:
    """Generate `todo` (task, samples missing) through the backend's stream, score in chunks of `chunk_tasks`
    finished tasks, `write` each scored sample. At most two chunks wait for scoring (bounded memory)."""
    from ..generation.stream import HOLD, GenRequest, Reorder, stream

    order: Reorder[list[dict[str, Any]]] = Reorder(ordered, reorder_window)

    def requests() -> Iterator[GenRequest | None]:
        for i, (task, missing) in enumerate(todo):
            while not order.room(i):  # ordered: the oldest unwritten task is still in flight
                yield HOLD
            yield GenRequest(key=i, params=replace(params, n=missing), messages=task.messages, enable_thinking=thinking)

    def done(s: dict[str, Any]) -> None:
        write(s)
        if progress:
            progress(1)

    waiting: deque[Future] = deque()
    chunk: list[dict[str, Any]] = []
    tasks_in_chunk = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crl-score") as scorer:

        def flush() -> None:
            nonlocal chunk, tasks_in_chunk
            if chunk:
                waiting.append(scorer.submit(score_many, bench, by_id, chunk, pool, threads, done))
            chunk, tasks_in_chunk = [], 0
            while len(waiting) > 2 or (waiting and waiting[0].done()):
                waiting.popleft().result()  # raises what scoring raised

        with watch("generation"):
            for req, comps in stream(backend, requests()):
                tid = todo[req.key][0].task_id
                got = [
                    {
                        "task_id": tid,
                        "sample": have[tid] + j,
                        "prompt": by_id[tid].messages,
                        "completion": comp.text,
                        "tokens": comp.tokens,
                        "finish_reason": comp.finish_reason,
                    }
                    for j, comp in enumerate(comps)
                ]
                # score_many writes a chunk in its own order and chunks are scored one after another, so tasks
                # released in order here reach samples.jsonl in order
                for samples in order.done(req.key, got):
                    chunk.extend(samples)
                    tasks_in_chunk += 1
                    if tasks_in_chunk >= chunk_tasks:
                        flush()
        flush()
        with watch("scoring"):
            while waiting:
                waiting.popleft().result()
