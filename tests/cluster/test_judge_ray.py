"""`crl judge` over Ray: one sandbox pool per node, verdicts identical to the local judge, nothing lost when a
pool dies mid-run (Ray restarts it and retries its batches, or its batches go to the other pools)."""

from __future__ import annotations

import copy
import itertools

import pytest

from crlcli.errors import CrlError
from crlcli.sandbox import Limits
from tests.cluster.conftest import verdicts

pytestmark = [pytest.mark.dist, pytest.mark.heavy, pytest.mark.timeout(1200)]


def test_one_pool_per_node_same_verdicts_as_local(ray_cluster, judge_problems, local_verdicts):
    from crlcli.distributed.judge import RayJudge
    from crlcli.judging import JudgeStats

    with RayJudge(ray_cluster, limits=Limits(), batch_size=8) as rj:
        assert len(rj.nodes) == 2 and len({d["node_id"] for d in rj.nodes}) == 2  # one pool on each node
        assert [d["workers"] for d in rj.nodes] == [1, 1]
        stats = JudgeStats()
        out = verdicts(rj.judge_records(copy.deepcopy(judge_problems), 0.8, stats=stats))
    assert out == local_verdicts
    n_cands = sum(len(r["candidates"]) for r in judge_problems)
    assert stats.candidates == n_cands and stats.records == len(judge_problems)
    labels = {lab for _, cands in out for _, _, lab in cands}
    assert labels == {"T", "F"}  # the sample exercises both outcomes


@pytest.mark.parametrize("restart", [True, False], ids=["restarted", "gone"])
def test_killing_a_pool_mid_run_loses_nothing(ray_cluster, judge_problems, local_verdicts, restart):
    """restarted: Ray restarts the actor and retries its calls; gone: no restart, its batches are re-queued."""
    import ray

    from crlcli.distributed.judge import RayJudge

    problems = copy.deepcopy(judge_problems[:120])  # LeetCode problems: many small call batches
    with RayJudge(ray_cluster, limits=Limits(), batch_size=4) as rj:
        victim = rj.actors[0]
        pid = rj.nodes[0]["pid"]
        out = []
        for k, rec in enumerate(rj.judge_records(problems)):
            out.append(rec)
            if k == 10:
                ray.kill(victim, no_restart=not restart)
        if restart:
            assert rj.alive == [True, True]
            assert ray.get(victim.ping.remote(), timeout=120) != pid  # a new process took over
        else:
            assert rj.alive == [False, True]
    assert verdicts(out) == local_verdicts[:120]


def test_isolation_checked_on_every_node(ray_cluster):
    from crlcli.distributed.judge import RayJudge

    with pytest.raises(CrlError, match=r"isolation required but unavailable on 2 node\(s\)") as err:
        RayJudge(ray_cluster, mode="limits", require_isolation=True)
    assert "127.0.0.1" in err.value.message
    with RayJudge(ray_cluster, mode="limits") as rj:
        assert len(rj.warnings) == 2 and all("judges with limits only" in w for w in rj.warnings)
        rec = {
            "id": "x",
            "tests": {"type": "stdio", "cases": [{"input": "2\n", "output": "4\n"}]},
            "candidates": [{"id": "c0", "code": "print(int(input()) * 2)\n"}],
        }
        assert [r["candidates"][0]["judgment"]["verdicts"] for r in rj.judge_records([rec])] == ["A"]


def test_bad_records_rejected_in_order(ray_cluster):
    """Unusable tests are found by the driver before anything is sent (the local judge's rule and message)."""
    from crlcli.distributed.judge import RayJudge

    good = {
        "id": "g",
        "tests": {"type": "stdio", "cases": [{"input": "", "output": "1\n"}]},
        "candidates": [{"id": "c0", "code": "print(1)\n"}],
    }
    bad = {"id": "b", "tests": {"type": "stdio", "cases": []}, "candidates": [{"id": "c0", "code": "print(1)\n"}]}
    rejected = []
    with RayJudge(ray_cluster, pools=2, workers=1, batch_size=2) as rj:
        out = list(
            rj.judge_records(
                itertools.chain([good, bad, {"id": "n"}]), reject=lambda r, why: rejected.append((r["id"], why))
            )
        )
    assert [r["id"] for r in out] == ["g", "n"] and "judgment" not in out[1]
    assert rejected == [("b", "record 'b': tests has no cases")]


def test_hostile_candidates_leave_the_others_verdicts_as_alone(ray_cluster):
    """Differential poisoning through the Ray judge (one worker per pool): honest and wrong candidates judged
    after hostile ones of every class get the verdicts they get alone from the local judge."""
    from crlcli.distributed.judge import RayJudge
    from crlcli.judging import judge_records
    from crlcli.sandbox import SandboxPool
    from tests.sandbox.test_poisoning import HALF, HONEST, HONEST_IO, HOSTILE, STDIO, WRONG, WRONG_IO

    plain = [(code, tests) for code, tests, check in HOSTILE.values() if check is None]
    honest = [(HONEST, HALF), (WRONG, HALF), (HONEST_IO, STDIO), (WRONG_IO, STDIO)]
    records, k = [], 0
    for hcode, htests in plain:  # one record per hostile class, then the honest ones on the same tests
        for code, tests in [(hcode, htests)] + [(c, t) for c, t in honest]:
            records.append({"id": f"r{k}", "tests": tests, "candidates": [{"id": "c0", "code": code}]})
            k += 1
    with SandboxPool(workers=1, limits=Limits()) as pool:
        alone = verdicts(judge_records(copy.deepcopy(records[1 : 1 + len(honest)]), pool, 0.8, Limits()))
    with RayJudge(ray_cluster, limits=Limits(), workers=1, batch_size=1) as rj:
        out = verdicts(rj.judge_records(copy.deepcopy(records), 0.8))
    stride = 1 + len(honest)
    for start in range(0, len(out), stride):
        hostile, after = out[start], out[start + 1 : start + stride]
        assert all(v != "A" * len(v) for _, cands in [hostile] for _, v, _ in cands), hostile
        assert [c for _, c in after] == [c for _, c in alone], (records[start]["candidates"][0]["code"], after)
