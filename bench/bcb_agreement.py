"""Agreement of crl's BigCodeBench scorer (`crl eval --benchmark bigcodebench`) with the official harness,
bigcodebench 0.2.5 from PyPI, per task.

Samples: each task's canonical solution (`complete_prompt` + `canonical_solution`, as a samples file's
`solution`) and `crl gen-candidates --backend mutate` mutants of it. Both sides grade the same solution text,
calibrated (the leaderboard's setting: `code_prompt` + "\\n    pass\\n" in front), with the official limits
(30 GiB address space and data, 10 MiB stack, max(240 s, ground truth) + 1 s per task): ours through
`BigCodeBench.check` in the sandbox with the task interpreter of `make bcb-env`; theirs through
`bigcodebench.eval.untrusted_check` (what its `evaluate` calls per sample) in its own venv from
`make bcb-official-env`, which sees the same task libraries. Tasks whose libraries or NLTK data the task
interpreter lacks are environment errors on our side and are left out (listed). Every disagreement is listed
with both sides' reasons.

    make bcb-env bcb-official-env
    .venv/bin/python bench/bcb_agreement.py [--limit 100] [--mutants 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import mutate_references  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

_OFFICIAL = r"""
import json, sys
from concurrent.futures import ProcessPoolExecutor
from bigcodebench.eval import untrusted_check

def one(s):
    # evaluate.py's defaults: max_as_limit = max_data_limit = 30*1024 MB, max_stack_limit = 10 MB,
    # min_time_limit = 1, gt_time_limit = the ground truth's time (20 when unknown); the task limit is
    # max(BIGCODEBENCH_TIMEOUT_PER_TASK = 240, that) + 1 either way.
    stat, details = untrusted_check(s["solution"], s["test"], s["entry_point"], 30 * 1024, 30 * 1024, 10, 1, 20)
    return [stat, ", ".join(f"{k}: {str(v)[:100]}" for k, v in list(details.items())[:2])]

if __name__ == "__main__":
    job = json.load(open(sys.argv[1]))
    with ProcessPoolExecutor(job["workers"]) as ex:
        out = list(ex.map(one, job["samples"]))
    json.dump(out, open(sys.argv[2], "w"))
"""


def mutants(rows: list[dict], n: int, seed: int) -> dict[str, list[str]]:
    refs = {r["task_id"]: (r["instruct_prompt"], r["complete_prompt"] + "\n" + r["canonical_solution"]) for r in rows}
    return mutate_references(refs, n, seed)


def main() -> None:
    from crlcli.evaluation.bigcodebench import BigCodeBench, default_data, is_env_error

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=default_data(), help="BigCodeBench jsonl (or its folder)")
    ap.add_argument("--limit", type=int, default=100, help="first N tasks (0 = all 1,140)")
    ap.add_argument("--mutants", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--task-python", default=str(REPO / ".venv-bcb" / "bin" / "python"))
    ap.add_argument("--official-python", default=str(REPO / ".venv-bcb-official" / "bin" / "python"))
    args = ap.parse_args()
    for p in (args.task_python, args.official_python):
        if not Path(p).exists():
            sys.exit(f"no interpreter at {p}: run `make bcb-env bcb-official-env` (see this script's docstring)")
    version = subprocess.run(
        [args.official_python, "-c", "import bigcodebench; print(bigcodebench.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    bench = BigCodeBench(data=args.data, task_python=args.task_python, workers=args.workers, calibrated=True)
    rows = bench.rows[: args.limit] if args.limit else bench.rows
    print(
        f"BigCodeBench {bench.path.name}: {len(rows)} tasks; official harness bigcodebench {version}; "
        f"calibrated; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    muts = mutants(rows, args.mutants, args.seed)
    samples = []
    for r in rows:
        canon = r["complete_prompt"] + "\n" + r["canonical_solution"]
        samples.append({"row": r, "kind": "canonical", "solution": canon})
        samples += [{"row": r, "kind": "mutant", "solution": m} for m in muts.get(r["task_id"], [])]
    t0 = time.time()
    with ThreadPoolExecutor(2 * args.workers) as ex:
        a = list(ex.map(lambda s: bench.check(s["row"], s["solution"]), samples))
    bench.close()
    t1 = time.time()
    env = {s["row"]["task_id"]: sc.verdicts.get("env_error") for s, sc in zip(samples, a) if is_env_error(sc)}
    keep = [i for i, s in enumerate(samples) if s["row"]["task_id"] not in env]
    with tempfile.TemporaryDirectory() as tmp:
        job = {
            "workers": args.workers,
            "samples": [
                {
                    "solution": bench.solution(samples[i]["row"], samples[i]["solution"]),
                    "test": samples[i]["row"]["test"],
                    "entry_point": samples[i]["row"]["entry_point"],
                }
                for i in keep
            ],
        }
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        (Path(tmp) / "official.py").write_text(_OFFICIAL)
        # Output to a file, not a pipe, and the harness in a session of its own that is killed afterwards: a task
        # can leave processes behind in it (BigCodeBench/205's pool workers outlive the harness, whose
        # reliability_guard disabled os.kill), and they would hold a pipe open for ever.
        with open(Path(tmp) / "log.txt", "w") as log:
            proc = subprocess.Popen(
                [
                    args.official_python,
                    str(Path(tmp) / "official.py"),
                    str(Path(tmp) / "job.json"),
                    str(Path(tmp) / "out.json"),
                ],
                stdout=log,
                stderr=log,
                cwd=tmp,
                start_new_session=True,
            )
            rc = proc.wait()
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
        if rc != 0:
            sys.exit(f"the official harness failed:\n{(Path(tmp) / 'log.txt').read_text()[-3000:]}")
        b = dict(zip(keep, json.loads((Path(tmp) / "out.json").read_text())))
    t2 = time.time()
    print(f"time: ours {t1 - t0:.0f} s, official {t2 - t1:.0f} s; environment errors (left out): {len(env)} task(s)\n")
    print("| samples | tasks | agreement | passing (ours / official) |")
    print("|---|---|---|---|")
    for kind in ("canonical", "mutant"):
        idx = [i for i in keep if samples[i]["kind"] == kind]
        if not idx:
            continue
        agree = sum(a[i].metrics["pass"] == (b[i][0] == "pass") for i in idx)
        print(
            f"| {kind} | {len({samples[i]['row']['task_id'] for i in idx})} | {agree}/{len(idx)} = "
            f"{100 * agree / len(idx):.2f}% | {sum(a[i].metrics['pass'] for i in idx)} / "
            f"{sum(b[i][0] == 'pass' for i in idx)} |"
        )
    diffs = [i for i in keep if a[i].metrics["pass"] != (b[i][0] == "pass")]
    print(f"\n{len(diffs)} disagreement(s)")
    for i in diffs:
        s = samples[i]
        print(
            f"  DISAGREE {s['row']['task_id']} ({s['kind']}): ours pass={a[i].metrics['pass']} "
            f"[{a[i].verdicts.get('pass')} {a[i].detail or ''}] | official {b[i][0]} [{b[i][1][:200]}]"
        )
    if env:
        print("\nleft out (environment errors on our side): " + "; ".join(f"{t}: {w}" for t, w in env.items()))


if __name__ == "__main__":
    main()
