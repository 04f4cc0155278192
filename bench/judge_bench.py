"""Sandbox throughput on trivial programs (read two ints, print the sum / add two args), 30 tests per candidate.

Prints, for the bwrap sandbox (or whatever mode the host gives; the mode is printed):
- worker start-up and per-candidate set-up (ms);
- stdio and call tests/s with 1 worker and with all cores, and tests per CPU-second (CPU time of this process
  and every sandbox, from a cpuacct cgroup when available, so the figure holds on a busy machine too);
- the naive baseline measured side by side: a fresh `python3` per test, same tests, same comparison;
- a GRPO step's worth: N candidates x 30 tests (default 1,024), wall time on all cores.

    python bench/judge_bench.py                 # defaults: a few minutes on 2 busy cores
    python bench/judge_bench.py --cands 200 --grpo 1024 --mode bwrap
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from crlcli.sandbox import Limits, SandboxPool, stdio_equal
from crlcli.sandbox.pool import Sandbox, detect_isolation

STDIO_CODE = "a, b = map(int, input().split())\nprint(a + b)\n"
CALL_CODE = "def add(a, b):\n    return a + b\n"


def stdio_tests(n: int) -> dict:
    return {"type": "stdio", "cases": [{"input": f"{i} {i * 7}\n", "output": f"{i * 8}\n"} for i in range(n)]}


def call_tests(n: int) -> dict:
    return {"type": "call", "fn_name": "add", "cases": [{"input": [i, i * 7], "output": i * 8} for i in range(n)]}


class CpuMeter:
    """CPU seconds of this process and all its descendants (sandboxes included) via a cpuacct cgroup."""

    def __init__(self):
        self.path = None
        base = Path("/sys/fs/cgroup/cpuacct")
        if os.geteuid() == 0 and (base / "cgroup.procs").exists():
            try:
                self.path = base / f"crl-bench-{os.getpid()}"
                self.path.mkdir(exist_ok=True)
                (self.path / "cgroup.procs").write_text(str(os.getpid()))
            except OSError:
                self.path = None

    def seconds(self) -> float | None:
        if self.path is None:
            return None
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        if self.path is not None:
            try:
                (self.path.parent / "cgroup.procs").write_text(str(os.getpid()))
                self.path.rmdir()
            except OSError:
                pass


def measure(cpu: CpuMeter, workers: int, code: str, tests: dict, n: int, mode: str) -> dict:
    """Throughput of n candidates on warm sandboxes (workers started before the clock)."""
    with SandboxPool(workers=workers, limits=Limits(timeout=6.0), mode=mode) as pool:
        list(pool.map([(code, tests)] * (2 * workers)))  # warm every worker
        c0, t0 = cpu.seconds(), time.perf_counter()
        results = list(pool.map([(code, tests)] * n))
        wall = time.perf_counter() - t0
        c1 = cpu.seconds()
    assert all(r["pass_rate"] == 1.0 for r in results), results[0]
    total = sum(r["total"] for r in results)
    return {"tests_s": total / wall, "cand_s": n / wall, "cpu_tests_s": total / (c1 - c0) if c0 is not None else None}


def naive(cpu: CpuMeter, workers: int, tests: dict, n_tests: int) -> dict:
    """A fresh interpreter per test case, as simple harnesses do."""
    cases = tests["cases"]

    def one(k: int) -> bool:
        case = cases[k % len(cases)]
        r = subprocess.run(
            [sys.executable, "-c", STDIO_CODE], input=case["input"].encode(), capture_output=True, timeout=30
        )
        return stdio_equal(r.stdout.decode(), case["output"])

    c0, t0 = cpu.seconds(), time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        ok = list(ex.map(one, range(n_tests)))
    wall = time.perf_counter() - t0
    c1 = cpu.seconds()
    assert all(ok)
    return {"tests_s": n_tests / wall, "cpu_tests_s": n_tests / (c1 - c0) if c0 is not None else None}


FLOOR = r"""
import os, resource, sys
n = int(sys.argv[1])
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
c0 = cpu()
for i in range(n):
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(in_w)
        a, b = map(int, os.read(in_r, 64).split())
        os.write(out_w, b"%d\n" % (a + b))
        os._exit(0)
    os.close(in_r)
    os.close(out_w)
    os.write(in_w, b"%d 2\n" % i)
    os.close(in_w)
    assert os.read(out_r, 64) == b"%d\n" % (i + 2)
    os.close(out_r)
    os.waitpid(pid, 0)
