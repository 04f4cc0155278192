"""Agreement of our EvalPlus scorer with the `evalplus` package itself, per task, on base and plus tests.

Samples: every task's canonical solution, plus mutants of it from `crl gen-candidates --backend mutate`. Both
scorers get the same solution code (EvalPlus's "solution" field; no sanitising on either side) and the same data
file (EvalPlus through its HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH variables). Every disagreement is listed
with both sides' verdicts and the input where they part.

    .venv-evalplus/bin/pip install evalplus==0.3.1       # its own venv: numpy, tree-sitter, wget, ...
    .venv/bin/python bench/evalplus_agreement.py --data ../shared/data --mutants 1 [--limit 40]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_bench import CpuMeter  # noqa: E402  CPU of this process and every sandbox / subprocess

FILES = {"humaneval": "humanevalplus/HumanEvalPlus.jsonl.gz", "mbpp": "mbppplus/MbppPlus.jsonl.gz"}
OVERRIDE = {"humaneval": "HUMANEVAL_OVERRIDE_PATH", "mbpp": "MBPP_OVERRIDE_PATH"}


def load(path: Path, limit: int | None) -> list[dict]:
    with gzip.open(path, "rt") as fh:
        recs = [json.loads(line) for line in fh if line.strip()]
    return recs[:limit] if limit else recs


def mutants(recs: list[dict], n: int, seed: int) -> dict[str, list[str]]:
    """n mutants per task from `crl gen-candidates --backend mutate`, the reference being the canonical code."""
    if n <= 0:
        return {}
    problems = [
        {
            "id": r["task_id"],
            "question": r["prompt"],
            "tests": {"type": "assert", "program": "pass", "cases": []},
            "candidates": [
                {"id": "ref", "code": r["prompt"] + r["canonical_solution"], "origin": {"backend": "reference"}}
            ],
        }
        for r in recs
    ]
    stdin = "".join(json.dumps(p) + "\n" for p in problems).encode()
    crl = Path(sys.executable).with_name("crl")
    out = subprocess.run(
        [str(crl), "gen-candidates", "--backend", "mutate", "--n", str(n), "--seed", str(seed)],
        input=stdin,
        capture_output=True,
        check=True,
    )
    result: dict[str, list[str]] = {}
    for line in out.stdout.decode().splitlines():
        rec = json.loads(line)
        result[rec["id"]] = [c["code"] for c in rec["candidates"] if c["origin"].get("backend") == "mutate"]
    return result


def ours(
    dataset: str, data_file: Path, samples: list[dict], workers: int, time_factor: float
) -> list[tuple[bool, bool, str]]:
    from concurrent.futures import ThreadPoolExecutor

    from crlcli.evaluation import get_benchmark
    from crlcli.sandbox import Limits, SandboxPool

    bench = get_benchmark(f"{dataset}+", data=data_file, time_limit_factor=time_factor)
    tasks = {t.task_id: t for t in bench.tasks()}
    bench.prepare(list(tasks.values()))
    with SandboxPool(workers=workers, limits=Limits(**bench.limits())) as pool, ThreadPoolExecutor(2 * workers) as ex:
        scores = list(ex.map(lambda s: bench.score_code(tasks[s["task_id"]], s["solution"], pool), samples))

    def why(v: dict) -> str:
        for test in ("base", "plus"):
            bad = next((i for i, c in enumerate(v.get(test, "")) if c != "A"), None)
            if bad is not None:
                return f"{test} input #{bad}: verdict {v[test][bad]} (A=pass, W=wrong, T=time limit, R=error)"
        return f"all {len(v.get('base', ''))} base + {len(v.get('plus', ''))} plus inputs pass"

    return [(s.metrics["base"], s.metrics["plus"], why(s.verdicts)) for s in scores]


def official(dataset: str, data_file: Path, samples: list[dict], python: str, parallel: int, work: Path, factor: float):
    path = work / f"{dataset}_samples.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    env = {**os.environ, OVERRIDE[dataset]: str(data_file)}
    cmd = [
        python,
        "-m",
        "evalplus.evaluate",
        "--dataset",
        dataset,
        "--samples",
        str(path),
        "--parallel",
        str(parallel),
        "--i_just_wanna_run",
        "--gt_time_limit_factor",
        str(factor),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"evalplus failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    results = json.loads((work / f"{dataset}_samples_eval_results.json").read_text())["eval"]
    per_task: dict[str, list[dict]] = {k: list(v) for k, v in results.items()}
    out = []
    for s in samples:
        r = per_task[s["task_id"]].pop(0)
        base = r["base_status"] == "pass"
        plus = base and r["plus_status"] == "pass"
        fail = (r.get("base_fail_tests") or r.get("plus_fail_tests") or [None])[0]
        out.append(
            (base, plus, f"base {r['base_status']} plus {r['plus_status']} first failing input {str(fail)[:80]}")
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--datasets", default="humaneval,mbpp")
    ap.add_argument("--limit", type=int, default=None, help="first K tasks of each dataset (default: all)")
    ap.add_argument("--mutants", type=int, default=1, help="mutants per task")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--time-factor",
        type=float,
        default=4.0,
        help="time limit = max(1 s, factor x canonical time) on both sides (EvalPlus default 4; "
        "a larger one takes machine load out of the comparison)",
    )
    ap.add_argument("--evalplus-python", default=str(REPO / ".venv-evalplus" / "bin" / "python"))
    args = ap.parse_args()
    if not Path(args.evalplus_python).exists():
        sys.exit(f"no evalplus interpreter at {args.evalplus_python}; see this script's docstring")
    print(f"time limit factor {args.time_factor} on both sides")
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} (shared; timings are noisy)")
    totals = {}
    cpu = CpuMeter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for ds in args.datasets.split(","):
            recs = load(args.data / FILES[ds], args.limit)
            data_file = work / f"{ds}.jsonl"
            data_file.write_text("".join(json.dumps(r) + "\n" for r in recs))
            muts = mutants(recs, args.mutants, args.seed)
            samples, kinds = [], []
            for r in recs:
                samples.append({"task_id": r["task_id"], "solution": r["prompt"] + r["canonical_solution"]})
                kinds.append("canonical")
                for m in muts.get(r["task_id"], []):
                    samples.append({"task_id": r["task_id"], "solution": m})
                    kinds.append("mutant")
            c0, t0 = cpu.seconds(), time.time()
            a = ours(ds, data_file, samples, args.workers, args.time_factor)
            c1, t1 = cpu.seconds(), time.time()
            b = official(ds, data_file, samples, args.evalplus_python, args.workers, work, args.time_factor)
            c2, t2 = cpu.seconds(), time.time()
            print(f"\n== {ds}: {len(recs)} tasks, {len(samples)} samples; ours {t1 - t0:.0f}s, evalplus {t2 - t1:.0f}s")
            if c0 is not None:  # a cpuacct cgroup: the whole process tree of each side, sandboxes included
                print(
                    f"CPU: ours {c1 - c0:.1f} s, evalplus {c2 - c1:.1f} s, ours / evalplus {(c1 - c0) / (c2 - c1):.2f}"
                )
            for kind in ("canonical", "mutant"):
                idx = [i for i, k in enumerate(kinds) if k == kind]
                if not idx:
                    continue
                for j, test in enumerate(("base", "plus")):
                    agree = sum(a[i][j] == b[i][j] for i in idx)
                    passed = (sum(a[i][j] for i in idx), sum(b[i][j] for i in idx))
                    totals[(ds, kind, test)] = (agree, len(idx))
                    print(
                        f"{kind:9s} {test}: agreement {agree}/{len(idx)} = {100 * agree / len(idx):.2f}%  "
                        f"(passing: ours {passed[0]}, evalplus {passed[1]})"
                    )
            diffs = [i for i in range(len(samples)) if a[i][:2] != b[i][:2]]
            for i in diffs:
                print(
                    f"  DISAGREE {samples[i]['task_id']} ({kinds[i]}): ours base={a[i][0]} plus={a[i][1]} [{a[i][2]}]"
                    f" | evalplus base={b[i][0]} plus={b[i][1]} [{b[i][2]}]"
                )
    print("\nsummary:", json.dumps({"/".join(k): f"{v[0]}/{v[1]}" for k, v in totals.items()}))
    cpu.close()


if __name__ == "__main__":
    main()
