"""What critique-select's two generation paths share (critique.py's batches, critique_stream.py's streams): the
critic's prompt, and candidate sets as saved in generations.jsonl. Its own module, so that neither path imports
the other's."""

from __future__ import annotations

from typing import Any

from ..errors import CrlError
from .problems import Problem


def _outputs(comps: list[Any]) -> list[dict[str, Any]]:
    return [{"text": c.text, "tokens": c.tokens, "finish_reason": c.finish_reason} for c in comps]


def _record_candidates(problem: Problem, k: int) -> list[dict[str, Any]]:
    """The first k `candidates` of a problem record (e.g. from `crl gen-candidates`), as fenced completions."""
    found = [c for c in problem.record.get("candidates") or [] if isinstance(c, dict) and c.get("code")]
    if not found:
        raise CrlError(
            f"problem {problem.id!r} has no candidates with code to reuse",
            hint="drop --reuse-candidates to generate them, or run crl gen-candidates first",
        )
    return [
        {
            "text": f"```python\n{c['code'].rstrip()}\n```\n",
            "tokens": 0,
            "finish_reason": "input",
            "candidate_id": c.get("id"),
        }
        for c in found[:k]
    ]


def critique_prompt(template: str, problem: Problem, code: str) -> list[dict[str, str]]:
    from ..prompts import render

    record = {"id": problem.id, "question": problem.question, **_tests_hint(problem)}
    return [{"role": "user", "content": render(template, record, solution=code)}]


def _tests_hint(problem: Problem) -> dict[str, Any]:
    # render() resolves `[[if stdio]]`-style blocks from the test type; the critic is shown no tests.
    tests = problem.tests or problem.public_tests
    return {"tests": {"type": tests.get("type"), "fn_name": tests.get("fn_name")}} if tests else {}
