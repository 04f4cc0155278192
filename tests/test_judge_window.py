"""The ordered window every judge shares (judging.judge_window), driven without sandboxes: by a fake runner whose
candidates finish in any order, and by the Ray judge's runner over a fake `ray` (actors that answer late, die, or
fail). Real sandboxes: tests/test_judging.py; a real Ray cluster: tests/cluster/test_judge_ray.py."""

from __future__ import annotations

import random
from concurrent.futures import Future

import pytest

from crlcli.distributed.judge import RayJudge
from crlcli.errors import CrlError
from crlcli.judging import JudgeStats, judge_window
from crlcli.sandbox import Limits

TESTS = {"type": "stdio", "cases": [{"input": "1\n", "output": "1\n"}, {"input": "2\n", "output": "2\n"}]}


def result(code: str) -> dict:
    """What a pool would say: code "ok" passes both cases, anything else passes one."""
    passed = 2 if code == "ok" else 1
    return {
        "pass_rate": passed / 2,
        "passed": passed,
        "total": 2,
        "verdicts": "AA" if passed == 2 else "AW",
        "time_ms": 1,
    }


def records(n: int, per: int = 3) -> list[dict]:
    out = []
    for k in range(n):
        if k % 5 == 3:
            out.append({"id": f"r{k}"})  # no candidates: passes through, in its place
            continue
        out.append(
            {
                "id": f"r{k}",
                "tests": TESTS,
                "candidates": [{"id": f"c{j}", "code": "ok" if (k + j) % 2 else "bad"} for j in range(per)],
            }
        )
    return out


class ShuffledRunner:
    """Candidates finish in a random order, and only when the window waits: the window alone keeps the order."""

    def __init__(self, limit: int, seed: int = 0):
        self.limit, self.rng = limit, random.Random(seed)
        self.queued: list[tuple[Future, str]] = []
        self.most_in_flight = 0
        self.flushed = self.abandoned = False

    def submit(self, tests, codes):
        futures = [Future() for _ in codes]
        self.queued += zip(futures, codes)
        self.most_in_flight = max(self.most_in_flight, len(self.queued))
        return futures

    def flush(self):
        self.flushed = True

    def wait(self, futures):
        fut, code = self.queued.pop(self.rng.randrange(len(self.queued)))
        fut.set_result(result(code))

    def abandon(self):
        self.abandoned = True


def test_window_yields_in_input_order_whatever_order_candidates_finish_in():
    recs = records(40)
    runner, stats, seen = ShuffledRunner(limit=7), JudgeStats(), []
    out = list(judge_window(iter(recs), runner, Limits(), 0.8, on_candidate=seen.append, stats=stats))
    assert [r["id"] for r in out] == [f"r{k}" for k in range(40)] and runner.flushed
    judged = [c for r in out for c in r.get("candidates", [])]
    assert [c["judgment"]["verdicts"] for c in judged] == ["AA" if c["code"] == "ok" else "AW" for c in judged]
    assert all(c["judgment"]["label"] == ("T" if c["code"] == "ok" else "F") for c in judged)
    assert stats.records == 40 and stats.no_candidates == 8 and stats.candidates == len(judged) == 96
    assert stats.tests == 192 and seen == [2] * 96
    # the bound: past `limit` the window waits, so at most limit + one record's candidates are ever queued
    assert runner.most_in_flight <= 7 + 3


def test_window_rejects_bad_records_before_anything_runs_and_stops_cleanly():
    bad = {"id": "bad", "tests": {"type": "stdio", "cases": "nope"}, "candidates": [{"code": "ok"}]}
    runner, rejected = ShuffledRunner(limit=100), []
    out = list(judge_window([*records(2), bad], runner, Limits(), reject=lambda r, why: rejected.append(r["id"])))
    assert [r["id"] for r in out] == ["r0", "r1"] and rejected == ["bad"] and len(runner.queued) == 0
    runner = ShuffledRunner(limit=100)
    with pytest.raises(CrlError):  # no reject callback: a bad record stops the run, which abandons the runner
        list(judge_window([*records(2), bad], runner, Limits()))
    assert runner.abandoned


# ---------------------------------------------------------------------------------------------- the Ray runner


class FakeRay:
    """Just what _RayRunner calls: wait / get / cancel and the exception types. A batch is answered when waited
    on, oldest first; `die` names batches (by order sent) whose pool is gone for good (ActorDiedError) and
    `restart` ones whose pool restarts (RayActorError: the batch is sent again)."""

    class exceptions:
        class RayError(Exception):
            pass

        class RayActorError(RayError):
            pass

        class ActorDiedError(RayActorError):
            pass

        class ActorUnavailableError(RayError):
            pass

        class RayTaskError(RayError):
            pass

    def __init__(self, die=(), restart=()):
        self.die, self.restart = set(die), set(restart)
        self.sent: list[tuple[int, list]] = []  # (actor, items) per batch
        self.cancelled: list = []

    def wait(self, refs, num_returns=1):
        return [min(refs)], sorted(refs)[1:]

    def get(self, ref):
        actor, items = self.sent[ref]
        if ref in self.die:
            raise self.exceptions.ActorDiedError("gone")
        if ref in self.restart:
            raise self.exceptions.RayActorError("restarting")
        return [[result(code) for code in codes] for _, codes in items]

    def cancel(self, ref, force=False):
        self.cancelled.append(ref)


