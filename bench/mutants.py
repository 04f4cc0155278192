"""Mutants of reference solutions for the agreement benches, made by the installed `crl gen-candidates --backend
mutate` (the same model-free candidates the pipeline makes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def mutate_references(refs: dict[str, tuple[str, str]], n: int, seed: int) -> dict[str, list[str]]:
    """{problem id: (question, reference code)} -> {problem id: up to n mutants of the reference}."""
    if n <= 0 or not refs:
        return {}
    problems = [
        {
            "id": pid,
            "question": question,
            "tests": {"type": "assert", "program": "pass", "cases": []},
            "candidates": [{"id": "ref", "code": code, "origin": {"backend": "reference"}}],
        }
        for pid, (question, code) in refs.items()
    ]
    crl = Path(sys.executable).with_name("crl")
    out = subprocess.run(
        [str(crl), "gen-candidates", "--backend", "mutate", "--n", str(n), "--seed", str(seed)],
        input="".join(json.dumps(p) + "\n" for p in problems).encode(),
        capture_output=True,
        check=True,
    )
    got: dict[str, list[str]] = {}
    for line in out.stdout.decode().splitlines():
        rec = json.loads(line)
        got[rec["id"]] = [c["code"] for c in rec["candidates"] if c["origin"].get("backend") == "mutate"]
    return got
