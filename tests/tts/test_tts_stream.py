"""Both tts methods on a streaming backend (issue 27) make the same generations as on the batch path, and resume
from them: the openai backend against the loopback test server (deterministic answers per prompt and seed),
once streaming and once through a wrapper that hides its stream (the batch path crl used before)."""

from __future__ import annotations

from crlcli.generation import get_backend
from crlcli.tts import BudgetConfig, CritiqueConfig, Source, budget_force, critique_select

from ..generation.test_openai_backend import server  # noqa: F401 - the fixture
from .helpers import call_problem, read_jsonl, write_jsonl


class BatchOnly:
    """The same backend without `stream`: tts falls back to its batch calls."""

    def __init__(self, backend):
        self._b = backend
        self.name, self.model, self.tokenizer = backend.name, backend.model, backend.tokenizer

    def chat(self, *a, **k):
        return self._b.chat(*a, **k)

    def complete(self, *a, **k):
        return self._b.complete(*a, **k)


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
        summary = budget_force(Source(input=problems), tmp_path / name, cfg, "openai", backend.model, {},
                               tokenizer=_tokenizer(), engine=engine)
        assert [r["problems"] for r in summary["rounds"]] == [4, 4, 4]
        runs[name] = sorted((g["id"], g["step"], g["kind"], g["round"], g["prompt_tail"], g["text"])
                            for g in read_jsonl(tmp_path / name / "generations.jsonl"))
    assert runs["stream"] == runs["batch"]
    assert len(runs["stream"]) == 4 * 3 * 2  # a thinking and an answer per round, each saved once
    posts = len(s.requests())
    budget_force(Source(input=problems), tmp_path / "stream", cfg, "openai", backend.model, {},
                 tokenizer=_tokenizer(), engine=backend)
    assert len(s.requests()) == posts  # resumed from the saved generations: nothing asked again


def test_critique_select_streams_the_same_generations(server, tmp_path):  # noqa: F811
    s = server("--work", "0.01")
    backend = get_backend("openai", base_url=s.url, concurrency=4)
    problems = write_jsonl(tmp_path / "p.jsonl", [call_problem(f"p{i}") for i in range(3)])
    cfg = CritiqueConfig(k=2, m=3, candidate_tokens=64, critique_tokens=64, seed=2)
    runs = {}
    for name, engine in (("stream", backend), ("batch", BatchOnly(backend))):
        critique_select(Source(input=problems), tmp_path / name, cfg, "openai", backend.model, {},
                        tokenizer=_tokenizer(), engine=engine)
        gens = read_jsonl(tmp_path / name / "generations.jsonl")
        runs[name] = sorted((g["id"], g["kind"], g.get("candidate", -1), tuple(o["text"] for o in g["outputs"]))
                            for g in gens)
    assert runs["stream"] == runs["batch"]
    assert sum(1 for g in runs["stream"] if g[1] == "critiques") == 3 * 2  # every candidate critiqued once
    assert all(len(g[3]) == 3 for g in runs["stream"] if g[1] == "critiques")
