"""Streaming through the openai backend against a real HTTP server on 127.0.0.1 (issue 27): at most --concurrency
samples in flight, the next one sent as soon as one returns, results as they complete (a slow prompt does not
hold the others back), and `crl eval` on it writes every missing sample once and resumes with nothing to redo;
`crl eval --ordered` writes task order though a slow task completes last, and resumes in order.
Cheap (no model): in the default suite, and in `make test-vllm` beside the engine tests."""

from __future__ import annotations

import json

from crlcli.generation import SamplingParams, get_backend
from crlcli.generation.stream import BatchOnly, GenRequest, stream

from .test_openai_backend import server  # noqa: F401 - the fixture


def test_stream_keeps_the_in_flight_bound_and_returns_as_done(server):  # noqa: F811
    s = server("--work", "0.05", "--slow-word", "SLOW", "--delay", "1.5")
    backend = get_backend("openai", base_url=s.url, concurrency=3)
    pulled, returned, ahead = [0], [0], [0]

    def requests():
        for i in range(10):
            pulled[0] += 1
            ahead[0] = max(ahead[0], pulled[0] - returned[0])
            text = "SLOW problem" if i == 0 else f"problem {i}"
            yield GenRequest(
                key=i, params=SamplingParams(n=2, max_tokens=64, seed=3), messages=[{"role": "user", "content": text}]
            )

    order = []
    for req, comps in stream(backend, requests()):
        returned[0] += 1
        order.append(req.key)
        assert len(comps) == 2 and all("return" in c.text for c in comps)
    assert sorted(order) == list(range(10))
    assert order.index(0) >= 5  # the slow prompt came back late; the rest did not wait for it
    posts = [r for r in s.requests() if r["path"].endswith("/chat/completions")]
    assert len(posts) == 20
    assert max(r["in_flight"] for r in posts) == 3  # the bound was reached and never passed
    assert ahead[0] <= 3  # requests are read only as far as free slots need
    seeds = {}
    for r in posts:
        seeds.setdefault(r["body"]["messages"][0]["content"], set()).add(r["body"]["seed"])
    assert all(len(v) == 2 for v in seeds.values())  # each sample its own seed


def test_eval_streams_writes_each_sample_once_and_resumes(server, tmp_path):  # noqa: F811
    from crlcli.evaluation import get_benchmark
    from crlcli.evaluation.pipeline import evaluate, run_info
    from crlcli.evaluation.rundir import RunDir

    s = server("--work", "0.02")
    data = tmp_path / "p.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "question": "Print the sum.",
                    "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
                }
            )
            + "\n"
            for i in range(6)
        )
    )
    bench = get_benchmark("jsonl", data=data)
    backend = get_backend("openai", base_url=s.url, concurrency=4)
    params = SamplingParams(n=3, max_tokens=64, seed=1)
    run = run_info("jsonl", bench, backend.model, "openai", params, False, {})
    summary = evaluate(bench, RunDir(tmp_path / "run"), backend, params, False, run, workers=1, batch_tasks=2)
    samples = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    pairs = sorted((x["task_id"], x["sample"]) for x in samples)
    assert pairs == sorted((f"p{i}", j) for i in range(6) for j in range(3))
    assert all("metrics" in x for x in samples)
    assert summary["counts"]["tasks"] == 6
    posts = len(s.requests())
    evaluate(bench, RunDir(tmp_path / "run"), backend, params, False, run, workers=1)
    assert len(s.requests()) == posts  # nothing missing, nothing generated again
    assert len((tmp_path / "run" / "samples.jsonl").read_text().splitlines()) == 18


def test_batch_fallback_groups_mixed_settings_and_stops_at_a_hold(server):  # noqa: F811
    s = server("--work", "0.01")
    backend = BatchOnly(get_backend("openai", base_url=s.url, concurrency=2))
    from crlcli.generation.stream import HOLD

    def requests():
        # stop lists (tts's end-of-thinking marker) and two budgets in one call; a hold ends a call early
        for i in range(5):
            yield GenRequest(
                key=i, params=SamplingParams(max_tokens=8 + i % 2, stop=["</think>"], seed=1), prompt=f"def f{i}():"
            )
        yield HOLD
        yield GenRequest(key=5, params=SamplingParams(max_tokens=8, seed=1), prompt="def f5():")

    out = list(stream(backend, requests(), batch=3))
    assert [r.key for r, _ in out] == [0, 1, 2, 3, 4, 5]  # request order within each call
    posts = s.requests()
    assert sorted(r["body"]["prompt"] for r in posts) == [f"def f{i}():" for i in range(6)]
    assert all(r["body"].get("stop") == ["</think>"] for r in posts if r["body"]["prompt"] != "def f5():")


def test_eval_ordered_writes_task_order_and_resumes(server, tmp_path, crl):  # noqa: F811
    # `crl eval --ordered` through the console script; p0's question holds the server's slow word, so its samples
    # complete last and the completion order differs from the task order
    s = server("--work", "0.02", "--slow-word", "slowpoke", "--delay", "0.5")
    data = tmp_path / "p.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "question": "Print the sum." + (" slowpoke" if i == 0 else ""),
                    "tests": {"type": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]},
                }
            )
            + "\n"
            for i in range(5)
        )
    )
    in_order = [(f"p{i}", j) for i in range(5) for j in range(2)]
    env = {"CRL_CACHE_DIR": str(tmp_path / "cache"), "CRL_EVAL_DATA": ""}

    def run(name: str, *extra: str) -> list[tuple[str, int]]:
        r = crl(
            "eval",
            "--benchmark",
            "jsonl",
            "--data",
            str(data),
            "--backend",
            "openai",
            "--base-url",
            s.url,
            "--n",
            "2",
            "--max-tokens",
            "64",
            "--no-thinking",
            "--seed",
            "1",
            "--workers",
            "1",
            "-o",
            str(tmp_path / name),
            *extra,
            env=env,
        )
        assert r.returncode == 0, r.stderr.decode()[-2000:]
        lines = (tmp_path / name / "samples.jsonl").read_text().splitlines()
        return [(x["task_id"], x["sample"]) for x in map(json.loads, lines)]

    free = run("free")
    assert sorted(free) == in_order and free != in_order  # each sample once, p0's last
    assert run("ordered", "--ordered", "--reorder-window", "2") == in_order
    for name in ("ordered", "free"):  # killed mid-run (3 lines and a torn one), resumed with --ordered
        path = tmp_path / name / "samples.jsonl"
        kept = path.read_text().splitlines(keepends=True)[:3]
        path.write_text("".join(kept) + '{"task_id": "p1", "sam')
        got = run(name, "--ordered")
        assert sorted(got) == in_order  # nothing lost, nothing twice
        assert got[3:] == [x for x in in_order if x not in got[:3]]  # the missing ones appended in task order
        if name == "ordered":
            assert got == in_order
