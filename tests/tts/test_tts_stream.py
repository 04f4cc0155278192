"""Both tts methods on a streaming backend (issue 27) make the same generations as on the batch path, and resume
from them: the openai backend against the loopback test server (deterministic answers per prompt and seed),
once streaming and once through a wrapper that hides its stream (the batch path crl used before); with
`ordered`, both paths write problem by problem in input order, and a torn run resumed with it loses nothing."""

from __future__ import annotations

import json

from crlcli.generation import get_backend
from crlcli.generation.stream import BatchOnly
from crlcli.tts import BudgetConfig, CritiqueConfig, Source, budget_force, critique_select

from ..generation.test_openai_backend import server  # noqa: F401 - the fixture
from .helpers import call_problem, read_jsonl, write_jsonl


def _tokenizer() -> str:
    from crlcli.generation.tiny import qwen3_tokenizer_dir

    return str(qwen3_tokenizer_dir())


def test_budget_force_streams_the_same_generations(server, tmp_path):  # noqa: F811
    s = server("--work", "0.01")
    backend = get_backend("openai", base_url=s.url, concurrency=3)
    problems = write_jsonl(tmp_path / "p.jsonl", [call_problem(f"p{i}") for i in range(4)])
    cfg = BudgetConfig(rounds=2, max_thinking_tokens=16, answer_tokens=8, seed=1)
    runs = {}
    for name, engine in (("stream", backend), ("batch", BatchOnly(backend))):
        summary = budget_force(
            Source(input=problems),
            tmp_path / name,
            cfg,
            "openai",
            backend.model,
            {},
            tokenizer=_tokenizer(),
            engine=engine,
        )
        assert [r["problems"] for r in summary["rounds"]] == [4, 4, 4]
        runs[name] = sorted(
            (g["id"], g["step"], g["kind"], g["round"], g["prompt_tail"], g["text"])
            for g in read_jsonl(tmp_path / name / "generations.jsonl")
        )
    assert runs["stream"] == runs["batch"]
    assert len(runs["stream"]) == 4 * 3 * 2  # a thinking and an answer per round, each saved once
    posts = len(s.requests())
    budget_force(
        Source(input=problems),
        tmp_path / "stream",
        cfg,
        "openai",
        backend.model,
        {},
        tokenizer=_tokenizer(),
        engine=backend,
    )
    assert len(s.requests()) == posts  # resumed from the saved generations: nothing asked again


def test_critique_select_streams_the_same_generations(server, tmp_path):  # noqa: F811
    s = server("--work", "0.01")
    backend = get_backend("openai", base_url=s.url, concurrency=4)
    problems = write_jsonl(tmp_path / "p.jsonl", [call_problem(f"p{i}") for i in range(3)])
    cfg = CritiqueConfig(k=2, m=3, candidate_tokens=64, critique_tokens=64, seed=2)
    runs = {}
    for name, engine in (("stream", backend), ("batch", BatchOnly(backend))):
        critique_select(
            Source(input=problems),
            tmp_path / name,
            cfg,
            "openai",
            backend.model,
            {},
            tokenizer=_tokenizer(),
            engine=engine,
        )
        gens = read_jsonl(tmp_path / name / "generations.jsonl")
        runs[name] = sorted(
            (g["id"], g["kind"], g.get("candidate", -1), tuple(o["text"] for o in g["outputs"])) for g in gens
        )
    assert runs["stream"] == runs["batch"]
    assert sum(1 for g in runs["stream"] if g[1] == "critiques") == 3 * 2  # every candidate critiqued once
    assert all(len(g[3]) == 3 for g in runs["stream"] if g[1] == "critiques")