print(cpu() - c0)
"""


def floor_ms(n: int) -> float:
    """The bare loop in a small fresh interpreter (the strictest floor)."""
    out = subprocess.run([sys.executable, "-I", "-c", FLOOR, str(n)], capture_output=True, text=True, check=True)
    return 1000 * float(out.stdout) / n


def bare_fork_loop(n: int) -> dict:
    """Calibration: the floor for one fork per test (`floor_ms`), as tests per second and per CPU-second."""
    t0 = time.perf_counter()
    ms = floor_ms(n)
    return {"tests_s": n / (time.perf_counter() - t0), "cpu_tests_s": 1000 / ms}


def setup_ms(cpu: CpuMeter, mode: str, n: int) -> tuple[float, float, float | None]:
    """(worker start-up ms, per-candidate set-up ms): a worker's bwrap + runner start, then candidates with a
    single trivial test on one warm worker (the set-up is everything but that one test)."""
    info = detect_isolation(mode)
    starts = []
    for _ in range(3):
        box = Sandbox(info, slot=0)
        t = time.perf_counter()
        box.start()
        starts.append(time.perf_counter() - t)
        box.stop(graceful=True)
    with SandboxPool(workers=1, mode=mode) as pool:
        list(pool.map([(CALL_CODE, call_tests(1))] * 3))
        c0, t = cpu.seconds(), time.perf_counter()
        list(pool.map([(CALL_CODE, call_tests(1))] * n))
        per = (time.perf_counter() - t) / n
        c1 = cpu.seconds()
    return 1000 * min(starts), 1000 * per, (1000 * (c1 - c0) / n if c0 is not None else None)


def fmt(x: float | None) -> str:
    return "   n/a" if x is None else f"{x:8,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cands", type=int, default=48, help="candidates per throughput measurement")
    ap.add_argument("--tests", type=int, default=30, help="tests per candidate")
    ap.add_argument("--naive-tests", type=int, default=120, help="tests for the fresh-python3 baseline")
    ap.add_argument("--grpo", type=int, default=1024, help="candidates in the GRPO-step measurement (0: skip)")
    ap.add_argument("--mode", default="auto", help="sandbox mode: auto | bwrap | limits")
    args = ap.parse_args()

    cores = os.cpu_count() or 1
    info = detect_isolation(args.mode)
    cpu = CpuMeter()
    load = os.getloadavg()[0]
    print(f"sandbox mode: {info.mode} ({info.detail})")
    print(
        f"cores: {cores}; load average at start: {load:.1f} (a shared machine makes wall-clock figures noisy; "
        f"the per-CPU-second column counts only our own CPU time)"
    )
    start_ms, cand_ms, cand_cpu = setup_ms(cpu, args.mode, max(10, args.cands // 2))
    print(
        f"worker start-up (bwrap + runner): {start_ms:.0f} ms once per worker; per-candidate set-up + one call "
        f"test: {cand_ms:.1f} ms wall" + (f", {cand_cpu:.1f} ms CPU" if cand_cpu is not None else "")
    )
    st, ct = stdio_tests(args.tests), call_tests(args.tests)
    print(f"\n{'':34s}{'tests/s':>9s}{'cand/s':>9s}{'tests/CPU-s':>13s}")
    bare = bare_fork_loop(300)
    print(f"calibration: bare fork loop, 1 core   {fmt(bare['tests_s'])}          {fmt(bare['cpu_tests_s'])}")
    rows = {}
    for workers in sorted({1, cores}):
        for name, code, tests in (("stdio", STDIO_CODE, st), ("call", CALL_CODE, ct)):
            r = measure(cpu, workers, code, tests, args.cands * workers, args.mode)
            rows[(name, workers)] = r
            print(
                f"sandbox {name:5s} {workers:2d} worker(s)            {fmt(r['tests_s'])} {r['cand_s']:8.1f}"
                f" {fmt(r['cpu_tests_s'])}"
            )
        nv = naive(cpu, workers, st, args.naive_tests * workers)
        rows[("naive", workers)] = nv
        print(f"naive python3/test {workers:2d} worker(s)       {fmt(nv['tests_s'])}          {fmt(nv['cpu_tests_s'])}")
    print()
    for workers in sorted({1, cores}):
        s, nv = rows[("stdio", workers)], rows[("naive", workers)]
        ratio = s["tests_s"] / nv["tests_s"]
        cpu_ratio = (s["cpu_tests_s"] / nv["cpu_tests_s"]) if s["cpu_tests_s"] and nv["cpu_tests_s"] else None
        print(
            f"stdio vs naive, {workers} worker(s): {ratio:.1f}x wall"
            + (f", {cpu_ratio:.1f}x per CPU-second" if cpu_ratio else "")
        )
    if cores > 1:
        for name in ("stdio", "call"):
            print(
                f"scaling {name} 1 -> {cores} workers: "
                f"{rows[(name, cores)]['tests_s'] / rows[(name, 1)]['tests_s']:.2f}x"
            )
        print(
            f"per core (all cores busy): stdio {rows[('stdio', cores)]['tests_s'] / cores:,.0f} tests/s, "
            f"call {rows[('call', cores)]['tests_s'] / cores:,.0f} tests/s"
        )
    if args.grpo:
        with SandboxPool(workers=cores, mode=args.mode) as pool:
            t = time.perf_counter()
            res = list(pool.map([(STDIO_CODE, st)] * args.grpo))
            wall = time.perf_counter() - t
        assert all(r["pass_rate"] == 1.0 for r in res)
        print(
            f"\nGRPO step: {args.grpo} candidates x {args.tests} stdio tests on {cores} workers: {wall:.1f} s wall "
            f"(incl. worker start-up), {args.grpo * args.tests / wall:,.0f} tests/s"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    cpu.close()


if __name__ == "__main__":
    main()
