"""CPU timings of a small `crl tts` run with the tiny random Qwen3 model on the hf backend.

Budget forcing (problems x rounds, per-call thinking cap, forced answers) and critique selection (k record
candidates x m critiques each), then rescoring both runs from their saved generations. Prints wall times, the
tokens generated and the generation rate. The tiny model's text is noise: these are costs, not accuracies.

    python bench/tts_bench.py                                  # 8 problems, 4 rounds, k=4, m=4 (a few minutes)
    python bench/tts_bench.py --problems 4 --rounds 2 --k 2 --m 2 --think 16
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import orjson  # noqa: E402

RIGHT = "def add_one(x):\n    return x + 1\n"
WRONG = "def add_one(x):\n    return x - 1\n"


def problems(n: int) -> list[dict]:
    return [
        {
            "id": f"p{i}",
            "question": f"Write add_one(x) returning x + 1. (variant {i})",
            "starter_code": "",
            "tests": {
                "type": "call",
                "fn_name": "add_one",
                "class_name": None,
                "program": None,
                "cases": [{"input": [j], "output": j + 1} for j in range(5)],
            },
            "candidates": [{"id": f"c{j}", "code": RIGHT if j % 2 else WRONG} for j in range(16)],
        }
        for i in range(n)
    ]


def tokens_in(run: Path) -> int:
    total = 0
    for line in (run / "generations.jsonl").read_bytes().splitlines():
        g = orjson.loads(line)
        total += g["tokens"] if "tokens" in g else sum(o["tokens"] for o in g["outputs"])
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--think", type=int, default=32, help="max thinking tokens per continuation")
    ap.add_argument("--answer", type=int, default=16, help="max tokens per forced answer")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--m", type=int, default=4)
    ap.add_argument("--critique-tokens", type=int, default=32)
    args = ap.parse_args()

    from crlcli.generation import get_backend
    from crlcli.generation.tiny import build_tiny_model
    from crlcli.tts import (
        BudgetConfig,
        CritiqueConfig,
        Source,
        budget_force,
        critique_select,
        score_budget,
        score_critique,
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.monotonic()
        model = build_tiny_model(root / "tiny")
        t_build = time.monotonic() - t
        t = time.monotonic()
        engine = get_backend("hf", model=str(model))
        t_load = time.monotonic() - t
        src = root / "p.jsonl"
        src.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in problems(args.problems)))
        print(f"tiny model: build {t_build:.1f} s, load {t_load:.1f} s (hf backend, {engine.device})")

        cfg = BudgetConfig(rounds=args.rounds, max_thinking_tokens=args.think, answer_tokens=args.answer)
        t = time.monotonic()
        summary = budget_force(Source(input=src), root / "bf", cfg, "hf", str(model), {}, engine=engine)
        t_bf = time.monotonic() - t
        n_tok = tokens_in(root / "bf")
        calls = (args.rounds + 1) * 2
        print(
            f"budget-force: {args.problems} problems x {args.rounds + 1} rounds ({calls} batched calls), "
            f"{n_tok} tokens generated in {t_bf:.1f} s = {n_tok / t_bf:.0f} tok/s incl. scoring; "
            f"mean thinking tokens per round {[r['mean_thinking_tokens'] for r in summary['rounds']]}"
        )
        t = time.monotonic()
        score_budget(root / "bf")
        print(f"budget-force score (rescore, no model): {time.monotonic() - t:.2f} s")

        ccfg = CritiqueConfig(k=args.k, m=args.m, critique_tokens=args.critique_tokens, reuse_candidates=True)
        t = time.monotonic()
        cs = critique_select(Source(input=src), root / "cs", ccfg, "hf", str(model), {}, engine=engine)
        t_cs = time.monotonic() - t
        n_tok = tokens_in(root / "cs")
        print(
            f"critique-select: {args.problems} problems x k={args.k} x m={args.m} = "
            f"{args.problems * args.k * args.m} critiques, {n_tok} tokens in {t_cs:.1f} s = "
            f"{n_tok / t_cs:.0f} tok/s incl. scoring; mean pass@1 {cs['mean_pass@1']:.2f}, "
            f"oracle {cs['oracle_pass@k']:.2f}"
        )
        t = time.monotonic()
        score_critique(root / "cs")
        print(f"critique-select score (rescore, no model): {time.monotonic() - t:.2f} s")


if __name__ == "__main__":
    main()
