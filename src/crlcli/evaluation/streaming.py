"""`crl eval` generation on a streaming backend (vllm, openai, Ray engines; issue 27).

Every task's missing samples go into the backend's stream at once (it pulls them as its slots free up, so memory
holds its window, not the benchmark); each task's samples are scored as soon as they are back, on one scoring
thread, so generation never waits for scoring nor for a batch's slowest task. Scored samples are appended to
samples.jsonl as they complete (any order); a rerun generates only the (task, sample) pairs still missing.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable

from .base import Benchmark, Task
from .scoring import score_many


def streams(backend: Any, bench: Benchmark) -> bool:
    """Does this run take the streaming path? (multi-turn benchmarks generate and score in their own rounds)"""
    return not bench.multi_turn and callable(getattr(backend, "stream", None))


def stream_generate_and_score(bench: Benchmark, by_id: dict[str, Task], todo: list[tuple[Task, int]],
                              have: dict[str, int], backend: Any, params: Any, thinking: bool, pool: Any,
                              threads: int, write: Callable[[dict[str, Any]], None], watch: Any,
                              chunk_tasks: int = 16, progress: Callable[[int], None] | None = None) -> None:
    """Generate `todo` (task, samples missing) through the backend's stream, score in chunks of `chunk_tasks`
    finished tasks, `write` each scored sample. At most two chunks wait for scoring (bounded memory)."""
    from ..generation.stream import GenRequest, stream

    requests = (GenRequest(key=task.task_id, params=replace(params, n=missing), messages=task.messages,
                           enable_thinking=thinking) for task, missing in todo)

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
            for req, comps in stream(backend, requests):
                tid = req.key
                for j, comp in enumerate(comps):
                    chunk.append({"task_id": tid, "sample": have[tid] + j, "prompt": by_id[tid].messages,
                                  "completion": comp.text, "tokens": comp.tokens, "finish_reason": comp.finish_reason})
                tasks_in_chunk += 1
                if tasks_in_chunk >= chunk_tasks:
                    flush()
        flush()
        with watch("scoring"):
            while waiting:
                waiting.popleft().result()
