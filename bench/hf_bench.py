"""Tokens/s of the hf backend on CPU with the tiny random-weight Qwen3 (hidden 64, 2 layers, 152k vocabulary).

The figure is dominated by per-step overhead, not by the model: a profile shows transformers' top-k/top-p warpers
and torch.multinomial over the 152k-wide vocabulary taking most of each step, so greedy decoding (printed too) is
several times faster. It is a floor for the backend's own cost, not a forecast for real models.

    python bench/hf_bench.py [--max-tokens 64] [--prompts 8] [--batch-sizes 1,8] [--threads 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()

    import torch

    from crlcli.generation import SamplingParams, get_backend
    from crlcli.generation.tiny import build_tiny_model

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        model = build_tiny_model(tmp)
        built = time.perf_counter() - t0
        for bs in [int(x) for x in args.batch_sizes.split(",")]:
            t0 = time.perf_counter()
            backend = get_backend("hf", model=str(model), device="cpu", batch_size=bs)
            loaded = time.perf_counter() - t0
            prompts = [f"def function_{i}(x):\n    " for i in range(args.prompts)]
            backend.complete(prompts[:1], SamplingParams(max_tokens=4, seed=0))  # warm-up
            for mode, params in (
                ("sampled", SamplingParams(max_tokens=args.max_tokens, seed=0)),
                ("greedy", SamplingParams(max_tokens=args.max_tokens, temperature=0)),
            ):
                t0 = time.perf_counter()
                out = backend.complete(prompts, params)
                elapsed = time.perf_counter() - t0
                tokens = sum(c.tokens for o in out for c in o)
                print(
                    f"hf cpu  batch {bs:>2} {mode:<7}: {tokens} tokens in {elapsed:.2f}s = "
                    f"{tokens / elapsed:,.1f} tokens/s ({args.prompts} prompts x {args.max_tokens} max tokens; "
                    f"model built in {built:.1f}s, loaded in {loaded:.1f}s; torch threads {torch.get_num_threads()})"
                )


if __name__ == "__main__":
    main()
