"""`crl tts critique-select`: parallel test-time scaling by self-critique (paper Section 3.7).

Per problem: k candidates from the generator (chat, thinking on), the code block of each extracted; m critiques of
every candidate with code from the critic, prompted with the packaged CRL prompt (`crl_critique.txt`) and parsed
with the shared `\\conclusion{}` extractor. The selectors (`select.py`) then pick one candidate, and the executed
truth (every hidden test passes) says how good the pick, and the critic, were.

Cost in generated tokens: k * (candidate tokens) + k * m * (critique tokens) per problem; the summary's `tokens`
block gives the measured totals.

Saved generations (generations.jsonl), one line per model call result:
    {"id", "kind": "candidates", "outputs": [{text, tokens, finish_reason} x k]}
    {"id", "kind": "critiques", "candidate": j, "outputs": [{text, tokens, finish_reason} x m]}
Everything parsed or executed from them is recomputed by scoring, so `score` picks up extractor fixes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import CrlError
from ..extract import extract_code, extract_conclusion, split_thinking
from ..generation.defaults import TEMPERATURE, TOP_K, TOP_P
from ..locks import holds_run_dir
from ..log import logger
from .critique_prompts import _outputs, _record_candidates, critique_prompt
from .critique_stream import stream_generate
from .problems import Problem, Source
from .runs import RunDir
from .select import SELECTOR_FUNCS, SELECTORS, critic_stats, summarise_selection

KIND = "critique-select"
GENERATION_KEYS = (
    "k",
    "m",
    "reuse_candidates",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "candidate_tokens",
    "critique_tokens",
    "backend",
    "model",
    "critic_backend",
    "critic",
    "critique_template",
)


@dataclass(frozen=True)
class CritiqueConfig:
    k: int = 10
    m: int = 64
    candidate_tokens: int = 16384
    critique_tokens: int = 16384
    temperature: float = TEMPERATURE
    top_p: float = TOP_P
    top_k: int = TOP_K
    seed: int | None = 0
    critique_template: str = "crl_critique.txt"
    reuse_candidates: bool = False  # take the records' own `candidates` instead of generating k

    def __post_init__(self) -> None:
        if self.k < 1 or self.m < 1:
            raise CrlError(f"--k and --m must be at least 1 (got k={self.k}, m={self.m})")

    def params(self, n: int, max_tokens: int):
        from ..generation import SamplingParams

        return SamplingParams(
            n=n, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, max_tokens=max_tokens, seed=self.seed
        )


def generate(
    problems: list[Problem],
    cfg: CritiqueConfig,
    run: RunDir,
    generator: Callable[[], Any],
    critic: Callable[[], Any],
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    ordered: bool = False,
) -> None:
    """Fill generations.jsonl with every missing candidate set and critique set (the models load on first use).
    Each batch writes its candidates, then its critiques; with `ordered`, problem by problem as the streaming
    path writes them (a batch's records are held until its end)."""
    from ..prompts import load_template

    template = load_template(cfg.critique_template, needs=("question", "solution"))
    saved = run.load_generations()
    cands = {g["id"]: g["outputs"] for g in saved if g["kind"] == "candidates"}
    crits = {(g["id"], g["candidate"]) for g in saved if g["kind"] == "critiques"}
    with run.generation_writer() as out:
        for start in range(0, len(problems), batch_size):
            batch = problems[start : start + batch_size]
            writer = _Held(out, [p.id for p in batch]) if ordered else out
            need = [p for p in batch if p.id not in cands]
            if need and cfg.reuse_candidates:
                for p in need:
                    cands[p.id] = _record_candidates(p, cfg.k)
                    writer.write({"id": p.id, "kind": "candidates", "outputs": cands[p.id]})
            elif need:
                outs = generator().chat([p.messages for p in need], cfg.params(cfg.k, cfg.candidate_tokens))
                for p, comps in zip(need, outs):
                    cands[p.id] = _outputs(comps)
                    writer.write({"id": p.id, "kind": "candidates", "outputs": cands[p.id]})
            pairs = []
            for p in batch:
                for j, out in enumerate(cands[p.id][: cfg.k]):
                    code = extract_code(out["text"])
                    if code and (p.id, j) not in crits:
                        pairs.append((p, j, code))
            for s in range(0, len(pairs), batch_size):
                chunk = pairs[s : s + batch_size]
                convs = [critique_prompt(template, p, code) for p, _, code in chunk]
                outs = critic().chat(convs, cfg.params(cfg.m, cfg.critique_tokens), enable_thinking=True)
                for (p, j, _), comps in zip(chunk, outs):
                    writer.write({"id": p.id, "kind": "critiques", "candidate": j, "outputs": _outputs(comps)})
                    crits.add((p.id, j))
            if ordered:
                writer.flush()  # type: ignore[union-attr]  # ordered: writer is the _Held
            if progress:
                progress(len(batch))


class _Held:
    """A batch's records, written at its end problem by problem: candidates, then critiques by candidate."""

    def __init__(self, out: Any, ids: list[str]):
        self.out, self.rank = out, {pid: i for i, pid in enumerate(ids)}
        self.recs: list[dict[str, Any]] = []

    def write(self, rec: dict[str, Any]) -> None:
        self.recs.append(rec)

    def flush(self) -> None:
        for rec in sorted(self.recs, key=lambda g: (self.rank[g["id"]], g.get("candidate", -1))):
            self.out.write(rec)
        self.recs = []


def critique_thinking_tokens(text: str, count: Callable[[str], int]) -> int:
    """Tokens of a critique's thinking, by the critic's tokenizer (a cut-off critique is all thinking)."""
    thinking, _ = split_thinking(text)
    return count(thinking) if thinking else 0


@holds_run_dir("run_dir")
def score_run(
    run_dir: Path | str,
    workers: int | None = None,
    timeout: float | None = None,
    headline: str = "crl-votes",
    source: Source | None = None,
    problems: list[Problem] | None = None,
    tokenizer: Any = None,
    data_root: Any = None,
) -> dict[str, Any]:
    """(Re)score a critique-select run: parse, execute, select; rewrites results.jsonl and summary.json.
    `data_root`: where a benchmark source looks for its data when the run named none (evaluation.base.DataRoot)."""
    from .budget_run import _tokenizer_for_counts
    from .common import counter

    if headline not in SELECTORS:
        raise CrlError(f"unknown selector {headline!r}", hint=f"choose one of: {', '.join(SELECTORS)}")
    run = RunDir(run_dir, KIND, GENERATION_KEYS)
    conf = run.load_run()["config"]
    k, m, seed = conf["k"], conf["m"], conf.get("seed") or 0
    if source is None:
        source, problems = Source.for_rescoring(conf["source"], run.problems_file, data_root)
    tok = tokenizer or _tokenizer_for_counts(
        {
            **conf,
            "model": conf.get("critic") or conf.get("model"),
            "backend": conf.get("critic_backend") or conf.get("backend"),
        }
    )
    if tok is None:
        raise CrlError(
            "cannot count critique thinking tokens without the critic's tokenizer", hint="rerun with --tokenizer PATH"
        )
    count = counter(tok)
    saved = run.load_generations()
    cands = {g["id"]: g["outputs"][:k] for g in saved if g["kind"] == "candidates"}
    crits = {(g["id"], g["candidate"]): g["outputs"][:m] for g in saved if g["kind"] == "critiques"}
    by_id = {p.id: p for p in problems or []}
    cands = {pid: c for pid, c in cands.items() if pid in by_id}  # only the given problems count
    done = [
        pid for pid in cands if all((pid, j) in crits or not extract_code(o["text"]) for j, o in enumerate(cands[pid]))
    ]
    if len(done) < len(cands):
        logger.warning(f"{len(cands) - len(done)} problem(s) lack critiques; resume the run to complete them")

    codes = [(by_id[pid], extract_code(o["text"])) for pid in done for o in cands[pid]]
    has_public = bool(done) and all(by_id[pid].public_tests for pid in done)
    with source.scorer(workers, timeout) as scorer:
        truth = scorer.candidate_codes(codes)
        public = scorer.code(codes, public=True) if has_public else [None] * len(codes)

    rows, it = [], 0
    tokens = {"candidate": 0, "critique": 0, "critique_thinking": 0}
    for pid in done:
        cand_rows = []
        for j, out in enumerate(cands[pid]):
            outs = crits.get((pid, j), [])
            think = [critique_thinking_tokens(o["text"], count) for o in outs]
            t, pub = truth[it], public[it]
            it += 1
            cand_rows.append(
                {
                    "index": j,
                    "has_code": t["code"],
                    "correct": t["correct"],
                    "pass_rate": t["pass_rate"],
                    "verdicts": [extract_conclusion(o["text"]) for o in outs],
                    "thinking_tokens": think,
                    "critique_tokens": [o["tokens"] for o in outs],
                    "tokens": out["tokens"],
                    "public_pass_rate": pub["pass_rate"] if pub else None,
                }
            )
            tokens["candidate"] += out["tokens"]
            tokens["critique"] += sum(o["tokens"] for o in outs)
            tokens["critique_thinking"] += sum(think)
        selected = {name: SELECTOR_FUNCS[name](cand_rows, problem_id=pid, seed=seed) for name in SELECTORS}
        rows.append({"id": pid, "selected": selected, "candidates": cand_rows})

    summary = {
        "kind": KIND,
        "k": k,
        "m": m,
        "headline": headline,
        **summarise_selection(rows, list(SELECTORS)),
        "critic": critic_stats([r["candidates"] for r in rows]),
        "tokens": {**tokens, "per_problem": (tokens["candidate"] + tokens["critique"]) / len(rows) if rows else None},
    }
    head = summary["selectors"].get(headline)
    summary["selected_accuracy"] = head["accuracy"] if head else None
    blind = head.get("ties_without_signal", 0) if head else 0
    if blind:
        logger.warning(
            f"{blind} of {len(rows)} problem(s) had no critique with a conclusion: {headline} could only "
            f"break the tie; they count as wrong in the accuracy (summary: ties_without_signal)"
        )
    run.write_results([_result_row(r, headline) for r in rows], summary)
    return summary


def _result_row(row: dict[str, Any], headline: str) -> dict[str, Any]:
    pick = row["selected"].get(headline)
    cands = [
        {
            **{k: v for k, v in c.items() if k not in ("verdicts",)},
            "votes_T": sum(v == "T" for v in c["verdicts"]),
            "votes_F": sum(v == "F" for v in c["verdicts"]),
            "no_conclusion": sum(v is None for v in c["verdicts"]),
        }
        for c in row["candidates"]
    ]
    return {
        "id": row["id"],
        "selected": pick,
        "selected_correct": None if pick is None else bool(row["candidates"][pick]["correct"]),
        "selected_by": row["selected"],
        "candidates": cands,
    }


@holds_run_dir("run_dir")
def critique_select(
    source: Source,
    run_dir: Path | str,
    cfg: CritiqueConfig,
    backend_name: str,
    model: str | None,
    backend_options: dict[str, Any],
    critic_backend: str | None = None,
    critic: str | None = None,
    critic_options: dict[str, Any] | None = None,
    tokenizer: str | None = None,
    headline: str = "crl-votes",
    batch_size: int = 16,
    workers: int | None = None,
    timeout: float | None = None,
    progress: Callable[[int], None] | None = None,
    engine: Any = None,
    critic_engine: Any = None,
    ordered: bool = False,
    reorder_window: int = 1024,
    open_backend: Any = None,
) -> dict[str, Any]:
    """Generate (or resume) candidates and critiques into RUN_DIR, then score. `engine`/`critic_engine`: already
    built backends to use instead of building them by name; `open_backend`: how to build them (tts.common). `ordered`: generations.jsonl problem by problem in
    input order (critique_stream.py), a streaming backend holding at most `reorder_window` problems' records."""
    from .common import make_backend, pick_tokenizer

    if headline not in SELECTORS:
        raise CrlError(f"unknown selector {headline!r}", hint=f"choose one of: {', '.join(SELECTORS)}")
    critic_backend = critic_backend or backend_name
    critic = critic or model
    if not critic_options and critic_backend == backend_name:
        critic_options = dict(backend_options)  # same server / device unless told otherwise
    run = RunDir(run_dir, KIND, GENERATION_KEYS)
    problems = source.load()
    config = {
        **asdict(cfg),
        "backend": backend_name,
        "model": model,
        "backend_options": backend_options,
        "critic_backend": critic_backend,
        "critic": critic,
        "critic_options": critic_options or {},
        "tokenizer": tokenizer,
        "source": source.spec,
    }
    run.open(config)
    run.save_problems([p.record for p in problems])
    cache: dict[str, Any] = {}
    if engine is not None:
        cache["gen"] = engine
    if critic_engine is not None:
        cache["crit"] = critic_engine

    def gen() -> Any:
        if "gen" not in cache:
            cache["gen"] = make_backend(backend_name, model, backend_options, open_backend)
        return cache["gen"]

    def crit() -> Any:
        if "crit" not in cache:
            same = critic_backend == backend_name and critic == model and critic_options == backend_options
            cache["crit"] = gen() if same else make_backend(critic_backend, critic, critic_options or {}, open_backend)
        return cache["crit"]

    # streaming backends: no batch waits for its slowest sample (critique_stream.py); else batches
    if not stream_generate(
        problems,
        cfg,
        run,
        gen,
        crit,
        window=batch_size,
        progress=progress,
        ordered=ordered,
        reorder_window=reorder_window,
    ):
        generate(problems, cfg, run, gen, crit, batch_size=batch_size, progress=progress, ordered=ordered)
    tok = pick_tokenizer(cache["crit"], tokenizer) if "crit" in cache else None
    return score_run(run.path, workers, timeout, headline, source=source, problems=problems, tokenizer=tok)
