"""Screening a training record against a benchmark index: statement and reference-solution hits, LiveCodeBench
date-window warnings."""

from __future__ import annotations

from typing import Any

from .benchmarks import record_dates, reference_codes
from .index import KINDS, Index
from .normalize import code_tokens, longest_run, token_hashes, words


class Decontaminator:
    """Screens problem records against an index; `screen` returns the hits, in a fixed order."""

    def __init__(self, index: Index):
        self.index = index
        self.labels = list(index.benchmarks)

    def screen(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        idx, rid = self.index, record.get("id")
        hits: list[dict[str, Any]] = []
        question = record.get("question")
        if isinstance(question, str) and question:
            toks = words(question)
            hits += self._hits(rid, "statement", toks, idx.n, idx.find(token_hashes(toks), "statement"))
        best: dict[int, dict[str, Any]] = {}  # per benchmark problem, the longest run of any reference solution
        for code, py in reference_codes(record):
            toks = code_tokens(code, py)
            for h in self._hits(rid, "solution", toks, idx.code_n, idx.find(token_hashes(toks), "solution")):
                if h["_doc"] not in best or h["size"] > best[h["_doc"]]["size"]:
                    best[h["_doc"]] = h
        hits += best.values()
        hits.sort(key=lambda h: (h["_doc"], KINDS.index(h["kind"])))
        for h in hits:
            del h["_doc"]
        return hits + self._window(record)

    def _hits(self, rid: Any, kind: str, toks: list[str], n: int, found: dict[int, list[int]]) -> list[dict]:
        out = []
        col = 2 if kind == "statement" else 3
        for doc, positions in found.items():
            b, task, total = self.index.docs[doc][0], self.index.docs[doc][1], self.index.docs[doc][col]
            start, size = longest_run(positions, n)
            out.append(
                {
                    "id": rid,
                    "benchmark": self.labels[b],
                    "task_id": task,
                    "kind": kind,
                    "match": " ".join(toks[start : start + size]),
                    "size": size,
                    "n": n,
                    "ngrams": len(positions),
                    "coverage": round(len(positions) / total, 3) if total else 0.0,
                    "_doc": doc,
                }
            )
        return out

    def _window(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        if not self.index.lcb:
            return []
        day, cid = record_dates(record)
        out = []
        for w in self.index.lcb:
            task = w["contests"].get(cid) if cid else None
            inside = day is not None and w["start"] and w["end"] and w["start"] <= str(day) <= w["end"]
            if task is not None or inside:
                what = [f"contest_date {day}"] if inside else []
                what += [f"contest_id {cid}"] if task is not None else []
                out.append(
                    {
                        "id": record.get("id"),
                        "benchmark": w["benchmark"],
                        "task_id": task,
                        "kind": "lcb-window",
                        "match": ", ".join(what),
                        "size": 0,
                        "n": 0,
                        "ngrams": 0,
                        "coverage": 0.0,
                        "window": [w["start"], w["end"]],
                    }
                )
        return out


def contaminating(hits: list[dict[str, Any]]) -> list[str]:
    """The benchmarks a record is contaminated with (window warnings alone do not count), in hit order."""
    out: list[str] = []
    for h in hits:
        if h["kind"] in KINDS and h["benchmark"] not in out:
            out.append(h["benchmark"])
    return out