class FakeActor:
    def __init__(self, ray: FakeRay, index: int):
        self.judge = self  # actor.judge.remote(items)
        self.ray, self.index = ray, index

    def remote(self, items):
        self.ray.sent.append((self.index, items))
        return len(self.ray.sent) - 1


def ray_judge(fake: FakeRay, pools: int = 2, batch_size: int = 4, depth: int = 2) -> RayJudge:
    rj = RayJudge.__new__(RayJudge)  # no cluster: the attributes __init__ would set
    rj._ray, rj._owns_ray = fake, False
    rj.actors = [FakeActor(fake, i) for i in range(pools)]
    rj.workers, rj.alive = [1] * pools, [True] * pools
    rj.limits, rj.batch_size, rj.depth = Limits(), batch_size, depth
    rj.nodes, rj.warnings = [], []
    return rj


def expected(recs):
    return [[("AA" if c["code"] == "ok" else "AW") for c in r.get("candidates", [])] for r in recs]


def test_ray_runner_batches_in_order_and_matches_the_local_window():
    fake = FakeRay()
    recs = records(30, per=5)
    stats = JudgeStats()
    out = list(ray_judge(fake).judge_records(iter(recs), 0.8, stats=stats))
    assert [r["id"] for r in out] == [r["id"] for r in records(30, per=5)]
    assert [[c["judgment"]["verdicts"] for c in r.get("candidates", [])] for r in out] == expected(out)
    assert stats.candidates == 24 * 5 and stats.records == 30
    sizes = [sum(len(codes) for _, codes in items) for _, items in fake.sent]
    assert all(1 <= s <= 4 + 3 for s in sizes) and sum(sizes) == 120  # batches of about batch_size
    assert {actor for actor, _ in fake.sent} == {0, 1}  # both pools got work


def test_ray_runner_requeues_the_batches_of_a_lost_or_restarting_pool():
    fake = FakeRay(die={0}, restart={3})
    rj = ray_judge(fake)
    out = list(rj.judge_records(records(12, per=4)))
    assert [[c["judgment"]["verdicts"] for c in r.get("candidates", [])] for r in out] == expected(out)
    lost = fake.sent[0][0]
    assert rj.alive[lost] is False and rj.alive[1 - lost] is True  # the pool of batch 0 is gone for good

    def size(items):
        return sum(len(codes) for _, codes in items)

    # every candidate once, and the two failed batches once more (the very same items, sent again)
    assert sum(size(items) for _, items in fake.sent) == 40 + size(fake.sent[0][1]) + size(fake.sent[3][1])
    for k in (0, 3):
        again = [
            i
            for i, (_, items) in enumerate(fake.sent)
            if [id(c) for _, c in items] == [id(c) for _, c in fake.sent[k][1]]
        ]
        assert len(again) == 2 and fake.sent[again[1]][0] != lost, k


def test_ray_runner_refuses_when_every_pool_is_gone_and_cancels_on_a_stop():
    fake = FakeRay(die={0, 1})
    with pytest.raises(CrlError, match="every judge pool on the cluster is gone"):
        list(ray_judge(fake, batch_size=1, depth=1).judge_records(records(6)))
    fake = FakeRay()
    rj = ray_judge(fake, batch_size=1, depth=3)
    it = rj.judge_records(records(6))
    next(it)
    it.close()  # the consumer stops (an error downstream, an interrupt): what is queued on the pools is dropped
    assert fake.cancelled and all(ref < len(fake.sent) for ref in fake.cancelled)


def test_ray_judge_describes_its_pools_like_crl_judge_did():
    rj = ray_judge(FakeRay())
    rj.nodes = [{"host": "h", "ip": "1.2.3.4", "workers": 2, "mode": "limits"}]
    rj.workers, rj.alive = [2], [True]
    rj.warnings = ["node h judges with limits only, no isolation: x"]
    assert rj.describe() == [
        ("info", "ray: 1 sandbox pool(s), 2 worker(s): h 1.2.3.4 (2 x limits)"),
        ("warning", "node h judges with limits only, no isolation: x"),
        ("warning", "RUNNING UNTRUSTED CODE WITHOUT ISOLATION; --require-isolation refuses to"),
    ]
