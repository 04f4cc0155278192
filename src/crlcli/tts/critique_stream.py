"""critique-select generation on streaming backends (issue 27): no batch waits for its slowest candidate set.

When the generator and the critic are one backend, a problem's critiques are sent as soon as its candidates are
back, in the same stream as other problems' candidates; with two backends, the candidates stream first, then the
critiques. Every result is appended to generations.jsonl as it completes, in the format `critique.generate`
writes, so a run resumes (and rescores) the same whichever path made it. With `ordered`, a problem's records are
held until it is finished and written problem by problem in input order (its candidates, then its critiques by
candidate), through a reorder buffer of at most `reorder_window` problems; with two backends, each phase so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ..extract import extract_code


def can_stream(backend: Any) -> bool:
    return callable(getattr(backend, "stream", None))


def stream_generate(
    problems: list,
    cfg: Any,
    run: Any,
    generator: Callable[[], Any],
    critic: Callable[[], Any],
    window: int = 16,
    progress: Callable[[int], None] | None = None,
    ordered: bool = False,
    reorder_window: int = 1024,
) -> bool:
    """Fill generations.jsonl with every missing candidate set and critique set by streaming. Returns False (and
    does nothing) when a backend cannot stream: the caller then uses the batch path."""
    from ..generation.stream import HOLD, GenRequest, Reorder, stream
    from ..prompts import load_template
    from .critique_prompts import _outputs, _record_candidates, critique_prompt

    template = load_template(cfg.critique_template, needs=("question", "solution"))
    saved = run.load_generations()
    cands = {g["id"]: g["outputs"] for g in saved if g["kind"] == "candidates"}
    crits = {(g["id"], g["candidate"]) for g in saved if g["kind"] == "critiques"}

    def missing_critiques(p: Any) -> list[tuple[int, str]]:
        return [
            (j, code)
            for j, out in enumerate(cands[p.id][: cfg.k])
            if (code := extract_code(out["text"])) and (p.id, j) not in crits
        ]

    need_cands = [p for p in problems if p.id not in cands]
    if not need_cands and not any(missing_critiques(p) for p in problems):
        if progress:
            progress(len(problems))
        return True  # everything is saved already
    crit = critic()
    gen = generator() if need_cands and not cfg.reuse_candidates else None
    if not can_stream(crit) or (gen is not None and not can_stream(gen)):
        return False
    together = gen is None or gen is crit
    remaining: dict[str, int] = {}  # problem -> critique sets still to come
    ready: deque[GenRequest] = deque()
    state: dict[str, Any] = {"in_flight": 0, "started": 0, "order": Reorder(ordered, reorder_window)}
    position: dict[str, int] = {}  # ordered: each started problem's input position (in this phase)
    held: dict[str, list[dict[str, Any]]] = {}  # ordered: an unfinished problem's new records

    def write(p: Any, rec: dict[str, Any]) -> None:
        if ordered:
            held.setdefault(p.id, []).append(rec)
        else:
            writer.write(rec)

    def finished(p: Any) -> None:
        """p has nothing more to come (in this phase): release its records, and any due after them."""
        for recs in state["order"].done(position.pop(p.id), held.pop(p.id, [])):
            for rec in sorted(recs, key=lambda g: g.get("candidate", -1)):  # candidates first, then by candidate
                writer.write(rec)

    def critiques_of(p: Any) -> None:
        todo = missing_critiques(p)
        remaining[p.id] = len(todo)
        if not todo:
            del remaining[p.id]
            finished(p)
        for j, code in todo:
            ready.append(
                GenRequest(
                    key=("crit", p, j),
                    params=cfg.params(cfg.m, cfg.critique_tokens),
                    messages=critique_prompt(template, p, code),
                    enable_thinking=True,
                )
            )
        if not todo and progress:
            progress(1)

    def cand_request(p: Any) -> GenRequest:
        return GenRequest(
            key=("cand", p, None),
            params=cfg.params(cfg.k, cfg.candidate_tokens),
            messages=p.messages,
            enable_thinking=True,
        )

    def feed(problems_left: Iterator[Any], with_candidates: bool) -> Iterator[GenRequest | None]:
        while True:
            if ready:
                state["in_flight"] += 1
                yield ready.popleft()
            elif (
                len(remaining) < window
                and state["order"].room(state["started"])
                and (p := next(problems_left, None)) is not None
            ):
                # ordered: a full reorder buffer holds new problems; its oldest problem is unfinished, in flight
                position[p.id] = state["started"]
                state["started"] += 1
                if p.id not in cands and with_candidates and gen is not None:
                    remaining[p.id] = -1  # under way: counts in the window until its critiques are done
                    state["in_flight"] += 1
                    yield cand_request(p)
                    continue
                if p.id not in cands:  # --reuse-candidates: the record's own
                    cands[p.id] = _record_candidates(p, cfg.k)
                    write(p, {"id": p.id, "kind": "candidates", "outputs": cands[p.id]})
                if together:
                    critiques_of(p)
                else:  # the candidates phase of two backends, with this problem's candidates saved
                    finished(p)
            elif state["in_flight"]:
                yield HOLD
            else:
                return

    def consume(results: Iterator[tuple[GenRequest, list[Any]]]) -> None:
        for req, comps in results:
            state["in_flight"] -= 1
            kind, p, j = req.key
            if kind == "cand":
                cands[p.id] = _outputs(comps)
                write(p, {"id": p.id, "kind": "candidates", "outputs": cands[p.id]})
                remaining.pop(p.id, None)
                if together:
                    critiques_of(p)
                else:
                    finished(p)
                continue
            write(p, {"id": p.id, "kind": "critiques", "candidate": j, "outputs": _outputs(comps)})
            crits.add((p.id, j))
            remaining[p.id] -= 1
            if remaining[p.id] == 0:
                del remaining[p.id]
                finished(p)
                if progress:
                    progress(1)

    with run.generation_writer() as writer:
        if together:
            consume(stream(crit, feed(iter(problems), True)))
        else:  # two backends: every candidate set first, then the critic
            consume(stream(gen, feed(iter(problems), True)))
            together = True
            remaining.clear()
            state.update(started=0, order=Reorder(ordered, reorder_window))
            consume(stream(crit, feed(iter(problems), False)))
    return True