def _cut(path, keep: int) -> None:
    """What a run killed mid-write leaves: its first `keep` lines and a torn one."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:keep]) + '{"id": "p1", "ste')


def test_budget_force_ordered_writes_problem_by_problem_and_resumes(server, tmp_path):  # noqa: F811
    # p0's prompt holds the server's slow word: its steps come back last, so completion order differs from input
    s = server("--work", "0.01", "--slow-word", "slowpoke", "--delay", "0.4")
    backend = get_backend("openai", base_url=s.url, concurrency=4)
    problems = write_jsonl(
        tmp_path / "p.jsonl",
        [call_problem("p0", fn="slowpoke")] + [call_problem(f"p{i}", fn=f"add_{i}") for i in range(1, 5)],
    )
    cfg = BudgetConfig(rounds=1, max_thinking_tokens=16, answer_tokens=8, seed=1)
    in_order = [(f"p{i}", step) for i in range(5) for step in range(4)]  # think + answer per round, each problem

    def run(name: str, engine=backend, **kw) -> list[tuple[str, int]]:
        budget_force(
            Source(input=problems),
            tmp_path / name,
            cfg,
            "openai",
            backend.model,
            {},
            tokenizer=_tokenizer(),
            engine=engine,
            **kw,
        )
        return [(g["id"], g["step"]) for g in read_jsonl(tmp_path / name / "generations.jsonl")]

    free = run("free")
    assert sorted(free) == in_order and free != in_order  # every step once, p0's last
    batch = run("batch", BatchOnly(backend))
    assert batch != in_order  # the batch path goes step by step across its batch ...
    assert run("batch-ordered", BatchOnly(backend), ordered=True) == in_order  # ... or problem by problem
    posts = len(s.requests())
    assert run("ordered", ordered=True, reorder_window=2) == in_order
    sent = s.requests()[posts:]
    p0_last = max(r["n"] for r in sent if "slowpoke(x)" in json.dumps(r["body"]))
    p2_first = min(r["n"] for r in sent if "add_2(x)" in json.dumps(r["body"]))
    assert p2_first > p0_last  # a window of 2: p2 waited until p0 was written
    for name, keep in (("ordered", 6), ("free", 6)):  # killed mid-run, resumed with --ordered
        _cut(tmp_path / name / "generations.jsonl", keep)
        got = run(name, ordered=True)
        assert sorted(got) == in_order  # nothing lost, nothing twice
        if name == "ordered":
            assert got == in_order  # an ordered run resumed ordered stays in order
        else:
            assert got[keep:] == [x for x in in_order if x not in got[:keep]]  # the rest appended in order


def test_critique_select_ordered_writes_problem_by_problem_and_resumes(server, tmp_path):  # noqa: F811
    s = server("--work", "0.01", "--slow-word", "slowpoke", "--delay", "0.4")
    backend = get_backend("openai", base_url=s.url, concurrency=4)
    problems = write_jsonl(
        tmp_path / "p.jsonl",
        [call_problem("p0", fn="slowpoke")] + [call_problem(f"p{i}", fn=f"add_{i}") for i in range(1, 4)],
    )
    cfg = CritiqueConfig(k=2, m=2, candidate_tokens=64, critique_tokens=64, seed=2)
    in_order = [(f"p{i}", kind) for i in range(4) for kind in ("candidates", 0, 1)]

    def run(name: str, engine=backend, **kw) -> list[tuple[str, object]]:
        critique_select(
            Source(input=problems),
            tmp_path / name,
            cfg,
            "openai",
            backend.model,
            {},
            tokenizer=_tokenizer(),
            engine=engine,
            **kw,
        )
        return [(g["id"], g.get("candidate", g["kind"])) for g in read_jsonl(tmp_path / name / "generations.jsonl")]

    free = run("free")
    assert sorted(free, key=str) == sorted(in_order, key=str) and free != in_order
    assert run("batch", BatchOnly(backend)) != in_order  # a batch's candidates, then its critiques ...
    assert run("batch-ordered", BatchOnly(backend), ordered=True) == in_order  # ... or problem by problem
    assert run("ordered", ordered=True, reorder_window=1) == in_order
    for name, keep in (("ordered", 4), ("free", 4)):
        _cut(tmp_path / name / "generations.jsonl", keep)
        got = run(name, ordered=True)
        assert sorted(got, key=str) == sorted(in_order, key=str)  # nothing lost, nothing twice
        if name == "ordered":
            assert got == in_order
        else:
            assert got[keep:] == [x for x in in_order if x not in got[:keep]]


def test_critique_select_ordered_with_a_separate_critic(server, tmp_path):  # noqa: F811
    # two backends: every candidate set streams first, then the critic; --ordered puts each phase in input order
    gen_server = server("--work", "0.01", "--slow-word", "slowpoke", "--delay", "0.4")
    crit_server = server("--work", "0.01", "--slow-word", "slowpoke", "--delay", "0.4")
    gen = get_backend("openai", base_url=gen_server.url, concurrency=4)
    crit = get_backend("openai", base_url=crit_server.url, concurrency=4)
    problems = write_jsonl(
        tmp_path / "p.jsonl",
        [call_problem("p0", fn="slowpoke")] + [call_problem(f"p{i}", fn=f"add_{i}") for i in range(1, 4)],
    )
    cfg = CritiqueConfig(k=2, m=2, candidate_tokens=64, critique_tokens=64, seed=2)
    critique_select(
        Source(input=problems),
        tmp_path / "run",
        cfg,
        "openai",
        gen.model,
        {},
        critic="critic",
        tokenizer=_tokenizer(),
        engine=gen,
        critic_engine=crit,
        ordered=True,
        reorder_window=2,
    )
    got = [(g["id"], g.get("candidate", g["kind"])) for g in read_jsonl(tmp_path / "run" / "generations.jsonl")]
    assert got == ([(f"p{i}", "candidates") for i in range(4)] + [(f"p{i}", j) for i in range(4) for j in (0, 1)])
    assert len(crit_server.requests()) == 4 * 2 * 2  # the critic made every critique, the generator none
