"""`crl gen-candidates`: sample candidate solutions for problem records (vllm, openai, hf or mutate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..generation.defaults import TEMPERATURE, TOP_K, TOP_P
from ..log import logger
from ._common import (
    EnginesOpt,
    InputOpt,
    OrderedOpt,
    OutputOpt,
    RayAddressOpt,
    ReorderWindowOpt,
    ResumeOpt,
    SkipInvalidOpt,
    Stage,
    backend_options,
    renamed,
)

HELP = """Sample candidate solutions and append them to each problem's `candidates`.

Generation streams: the engine (vllm, openai, --engines N) is kept full and each record is written as soon as its samples are done, so the output order may differ from the input order (--ordered restores it); --resume skips the ids already written.

The prompt comes from a template file (default: the packaged solve.txt). The code is the last fenced Python block after any </think> (else the last fenced block); completions without code are dropped and counted on stderr. The mutate backend needs no model: it makes buggy variants of the reference candidates.

Examples:

crl filter --source humaneval | crl gen-candidates --backend mutate --n 4 | crl judge

crl gen-candidates -b vllm -m Qwen/Qwen3-Coder-30B-A3B-Instruct --n 8 -i problems.jsonl -o cands.jsonl --resume

crl gen-candidates -b openai --base-url http://127.0.0.1:8000/v1 --n 4 < problems.jsonl > cands.jsonl

crl gen-candidates -b vllm -m MODEL --tp 2 --engines 8 --ray-address auto -i p.jsonl -o c.jsonl --resume
"""

Opt = typer.Option
DEFAULT_TEMPLATE = "solve.txt"


def register(app: typer.Typer) -> None:
    @app.command("gen-candidates", help=HELP)
    def gen_candidates(
        backend: Annotated[str, Opt("--backend", "-b", help="vllm | openai | hf | mutate.")],
        model: Annotated[str | None, Opt("--model", "-m", help="Model path or name (openai: served name).")] = None,
        n: Annotated[int, Opt("--n", help="Samples (mutate: mutants) per problem.")] = 1,
        temperature: Annotated[float, Opt(help="Sampling temperature (0 = greedy).")] = TEMPERATURE,
        top_p: Annotated[float, Opt("--top-p")] = TOP_P,
        top_k: Annotated[int, Opt("--top-k", help="0 disables top-k.")] = TOP_K,
        max_tokens: Annotated[int, Opt("--max-tokens", help="Max new tokens per sample.")] = 4096,
        seed: Annotated[int | None, Opt(help="Sampling seed (reproducible runs).")] = None,
        prompt_template: Annotated[Path | None, Opt("--prompt-template", help="Template file.")] = None,
        thinking: Annotated[bool, Opt("--thinking/--no-thinking", help="Chat template enable_thinking.")] = True,
        raw_prompt: Annotated[bool, Opt("--raw-prompt", help="Send the prompt as raw text, no chat template.")] = False,
        keep_raw: Annotated[bool, Opt("--keep-raw", help="Keep each raw completion in the candidate.")] = False,
        batch_size: Annotated[
            int,
            Opt(
                "--batch-size",
                help="hf, mutate: problems per backend call (vllm, openai and Ray engines stream instead).",
            ),
        ] = 16,
        ordered: OrderedOpt = False,
        reorder_window: ReorderWindowOpt = 1024,
        base_url: Annotated[str | None, Opt("--base-url", help="openai: server URL, e.g. .../v1.")] = None,
        concurrency: Annotated[int | None, Opt(help="openai: requests in flight.")] = None,
        request_timeout: Annotated[float | None, Opt("--request-timeout", help="openai: seconds per request.")] = None,
        old_timeout: Annotated[
            float | None, Opt("--timeout", hidden=True, help="Deprecated: use --request-timeout.")
        ] = None,
        tensor_parallel_size: Annotated[int | None, Opt("--tensor-parallel-size", "--tp")] = None,
        device: Annotated[str | None, Opt(help="hf: cpu, cuda, cuda:1 ...")] = None,
        engines: EnginesOpt = 1,
        ray_address: RayAddressOpt = None,
        backend_option: Annotated[
            list[str], Opt("--backend-option", "-O", help="Extra backend option KEY=VALUE (repeatable).")
        ] = [],
        input: InputOpt = None,
        output: OutputOpt = None,
        skip_invalid: SkipInvalidOpt = None,
        resume: ResumeOpt = False,
    ) -> None:
        from ..distributed.engines import open_backend
        from ..generation import BACKENDS, SamplingParams
        from ..generation.candidates import GenSettings, GenStats, generate_candidates
        from ..progress import Meter
        from ..prompts import load_template

        if backend not in BACKENDS:
            raise UsageError(f"unknown backend {backend!r}", hint=f"choose one of: {', '.join(BACKENDS)}")
        for opt, value in (
            ("--n", n),
            ("--max-tokens", max_tokens),
            ("--batch-size", batch_size),
            ("--reorder-window", reorder_window),
        ):
            if value < 1:  # a usage error (exit 2), before any model loads
                raise UsageError(f"{opt} must be at least 1, got {value}")
        params = SamplingParams(
            n=n, temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens, seed=seed
        )
        template_spec = prompt_template or DEFAULT_TEMPLATE
        template = load_template(template_spec)
        # a model-free backend (mutate) never prompts, so it may go without a question; the generated records are
        # judged later, so tests are checked when present
        from ..generation import backend_class

        needs_question = not backend_class(backend).model_free
        stage = Stage(input, output, skip_invalid, resume, problems={"question": needs_question, "tests": False})
        options = backend_options(
            backend,
            base_url=base_url,
            device=device,
            concurrency=concurrency,
            timeout=renamed("--request-timeout", request_timeout, "--timeout", old_timeout),
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            engines=engines,
            ray_address=ray_address,
            extra=backend_option,
        )
        engine = open_backend(backend, model, options)
        settings = GenSettings(
            params=params,
            template=template,
            template_name=Path(template_spec).name,
            enable_thinking=thinking,
            raw_prompt=raw_prompt,
            keep_raw=keep_raw,
            batch_size=batch_size,
            ordered=ordered,
            reorder_window=reorder_window,
        )
        stats = GenStats()
        with Meter("gen-candidates", unit="prob", extra=("tokens", "cand")) as meter:
            stage.run(
                lambda recs: generate_candidates(
                    recs,
                    engine,
                    settings,
                    stats,
                    on_batch=lambda probs, toks, kept: meter.advance(probs, tokens=toks, cand=kept),
                )
            )
            elapsed = max(meter.elapsed, 1e-9)
        done = stats.completions
        logger.info(
            f"gen-candidates: {stats.problems} problem(s), {done} completion(s), {stats.kept} candidate(s) kept, "
            f"{stats.dropped_empty} dropped without code ({100 * stats.dropped_empty / max(done, 1):.1f}%), "
            f"{stats.truncated} hit max tokens; {stats.problems / elapsed:.2f} problems/s, "
            f"{stats.tokens / elapsed:.1f} tokens/s"
        )
        if stats.no_reference:
            logger.warning(f"mutate: {stats.no_reference} problem(s) had no reference candidate and got no mutants")
