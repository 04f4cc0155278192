"""How hard are mutate's negatives? Mutants of the HumanEval and LeetCode references, judged in the sandbox.

Prints, per source: problems, mutants made (and problems that got fewer than --n), how the references themselves
score (the control: they should pass), and the fraction of mutants labelled F overall and per mutation kind,
plus mutants/s of the mutate backend and candidates/s of the judge.

    python bench/mutate_bench.py [--limit 40] [--n 4] [--workers 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from crlcli.generation import SamplingParams
from crlcli.generation.candidates import GenSettings, GenStats, generate_candidates
from crlcli.generation.mutate import MutateBackend
from crlcli.sources import load

DATA = Path(
    os.environ.get("CRL_EVAL_DATA")
    or os.environ.get("CRL_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
SOURCES = {"humaneval": None, "leetcode": str(DATA / "cp_samples" / "leetcode.json")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=40, help="problems per source (0 = all)")
    ap.add_argument("--n", type=int, default=4, help="mutants per problem")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        from crlcli.judging import label_for
        from crlcli.sandbox import Limits, SandboxPool
    except ImportError as exc:
        SandboxPool = None
        print(f"judge not available ({exc}): printing mutant statistics only")

    for name, path in SOURCES.items():
        if path is not None and not Path(path).exists():
            print(f"== {name}: skipped, {path} not found")
            continue
        problems = []
        for rec in load(name, path):
            problems.append(rec)
            if args.limit and len(problems) >= args.limit:
                break
        refs = {r["id"]: [c for c in r["candidates"]] for r in problems}
        stats = GenStats()
        t0 = time.perf_counter()
        settings = GenSettings(params=SamplingParams(n=args.n, seed=args.seed), batch_size=64)
        out = list(generate_candidates(problems, MutateBackend(seed=args.seed), settings, stats))
        t_mut = time.perf_counter() - t0
        mutants = [(r, c) for r in out for c in r["candidates"] if c["origin"]["backend"] == "mutate"]
        short = sum(1 for r in out if sum(c["origin"]["backend"] == "mutate" for c in r["candidates"]) < args.n)
        print(
            f"== {name}: {len(out)} problems, {len(mutants)} mutants ({stats.kept / max(t_mut, 1e-9):,.0f} "
            f"mutants/s), {short} problem(s) got fewer than {args.n}"
        )
        if SandboxPool is None:
            print("   kinds:", dict(Counter(c["origin"]["mutation"] for _, c in mutants).most_common()))
            continue
        jobs = [(r, c) for r in out for c in refs[r["id"]]] + mutants
        t0 = time.perf_counter()
        with SandboxPool(workers=args.workers, limits=Limits(timeout=4.0)) as pool:
            results = list(pool.map((c["code"], r["tests"]) for r, c in jobs))
        t_judge = time.perf_counter() - t0
        n_ref = sum(len(refs[r["id"]]) for r in out)
        ref_pass = sum(res["pass_rate"] == 1.0 for res in results[:n_ref])
        print(
            f"   references passing all tests: {ref_pass}/{n_ref}   (judge: {len(jobs) / t_judge:.1f} cand/s, "
            f"{args.workers} workers)"
        )
        per_kind: dict[str, Counter] = {}
        for (_r, c), res in zip(jobs[n_ref:], results[n_ref:]):
            per_kind.setdefault(c["origin"]["mutation"], Counter())[label_for(res["pass_rate"])] += 1
        total_f = sum(k["F"] for k in per_kind.values())
        print(f"   mutants labelled F: {total_f}/{len(mutants)} = {total_f / max(len(mutants), 1):.1%}")
        for kind, cnt in sorted(per_kind.items(), key=lambda kv: -sum(kv[1].values())):
            tot = sum(cnt.values())
            print(f"     {kind:<15} {cnt['F']:>4}/{tot:<4} F  ({cnt['F'] / tot:.0%})")


if __name__ == "__main__":
    main()
