"""`crl judge` over Ray: 1 vs 2 local "nodes", tests/s and tests/s per core.

A real Ray cluster on this machine (ray.cluster_utils.Cluster, loopback, its own temp dir): first one node with
one CPU (one sandbox pool actor of 1 worker), then two nodes with one CPU each (two pool actors, one per node,
placed by the same per-node rule `crl judge --ray-address` uses). The workload is judge_bench's trivial stdio
program (read two ints, print the sum), 30 tests per candidate, so the figures compare with the local pool's
(docs/judge.md: ~380-440 stdio tests/s per core here); the local 1-worker pool is measured side by side.

    .venv-train/bin/python bench/ray_judge_bench.py                # ~2 min on 2 busy cores
    .venv-train/bin/python bench/ray_judge_bench.py --cands 600 --tests 30

Needs ray (the training venv has it); without it the bench says so and exits 0 (`make bench` runs in .venv).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import shutil
import sys
import tempfile
import time

STDIO_CODE = "a, b = map(int, input().split())\nprint(a + b)\n"


def problems(cands: int, tests: int, per_record: int = 4) -> list[dict]:
    cases = [{"input": f"{i} {i * 7}\n", "output": f"{i * 8}\n"} for i in range(tests)]
    return [
        {
            "id": f"p{k}",
            "tests": {"type": "stdio", "cases": cases},
            "candidates": [{"id": f"c{j}", "code": STDIO_CODE} for j in range(per_record)],
        }
        for k in range(cands // per_record)
    ]


def run(label: str, judge, records: list[dict], cores: int, cpu) -> tuple[float, float | None]:
    """(tests/s, tests per CPU-second of everything this bench started: Ray's processes, pools, sandboxes)."""
    from crlcli.judging import JudgeStats

    stats = JudgeStats()
    c0, t0 = cpu.seconds(), time.monotonic()
    for _ in judge(copy.deepcopy(records), stats):
        pass
    wall, c1 = time.monotonic() - t0, cpu.seconds()
    assert stats.passed == stats.tests, "the trivial program must pass every test"
    rate = stats.tests / wall
    per_cpu = stats.tests / (c1 - c0) if c0 is not None and c1 > c0 else None
    print(
        f"{label:<34} {stats.candidates:>5} cand {stats.tests:>6} tests {wall:6.1f} s {rate:6.0f} tests/s "
        f"{rate / cores:5.0f} per core (wall)" + (f", {per_cpu:5.0f} per CPU-second" if per_cpu else ""),
        flush=True,
    )
    return rate, per_cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cands", type=int, default=400, help="candidates per run")
    ap.add_argument("--tests", type=int, default=30, help="test cases per candidate")
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    if importlib.util.find_spec("ray") is None:
        print(
            "ray_judge_bench: skipped, ray is not installed in this interpreter (run it with .venv-train/bin/python)",
            flush=True,
        )
        return 0
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback addresses only
    import ray
    from ray.cluster_utils import Cluster

    from crlcli.distributed.judge import RayJudge
    from crlcli.judging import judge_records
    from crlcli.sandbox import Limits, SandboxPool

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from judge_bench import CpuMeter  # a cpuacct cgroup: Ray's raylets and workers start inside it too

    cpu = CpuMeter()
    records = problems(args.cands, args.tests)
    limits = Limits(timeout=6)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {len(records)} records x "
        f"{len(records[0]['candidates'])} candidates x {args.tests} stdio tests",
        flush=True,
    )
    with SandboxPool(workers=1, limits=limits) as pool:
        print(f"sandbox mode: {pool.mode}", flush=True)
        local1 = run("local pool, 1 worker", lambda r, s: judge_records(r, pool, 0.8, limits, stats=s), records, 1, cpu)
    rates = {}
    for nodes in (1, 2):
        tmp = tempfile.mkdtemp(prefix="crl-ray-", dir="/tmp")
        cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": tmp}
        )
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, configure_logging=False, log_to_driver=False)
        try:
            with RayJudge(cluster.address, limits=limits, batch_size=args.batch_size) as rj:
                assert len({d["node_id"] for d in rj.nodes}) == nodes
                run(
                    f"ray, {nodes} node(s) x 1 core, warm-up",
                    lambda r, s: rj.judge_records(r, stats=s),
                    records[: max(1, len(records) // 8)],
                    nodes,
                    cpu,
                )
                rates[nodes] = run(
                    f"ray, {nodes} node(s) x 1 core", lambda r, s: rj.judge_records(r, stats=s), records, nodes, cpu
                )
        finally:
            ray.shutdown()
            cluster.shutdown()
            shutil.rmtree(tmp, ignore_errors=True)
    cpu.close()
    (r1, c1), (r2, c2) = rates[1], rates[2]
    print(
        f"scaling 1 -> 2 nodes (wall): x{r2 / r1:.2f} (ideal x2.00; load average now {os.getloadavg()[0]:.1f}); "
        f"per core: {r1:.0f} tests/s (1 node), {r2 / 2:.0f} (2 nodes), local 1-worker pool {local1[0]:.0f}",
        flush=True,
    )
    if c1 and c2 and local1[1]:
        print(f"tests per CPU-second: {c1:.0f} (1 node), {c2:.0f} (2 nodes), local pool {local1[1]:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
