"""Sequential test-time scaling by budget forcing (s1, Muennighoff et al. 2025) on raw text continuation.

Per problem, with the chat-templated prompt opened by `<think>\\n`:

    round 0   generate until the model closes its thinking (the end marker is a stop string);
              with --min-thinking-tokens M, while the thinking is still shorter than M tokens, drop the marker,
              append the wait token and continue (these extensions are not rounds)
    round r   (r = 1..R) drop the end marker, append the wait token ("Wait"), continue until the model closes again
    after each round: force an answer (append the close marker, generate the final answer) and score it

The answer branches off the thinking: round r+1 continues the thinking of round r, never its answer.

Token accounting: every count is the backend's own `Completion.tokens`, i.e. the tokens the model generated
(the end marker included when the model produced it, as vLLM counts). `thinking_tokens` of a round is the running
total of tokens generated inside the thinking up to that round; the inserted text (`<think>\\n`, wait tokens,
the forced close) is counted apart in `forced_tokens` with the backend's tokenizer, since the model never
generated it. `answer_tokens` is the forced answer's length. Cost of a run = every thinking and answer token.

The driver runs all problems as small coroutines. On a streaming backend (vllm, openai, Ray engines;
`stream_forcing`) each problem's next request goes to the engine as soon as its last one is back, so no problem
waits for another's round (with prefix caching vLLM still reuses each problem's ever-growing prefix); other
backends get one `complete` call per step with every problem's pending request (`run_forcing`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import CrlError
from ..generation.defaults import TEMPERATURE, TOP_K, TOP_P

THINK_OPEN = "<think>\n"
THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class BudgetConfig:
    rounds: int = 4
    wait_token: str = "Wait"
    min_thinking_tokens: int = 0
    max_thinking_tokens: int = 16384  # per call that continues the thinking (a round, or one extension)
    answer_tokens: int = 4096
    think_open: str = THINK_OPEN
    think_close: str = THINK_CLOSE
    temperature: float = TEMPERATURE
    top_p: float = TOP_P
    top_k: int = TOP_K
    seed: int | None = 0

    def __post_init__(self) -> None:
        if self.rounds < 0:
            raise CrlError(f"--rounds must be >= 0, got {self.rounds}")
        if not self.wait_token:
            raise CrlError("--wait-token must not be empty")
        if self.min_thinking_tokens < 0 or self.max_thinking_tokens < 1 or self.answer_tokens < 1:
            raise CrlError("token budgets must be positive", hint="check --min/--max-thinking-tokens, --answer-tokens")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# What differs between two runs that would make their saved generations incompatible.
GENERATION_KEYS = (
    "wait_token",
    "min_thinking_tokens",
    "max_thinking_tokens",
    "answer_tokens",
    "think_open",
    "think_close",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "backend",
    "model",
)


@dataclass(frozen=True)
class Request:
    kind: str  # "think" | "answer"
    round: int
    prompt: str
    max_tokens: int
    stop: tuple[str, ...] | None


def _cut_close(text: str, close: str) -> tuple[str, bool]:
    """The thinking text without the end marker, and whether the marker was found in the text itself."""
    at = text.find(close)
    return (text, False) if at < 0 else (text[:at], True)


def _with_wait(thinking: str, wait: str) -> tuple[str, str]:
    """The thinking with the wait token appended, and the exact text inserted."""
    # s1 appends the word right after the thinking; a newline keeps it from gluing onto the last word.
    piece = wait if not thinking or thinking[-1].isspace() else "\n" + wait
    return thinking + piece, piece


def force(prompt: str, cfg: BudgetConfig, count: Callable[[str], int | None]) -> Generator[Request, Any, dict]:
    """One problem's budget forcing as a coroutine: yields Requests, receives Completions, returns its trace.

    The trace holds, per round: the thinking text so far, thinking/forced token totals and the answer.
    """
    head = prompt + cfg.think_open
    thinking = ""
    think_tokens = 0
    forced_text = [cfg.think_open]
    rounds: list[dict[str, Any]] = []
    for r in range(cfg.rounds + 1):
        if r > 0:
            thinking, piece = _with_wait(thinking, cfg.wait_token)
            forced_text.append(piece)
        extensions = 0
        closed = False
        while True:
            c = yield Request("think", r, head + thinking, cfg.max_thinking_tokens, (cfg.think_close,))
            text, found = _cut_close(c.text, cfg.think_close)
            thinking += text
            think_tokens += c.tokens
            # "stop" without the marker in the text: the backend cut the stop string off (vLLM, OpenAI, hf)
            # or the model ended its turn; either way it stopped thinking.
            closed = found or c.finish_reason == "stop"
            # c.tokens == 0: a backend that reports no usage would loop forever on the minimum budget.
            if not closed or think_tokens >= cfg.min_thinking_tokens or c.tokens == 0:
                break
            thinking, piece = _with_wait(thinking, cfg.wait_token)
            forced_text.append(piece)
            extensions += 1
        close = (cfg.think_close if thinking.endswith("\n") else "\n" + cfg.think_close) + "\n\n"
        answer_prompt = head + thinking + close
        a = yield Request("answer", r, answer_prompt, cfg.answer_tokens, None)
        rounds.append(
            {
                "round": r,
                "thinking_tokens": think_tokens,
                "forced_tokens": _sum_counts(count, forced_text + [close]),
                "answer_tokens": a.tokens,
                "closed_by_model": closed,
                "min_budget_extensions": extensions,
                "answer_finish": a.finish_reason,
                "thinking": thinking,
                "answer": a.text,
            }
        )
    return {"rounds": rounds}


def _sum_counts(count: Callable[[str], int | None], pieces: list[str]) -> int | None:
    total = 0
    for piece in pieces:
        n = count(piece)
        if n is None:
            return None
        total += n
    return total


def run_forcing(
    prompts: dict[str, str],
    cfg: BudgetConfig,
    generate: Callable[[list[Request]], list[Any]],
    count: Callable[[str], int | None],
    saved: dict[tuple[str, int], dict[str, Any]],
    on_generation: Callable[[dict[str, Any]], None],
    on_done: Callable[[str, dict], None] | None = None,
    batch_size: int = 64,
    ordered: bool = False,
) -> dict[str, dict]:
    """Drive every problem's coroutine to the end, `batch_size` problems at a time.

    `saved[(id, step)]` replays an earlier run's generation (resume); new ones go to `on_generation` as soon
    as they exist (step by step across a batch), or with `ordered` problem by problem as `stream_forcing`
    writes them. `generate(requests)` returns one completion per request, in order.
    """
    from types import SimpleNamespace

    from ..generation.stream import Reorder

    traces: dict[str, dict] = {}
    ids = list(prompts)
    order: Reorder[list[dict[str, Any]]] = Reorder(ordered, len(ids) or 1)  # a batch at most is held
    held: dict[str, list[dict[str, Any]]] = {}
    position = {pid: i for i, pid in enumerate(ids)}
    for start in range(0, len(ids), batch_size):
        active: dict[str, tuple[Generator[Request, Any, dict], Request, int]] = {}
        for pid in ids[start : start + batch_size]:
            gen = force(prompts[pid], cfg, count)
            active[pid] = (gen, next(gen), 0)
        while active:
            todo = [(pid, req, step) for pid, (_, req, step) in active.items() if (pid, step) not in saved]
            fresh = generate([req for _, req, _ in todo]) if todo else []
            got = {}
            for (pid, req, step), c in zip(todo, fresh):
                # prompt_tail shows what was forced (the wait token, the close marker) without storing prompts.
                rec = {
                    "id": pid,
                    "step": step,
                    "round": req.round,
                    "kind": req.kind,
                    "prompt_tail": req.prompt[-80:],
                    "text": c.text,
                    "tokens": c.tokens,
                    "finish_reason": c.finish_reason,
                }
                if ordered:
                    held.setdefault(pid, []).append(rec)
                else:
                    on_generation(rec)
                got[pid] = rec
            for pid in list(active):
                gen, req, step = active[pid]
                rec = got.get(pid) or saved[(pid, step)]
                if rec["kind"] != req.kind or rec["round"] != req.round:
                    raise CrlError(
                        f"saved generation {pid!r} step {step} is a {rec['kind']} of round {rec['round']}, "
                        f"expected a {req.kind} of round {req.round}",
                        hint="the run directory was made by other settings; use a new RUN_DIR",
                    )
                completion = SimpleNamespace(text=rec["text"], tokens=rec["tokens"], finish_reason=rec["finish_reason"])
                try:
                    active[pid] = (gen, gen.send(completion), step + 1)
                except StopIteration as stop:
                    traces[pid] = stop.value
                    del active[pid]
                    for recs in order.done(position[pid], held.pop(pid, [])):
                        for r in recs:
                            on_generation(r)
                    if on_done is not None:
                        on_done(pid, stop.value)
    return traces


def _replayed(rec: dict[str, Any], pid: str, step: int, req: Request) -> Any:
    """A saved (or just generated) generation as the completion the coroutine expects, checked against it."""
    from types import SimpleNamespace

    if rec["kind"] != req.kind or rec["round"] != req.round:
        raise CrlError(
            f"saved generation {pid!r} step {step} is a {rec['kind']} of round {rec['round']}, "
            f"expected a {req.kind} of round {req.round}",
            hint="the run directory was made by other settings; use a new RUN_DIR",
        )
    return SimpleNamespace(text=rec["text"], tokens=rec["tokens"], finish_reason=rec["finish_reason"])


def stream_forcing(
    prompts: dict[str, str],
    cfg: BudgetConfig,
    backend: Any,
    count: Callable[[str], int | None],
    saved: dict[tuple[str, int], dict[str, Any]],
    on_generation: Callable[[dict[str, Any]], None],
    on_done: Callable[[str, dict], None] | None = None,
    window: int = 64,
    ordered: bool = False,
    reorder_window: int = 1024,
) -> dict[str, dict]:
    """`run_forcing` on a streaming backend: at most `window` problems under way, each one's next request sent
    the moment its previous one is back (generation/stream.py). Same records, same resume. Records go to
    `on_generation` as they complete, or with `ordered` problem by problem in input order (each one's steps in
    order) once a problem is finished, through a reorder buffer of at most `reorder_window` problems."""
    from collections import deque

    from ..generation import SamplingParams
    from ..generation.stream import HOLD, GenRequest, Reorder, stream

    traces: dict[str, dict] = {}
    ready: deque[tuple[str, Generator[Request, Any, dict], Request, int]] = deque()
    ids = iter(prompts)
    state = {"active": 0, "in_flight": 0, "started": 0}
    order: Reorder[list[dict[str, Any]]] = Reorder(ordered, reorder_window)
    position: dict[str, int] = {}  # ordered: each started problem's input position
    held: dict[str, list[dict[str, Any]]] = {}  # ordered: an unfinished problem's new records

    def emit(pid: str, rec: dict[str, Any]) -> None:
        if ordered:
            held.setdefault(pid, []).append(rec)
        else:
            on_generation(rec)

    def step_to(
        pid: str, gen: Generator[Request, Any, dict], req: Request, step: int, rec: dict[str, Any] | None
    ) -> None:
        """Feed the coroutine `rec` (else the saved step), replay what is saved, queue the first new request."""
        while True:
            rec = rec if rec is not None else saved.get((pid, step))
            if rec is None:
                ready.append((pid, gen, req, step))
                return
            try:
                req = gen.send(_replayed(rec, pid, step, req))
            except StopIteration as stop:
                traces[pid] = stop.value
                state["active"] -= 1
                for recs in order.done(position.pop(pid, 0), held.pop(pid, [])):
                    for r in recs:
                        on_generation(r)
                if on_done is not None:
                    on_done(pid, stop.value)
                return
            step, rec = step + 1, None

    def feed() -> Generator[GenRequest | None, None, None]:
        while True:
            if ready:
                pid, gen, req, step = ready.popleft()
                state["in_flight"] += 1
                params = SamplingParams(
                    n=1,
                    temperature=cfg.temperature,
                    top_p=cfg.top_p,
                    top_k=cfg.top_k,
                    max_tokens=req.max_tokens,
                    seed=cfg.seed,
                    stop=list(req.stop) if req.stop else None,
                )
                yield GenRequest(key=(pid, gen, req, step), params=params, prompt=req.prompt)
            elif state["active"] < window and order.room(state["started"]) and (new := next(ids, None)) is not None:
                # ordered: a full reorder buffer holds new problems; its oldest problem is unfinished, in flight
                gen = force(prompts[new], cfg, count)
                position[new] = state["started"]
                state["started"] += 1
                state["active"] += 1
                step_to(new, gen, next(gen), 0, None)
            elif state["in_flight"]:
                yield HOLD
            else:
                return

    for greq, comps in stream(backend, feed()):
        state["in_flight"] -= 1
        pid, gen, req, step = greq.key
        c = comps[0]
        rec = {
            "id": pid,
            "step": step,
            "round": req.round,
            "kind": req.kind,
            "prompt_tail": req.prompt[-80:],
            "text": c.text,
            "tokens": c.tokens,
            "finish_reason": c.finish_reason,
        }
        emit(pid, rec)
        step_to(pid, gen, req, step, rec)
    return traces


def summarise(results: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    """Accuracy and mean token counts per round over the problems that have all rounds."""
    per_round = []
    for r in range(rounds + 1):
        rows = [x for x in results if x["round"] == r]
        n = len(rows)
        mean = lambda key: sum(x[key] for x in rows) / n if n else None  # noqa: B023 (used in this iteration only)
        forced = [x["forced_tokens"] for x in rows]
        per_round.append(
            {
                "round": r,
                "problems": n,
                "accuracy": mean("correct"),
                "mean_pass_rate": mean("pass_rate"),
                "mean_thinking_tokens": mean("thinking_tokens"),
                "mean_answer_tokens": mean("answer_tokens"),
                "mean_forced_tokens": (sum(forced) / n) if n and None not in forced else None,
                "closed_by_model": sum(1 for x in rows if x["closed_by_model"]),
            }
        )
    return {"rounds": per_round}
