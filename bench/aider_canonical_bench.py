"""Aider-Polyglot reference solutions through the real toolchains in the sandbox: pass rate and time.

For every exercise whose toolchain is installed, the `.meta` reference solution replaces the stubs and the
exercise's unit tests run (target: 100%); environment errors (toolchain or offline crate missing) are listed apart.

    python bench/aider_canonical_bench.py                                   # 4 exercises per language
    python bench/aider_canonical_bench.py --limit 0 --workers 2             # all 225
    python bench/aider_canonical_bench.py --languages python,javascript --limit 0
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from crlcli.evaluation.aider import LANGUAGES, load_exercises, run_tests, toolchain_status  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="polyglot-benchmark checkout (default ../shared/data/aider_polyglot)")
    ap.add_argument("--languages", default=",".join(LANGUAGES))
    ap.add_argument("--limit", type=int, default=4, help="exercises per language (0 = all)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    langs = [x for x in args.languages.split(",") if x]
    status = toolchain_status(langs)
    todo = []
    for lang in langs:
        exercises = load_exercises(args.data, [lang])
        todo += exercises[: args.limit] if args.limit else exercises

    def one(ex):
        t = time.monotonic()
        r = run_tests(ex, ex.reference_files())
        return ex, r, time.monotonic() - t

    start = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(one, todo))
    wall = time.monotonic() - start
    print("Aider-Polyglot reference solutions (sandboxed, all skipped tests enabled)")
    print(f"{'language':<11} {'run':>4} {'pass':>5} {'fail':>5} {'env':>4} {'rate':>8} {'mean s':>7}  toolchain")
    tot_run = tot_pass = 0
    for lang in langs:
        rs = [(ex, r, s) for ex, r, s in results if ex.language == lang]
        ran = [x for x in rs if x[1].status != "env_error"]
        ok = [x for x in ran if x[1].passed]
        tot_run, tot_pass = tot_run + len(ran), tot_pass + len(ok)
        rate = f"{100 * len(ok) / len(ran):.1f}%" if ran else "-"
        mean = sum(s for _, _, s in ran) / len(ran) if ran else 0
        print(
            f"{lang:<11} {len(ran):>4} {len(ok):>5} {len(ran) - len(ok):>5} {len(rs) - len(ran):>4} {rate:>8} "
            f"{mean:>7.1f}  {status[lang] or 'ok'}"
        )
    print(
        f"total: {tot_pass}/{tot_run} = {100 * tot_pass / max(1, tot_run):.1f}% (target 100%); "
        f"wall {wall:.0f} s with {args.workers} workers"
    )
    for ex, r, s in results:
        if r.status == "env_error":
            print(f"  env error  {ex.id}: {r.reason}")
        elif not r.passed:
            tail = " | ".join(r.output.strip().splitlines()[-3:])[:300]
            print(f"  {r.status:<9} {ex.id} ({s:.0f}s): {tail}")


if __name__ == "__main__":
    main()
