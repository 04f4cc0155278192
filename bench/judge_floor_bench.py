"""The judge against the physical floor (issue 17): CPU per test from a cpuacct cgroup, interleaved rounds.

Sandbox processes are not reaped up to the caller, so `/usr/bin/time` and RUSAGE_CHILDREN miss them: every crl
figure here is the CPU of this process and every sandbox process, read from a cpuacct cgroup this script joins.
Each round measures, back to back on the same (shared, noisy) machine:

- floor: a bare fork-per-test loop in a small fresh `python3 -I` (pipe in, pipe out, read two ints, print the
  sum), CPU per test from its own rusage (it reaps every child);
- stdio: 200 candidates x 30 trivial stdio tests on a warm 2-worker pool: CPU per test and the ratio to the floor;
- codeforces: 200 candidates x 1 stdio test: CPU per candidate (set-up + compile + one test);
- call: 200 candidates x 30 call tests on 2 workers: tests/s per core (wall) and tests per CPU-second.

Then, once: `crl judge` start-up (wall of a whole run on one 1-test candidate, and of `--help`-free import of the
command), and with --demo FILE, `crl judge` on the demo's candidates (cand/s, CPU, a digest of the verdicts).

    .venv/bin/python bench/judge_floor_bench.py [--rounds 3] [--demo demo-out/candidates.jsonl]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from judge_bench import CALL_CODE, STDIO_CODE, CpuMeter, call_tests, floor_ms, stdio_tests  # noqa: E402

from crlcli.sandbox import Limits, SandboxPool  # noqa: E402


def run_batch(pool: SandboxPool, cpu: CpuMeter, code: str, tests: dict, n: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of n candidates on a warm pool; every one must pass."""
    c0, t0 = cpu.seconds(), time.perf_counter()
    results = list(pool.map([(code, tests)] * n))
    wall, c1 = time.perf_counter() - t0, cpu.seconds()
    assert all(r["pass_rate"] == 1.0 for r in results), results[0]
    return c1 - c0, wall


def startup(reps: int) -> tuple[float, float]:
    """(median wall of a whole `crl judge` run on one 1-test candidate, median wall of one 1-test candidate on a
    warm pool): their difference is the start-up before the first candidate runs."""
    rec = {"id": "p", "question": "", "tests": stdio_tests(1), "candidates": [{"id": "c", "code": STDIO_CODE}]}
    data = (json.dumps(rec) + "\n").encode()
    crl = Path(sys.executable).with_name("crl")
    walls = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run([str(crl), "judge", "--workers", "1"], input=data, capture_output=True, check=True)
        walls.append(time.perf_counter() - t)
    with SandboxPool(workers=1) as pool:
        list(pool.map([(STDIO_CODE, stdio_tests(1))] * 3))
        one = []
        for _ in range(10):
            t = time.perf_counter()
            list(pool.map([(STDIO_CODE, stdio_tests(1))]))
            one.append(time.perf_counter() - t)
    return statistics.median(walls), statistics.median(one)


def _judge_file(cpu: CpuMeter, path: Path, out: Path) -> tuple[float, float, list]:
    crl = Path(sys.executable).with_name("crl")
    c0, t0 = cpu.seconds(), time.perf_counter()
    subprocess.run([str(crl), "judge", "-i", str(path), "-o", str(out)], check=True, stderr=subprocess.DEVNULL)
    wall, c1 = time.perf_counter() - t0, cpu.seconds()
    verdicts = [
        (r["id"], c["id"], c["judgment"]["verdicts"], c["judgment"]["label"])
        for r in map(json.loads, out.open())
        for c in r.get("candidates", [])
    ]
    return wall, c1 - c0, verdicts


