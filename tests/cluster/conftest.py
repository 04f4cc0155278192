"""A real local Ray cluster for the `dist` tests (`make test-dist`, in .venv-train).

Two Ray nodes on this machine (ray.cluster_utils.Cluster: a head and one more raylet, one logical CPU each, their
own temp dir and ports), bound to loopback (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes Ray use 127.0.0.1), so the
per-node placement of the judge's pools is exercised as on a 2-node cluster. Without ray, every test here skips
and says why.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import tempfile

import pytest

from tests.conftest import SHARED_DATA

# Candidates for the code-contests problems (which come without any): deterministic verdicts, no timeouts.
CC_CODES = [
    "print(input())\n",  # echo the first line: right for a few problems
    "import sys\nprint(len(sys.stdin.read().split()))\n",  # wrong answers mostly
    "print(0)\n",
    "x = \n",  # C
    "raise SystemExit(3)\n",  # R
]


@pytest.fixture(scope="session")
def ray_cluster():
    """The address of a 2-node local Ray cluster (1 CPU per node), connected in this process."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not importable in this interpreter: the dist tests run in .venv-train (make test-dist)")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every Ray address on 127.0.0.1
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB per engine; inherited by the raylets' workers
    import ray
    from ray.cluster_utils import Cluster

    tmp = tempfile.mkdtemp(prefix="crl-ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    # Ray writes the address of the newest cluster to /tmp/ray whatever temp_dir says, and fails where no Ray
    # run made that folder before (`make test-dist` on its own on a fresh machine).
    os.makedirs("/tmp/ray", exist_ok=True)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False, "temp_dir": tmp})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, configure_logging=False)
    try:
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def judge_problems():
    """LeetCode sample problems (reference + 2 mutants each) and code-contests problems (5 fixed candidates)."""
    from crlcli.generation import SamplingParams, get_backend
    from crlcli.generation.candidates import GenSettings, generate_candidates
    from crlcli.sources import load

    data = SHARED_DATA / "cp_samples"
    if not (data / "leetcode.json").exists() or not (data / "code_contests.json").exists():
        pytest.skip(f"the code-contests and LeetCode samples are not in {data} (set CRL_EVAL_DATA)")
    lc = list(
        generate_candidates(
            load("leetcode", str(data / "leetcode.json")),
            get_backend("mutate", seed=0),
            GenSettings(params=SamplingParams(n=2)),
        )
    )
    cc = list(load("code-contests", str(data / "code_contests.json")))
    for rec in cc:
        rec["candidates"] = [{"id": f"c{i}", "code": code} for i, code in enumerate(CC_CODES)]
    return lc + cc


@pytest.fixture(scope="session")
def local_verdicts(judge_problems):
    """The local judge's verdicts (2 workers), the reference the cluster's must equal."""
    from crlcli.judging import judge_records
    from crlcli.sandbox import Limits, SandboxPool

    with SandboxPool(workers=2, limits=Limits()) as pool:
        return verdicts(judge_records(copy.deepcopy(judge_problems), pool, 0.8, Limits()))


def verdicts(records) -> list[tuple[str, list[tuple[str, str, str]]]]:
    return [
        (r["id"], [(c["id"], c["judgment"]["verdicts"], c["judgment"]["label"]) for c in r.get("candidates") or []])
        for r in records
    ]
