"""`crl tts budget-force`: a resumable run directory around `budget.run_forcing`, scoring and rescoring."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..locks import holds_run_dir
from ..log import logger
from .budget import GENERATION_KEYS, BudgetConfig, Request, run_forcing, stream_forcing, summarise
from .problems import Problem, Source
from .runs import RunDir

KIND = "budget-force"


def _generator(backend: Any, cfg: BudgetConfig) -> Callable[[list[Request]], list[Any]]:
    """Requests -> completions, one backend call per distinct (budget, stop) group."""
    from ..generation import SamplingParams

    def generate(requests: list[Request]) -> list[Any]:
        out: list[Any] = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault((req.max_tokens, req.stop), []).append(i)
        for (max_tokens, stop), idx in groups.items():
            params = SamplingParams(
                n=1,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                top_k=cfg.top_k,
                max_tokens=max_tokens,
                seed=cfg.seed,
                stop=list(stop) if stop else None,
            )
            for i, comps in zip(idx, backend.complete([requests[i].prompt for i in idx], params)):
                out[i] = comps[0]
        return out

    return generate


@holds_run_dir("run_dir")
def budget_force(
    source: Source,
    run_dir: Path | str,
    cfg: BudgetConfig,
    backend_name: str,
    model: str | None,
    backend_options: dict[str, Any],
    tokenizer: str | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    timeout: float | None = None,
    progress: Callable[[int], None] | None = None,
    engine: Any = None,
    ordered: bool = False,
    reorder_window: int = 1024,
    open_backend: Any = None,
) -> dict[str, Any]:
    """Generate (or resume) every problem's forced rounds into RUN_DIR, then score them. Returns the summary.

    `engine`: an already built backend to use instead of building `backend_name` (tests, benches, notebooks).
    `ordered`: generations.jsonl problem by problem in input order, each one's steps in order (a streaming
    backend holds at most `reorder_window` problems' records); else as they complete.
    """
    from .common import chat_prompt, counter, make_backend, pick_tokenizer

    run = RunDir(run_dir, KIND, GENERATION_KEYS)
    problems = source.load()
    config = {
        **cfg.to_dict(),
        "backend": backend_name,
        "model": model,
        "tokenizer": tokenizer,
        "backend_options": backend_options,
        "source": source.spec,
    }
    resumed = run.open(config)
    run.save_problems([p.record for p in problems])
    saved = {(g["id"], g["step"]): g for g in run.load_generations()}
    if resumed:
        logger.info(f"resuming {run.path}: {len(saved)} saved generation(s) will be replayed")

    backend = engine if engine is not None else make_backend(backend_name, model, backend_options, open_backend)
    tok = pick_tokenizer(backend, tokenizer)
    prompts = {p.id: chat_prompt(tok, p.messages, enable_thinking=True) for p in problems}
    on_done = (lambda pid, trace: progress(1)) if progress else None
    with run.generation_writer() as writer:
        if callable(getattr(backend, "stream", None)):  # each problem's next step as soon as its last is back
            # one request per problem at a time: as many problems under way as the engine keeps sequences
            window = max(batch_size, int(getattr(backend, "window", 0) or 0))
            stream_forcing(
                prompts,
                cfg,
                backend,
                counter(tok),
                saved,
                writer.write,
                on_done,
                window=window,
                ordered=ordered,
                reorder_window=reorder_window,
            )
        else:
            run_forcing(
                prompts,
                cfg,
                _generator(backend, cfg),
                counter(tok),
                saved,
                writer.write,
                on_done=on_done,
                batch_size=batch_size,
                ordered=ordered,
            )
    return score_run(run.path, workers=workers, timeout=timeout, source=source, problems=problems, tok=tok)


def _traces(run: RunDir, cfg: BudgetConfig, tok: Any) -> dict[str, dict]:
    """Rebuild every finished trace from the saved generations alone (no model): replay with no backend."""
    from .common import counter

    saved = {(g["id"], g["step"]): g for g in run.load_generations()}
    ids = list(dict.fromkeys(g["id"] for g in run.load_generations()))
    count = counter(tok) if tok is not None else (lambda text: None)

    def no_model(requests: list[Request]) -> list[Any]:
        raise _Unfinished

    traces: dict[str, dict] = {}
    for pid in ids:
        try:
            traces.update(run_forcing({pid: ""}, cfg, no_model, count, saved, lambda rec: None))
        except _Unfinished:
            logger.warning(f"{pid}: generation unfinished in {run.path}; resume the run to complete it")
    return traces


class _Unfinished(Exception):
    pass


@holds_run_dir("run_dir")
def score_run(
    run_dir: Path | str,
    workers: int | None = None,
    timeout: float | None = None,
    source: Source | None = None,
    problems: list[Problem] | None = None,
    tok: Any = None,
    data_root: Any = None,
) -> dict[str, Any]:
    """(Re)score a budget-force run from its saved generations; rewrites results.jsonl and summary.json.
    `data_root`: where a benchmark source looks for its data when the run named none (evaluation.base.DataRoot)."""
    run = RunDir(run_dir, KIND, GENERATION_KEYS)
    saved_run = run.load_run()
    conf = saved_run["config"]
    cfg = BudgetConfig(**{k: conf[k] for k in BudgetConfig.__dataclass_fields__ if k in conf})
    if source is None:
        source, problems = Source.for_rescoring(conf["source"], run.problems_file, data_root)
    tok = tok if tok is not None else _tokenizer_for_counts(conf)
    traces = _traces(run, cfg, tok)
    by_id = {p.id: p for p in problems or []}
    # Only the given problems count (a rerun with a smaller --limit reports on its own selection).
    traces = {pid: t for pid, t in traces.items() if pid in by_id}
    items, keys = [], []
    for pid, trace in traces.items():
        for rnd in trace["rounds"]:
            items.append((by_id[pid], rnd["answer"]))
            keys.append((pid, rnd))
    with source.scorer(workers, timeout) as scorer:
        verdicts = scorer.completions(items)
    results = []
    for (pid, rnd), verdict in zip(keys, verdicts):
        row = {"id": pid, **{k: v for k, v in rnd.items() if k not in ("thinking", "answer")}, **verdict}
        results.append(row)
    summary = {
        "kind": KIND,
        "problems": len(traces),
        "config": {
            k: conf.get(k)
            for k in (
                "rounds",
                "wait_token",
                "min_thinking_tokens",
                "max_thinking_tokens",
                "answer_tokens",
                "model",
                "backend",
            )
        },
        **summarise(results, cfg.rounds),
    }
    run.write_results(results, summary)
    return summary


def _tokenizer_for_counts(conf: dict[str, Any]):
    """The tokenizer the run used, to recount inserted text; None (counts left out) when it cannot be loaded."""
    from ..tokens import counting_tokenizer

    spec = conf.get("tokenizer") or (conf.get("model") if conf.get("backend") in ("hf", "vllm") else None)
    if not spec:
        return None
    try:
        return counting_tokenizer(spec)
    except CrlError as exc:
        logger.warning(f"forced-token counts left out: {exc.message}")
        return None