def demo(cpu: CpuMeter, path: Path) -> None:
    """`crl judge` on the demo's candidates; then on the same file without the candidates that had a T verdict
    (what the judge costs when no time limit is being waited out)."""
    with tempfile.TemporaryDirectory() as tmp:
        wall, used, verdicts = _judge_file(cpu, path, Path(tmp) / "judged.jsonl")
        n = len(verdicts)
        digest = hashlib.sha256(json.dumps(verdicts).encode()).hexdigest()[:16]
        hangs = {(v[0], v[1]) for v in verdicts if "T" in v[2]}
        print(
            f"demo judge: {n} candidates in {wall:.1f} s wall, {used:.1f} CPU-s: {n / wall:,.0f} cand/s "
            f"({sum(v[3] == 'T' for v in verdicts)} labelled T; verdicts digest {digest}); "
            f"{len(hangs)} candidates have {sum(v[2].count('T') for v in verdicts)} timed-out cases"
        )
        rest = Path(tmp) / "no-hangs.jsonl"
        with rest.open("w") as fh:
            for rec in map(json.loads, path.open()):
                rec["candidates"] = [c for c in rec.get("candidates", []) if (rec["id"], c["id"]) not in hangs]
                fh.write(json.dumps(rec) + "\n")
        wall, used, verdicts = _judge_file(cpu, rest, Path(tmp) / "judged2.jsonl")
        print(
            f"demo judge without them: {len(verdicts)} candidates in {wall:.1f} s wall, {used:.1f} CPU-s: "
            f"{len(verdicts) / wall:,.0f} cand/s"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cands", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--floor-tests", type=int, default=3000)
    ap.add_argument("--demo", type=Path, default=None, help="a candidates.jsonl to judge with `crl judge`")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: rounds,startup")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    cpu = CpuMeter()
    if cpu.seconds() is None:
        sys.exit("needs root and a cpuacct cgroup (v1) to count the sandboxes' CPU")
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f} at start (shared machine: compare within a round)")
    n, w = args.cands, args.workers
    if "rounds" not in skip:
        st, st1, ct = stdio_tests(30), stdio_tests(1), call_tests(30)
        rows = []
        with SandboxPool(workers=w, limits=Limits(timeout=6.0)) as pool:
            list(pool.map([(STDIO_CODE, st)] * (2 * w)))
            print(
                "ms of CPU per stdio test (floor: the bare loop in a fresh `python3 -I`; the same loop in a big"
                " process costs several times more,\nfork cost follows the forking process's size); cf: CPU per"
                " 1-test candidate; call: tests/s per core by wall clock (load-sensitive)\nand tests per"
                " CPU-second (= tests/s of one fully used core)"
            )
            print(
                f"{'round':>5} {'floor':>7} {'stdio':>7} {'ratio':>6} {'cf ms':>7} {'call/s/core':>12}"
                f" {'call/CPU-s':>11}"
            )
            for k in range(args.rounds):
                fl = floor_ms(args.floor_tests)
                c, _ = run_batch(pool, cpu, STDIO_CODE, st, n)
                stdio = 1000 * c / (30 * n)
                c, _ = run_batch(pool, cpu, STDIO_CODE, st1, n)
                cf = 1000 * c / n
                c, wall = run_batch(pool, cpu, CALL_CODE, ct, n)
                call_core, call_cpu = 30 * n / wall / w, 30 * n / c
                rows.append((fl, stdio, stdio / fl, cf, call_core, call_cpu))
                print(
                    f"{k + 1:5d} {fl:7.2f} {stdio:7.2f} {stdio / fl:6.2f} {cf:7.2f} {call_core:12,.0f}"
                    f" {call_cpu:11,.0f}"
                )
        med = [statistics.median(col) for col in zip(*rows)]
        print(f"{'med':>5} {med[0]:7.2f} {med[1]:7.2f} {med[2]:6.2f} {med[3]:7.2f} {med[4]:12,.0f} {med[5]:11,.0f}")
        print(
            f"goals: stdio <= 1.5x floor: {'met' if med[2] <= 1.5 else 'NOT met'} ({med[2]:.2f}x); "
            f"codeforces <= 4 ms CPU/candidate: {'met' if med[3] <= 4 else 'NOT met'} ({med[3]:.2f}); "
            f"call >= 2,000 tests/s per core: {'met' if med[5] >= 2000 else 'NOT met'} "
            f"({med[5]:,.0f} per CPU-second, {med[4]:,.0f} by wall clock)"
        )
    if "startup" not in skip:
        whole, one = startup(5)
        print(
            f"crl judge, one 1-test candidate, whole run: {whole:.3f} s wall; one candidate on a warm pool "
            f"{1000 * one:.0f} ms; start-up before the first candidate ~{whole - one:.3f} s "
            f"(goal <= 0.3: {'met' if whole - one <= 0.3 else 'NOT met'})"
        )
    if args.demo:
        demo(cpu, args.demo)
    print(f"load {os.getloadavg()[0]:.1f} at end")
    cpu.close()


if __name__ == "__main__":
    main()
