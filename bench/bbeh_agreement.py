"""Agreement of crl's BBEH scorer (`crl eval --benchmark bbeh`) with BBEH's official `bbeh/evaluate.py`.

For every example of the four subtasks the paper uses, responses are generated around its target: the plain
answer line, and variants that exercise each of the official rules and their edges (case, "(x)" against "x",
periods, bold, LaTeX wrappers, comma spacing, quotes, brackets, question marks, float forms, the other answer
prefixes, several prefixes, text after the answer, no prefix, a wrong answer, thinking-model output). Each is
scored by `BBEH.score` and by the official `evaluate_correctness(response, target)`, imported from a scratch
checkout given by --bbeh-src (never copied into this project); every disagreement is listed.

    git clone https://github.com/google-deepmind/bbeh /tmp/bbeh-src          # scratch, outside the project
    .venv/bin/python bench/bbeh_agreement.py --bbeh-src /tmp/bbeh-src [--data ../shared/data/bbeh]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_official(src: Path):
    path = src / "bbeh" / "evaluate.py"
    if not path.exists():
        sys.exit(f"{src}: no bbeh/evaluate.py (see this script's docstring)")
    spec = importlib.util.spec_from_file_location("bbeh_official_evaluate", path)
    mod = importlib.util.module_from_spec(spec)
    with contextlib.redirect_stdout(io.StringIO()):  # the script prints its own examples when imported
        spec.loader.exec_module(mod)
    return mod


def _paren(t: str) -> str:
    if len(t) == 3 and t[0] == "(" and t[2] == ")":
        return t[1]
    return f"({t})" if len(t) == 1 else t


# name -> response built from the target (and another example's target, for wrong answers)
VARIANTS = {
    "plain": lambda t, o: f"Let me work it out.\nThe answer is: {t}",
    "upper": lambda t, o: f"The answer is: {t.upper()}",
    "title": lambda t, o: f"The answer is: {t.title()}",
    "paren_toggle": lambda t, o: f"The answer is: {_paren(t)}",
    "period": lambda t, o: f"The answer is: {t}.",
    "two_periods": lambda t, o: f"The answer is: {t}..",
    "bold": lambda t, o: f"The answer is: **{t}**",
    "boxed": lambda t, o: f"The answer is: $\\boxed{{{t}}}$",
    "text": lambda t, o: f"The answer is: \\text{{{t}}}",
    "texttt": lambda t, o: f"The answer is: \\texttt{{{t}}}",
    "comma_spaced": lambda t, o: f"The answer is: {t.replace(',', ', ')}",
    "comma_tight": lambda t, o: f"The answer is: {t.replace(', ', ',')}",
    "single_quotes": lambda t, o: f"The answer is: '{t}'",
    "double_quotes": lambda t, o: f'The answer is: "{t}"',
    "brackets_added": lambda t, o: f"The answer is: [{t}]",
    "brackets_removed": lambda t, o: f"The answer is: {t.strip('[]')}",
    "question_mark": lambda t, o: f"The answer is: {t}?",
    "float_form": lambda t, o: f"The answer is: {t}.0" if t.isdigit() else f"The answer is: {t}",
    "final_answer_colon": lambda t, o: f"The final answer is: {t}",
    "final_answer": lambda t, o: f"The final answer is {t}",
    "answer_no_colon": lambda t, o: f"The answer is {t}",
    "lowercase_prefix": lambda t, o: f"the answer is: {t}",
    "two_prefixes": lambda t, o: f"The answer is: {o}. Wait, no. The answer is: {t}",
    "explanation_after": lambda t, o: f"The answer is: {t}\nBecause of the reasons above.",
    "no_prefix": lambda t, o: f"{t}",
    "no_prefix_sentence": lambda t, o: f"I believe it is {t}",
    "wrong": lambda t, o: f"The answer is: {o}",
    "thinking_then_answer": lambda t, o: f"<think>\nThe answer is: {o}\n</think>\n\nThe answer is: {t}",
    "answer_only_in_thinking": lambda t, o: f"<think>\nThe answer is: {t}\n</think>\n\nI am not sure.",
    "unfinished_thinking": lambda t, o: f"<think>\nhmm. The answer is: {t}",
    "leading_space": lambda t, o: f"The answer is:    {t}   ",
}
# Thinking-model output: crl scores only the text after the last </think> (what a chat API returns as the
# answer; an unfinished thinking has none), so the official function is given that same text for these. The
# verdict of the official function on the whole text is reported beside them.
THINKING = {"thinking_then_answer", "answer_only_in_thinking", "unfinished_thinking"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bbeh-src", type=Path, required=True, help="a google-deepmind/bbeh checkout")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "bbeh")
    args = ap.parse_args()
    off = load_official(args.bbeh_src)
    rev = (
        subprocess.run(
            ["git", "-C", str(args.bbeh_src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown revision"
    )
    print(f"BBEH evaluate.py: {args.bbeh_src} ({rev})")

    from crlcli.evaluation import get_benchmark
    from crlcli.extract import split_thinking

    bench = get_benchmark("bbeh", data=args.data)
    tasks = bench.tasks()
    by_sub = defaultdict(list)
    for t in tasks:
        by_sub[t.group["subtask"]].append(t)
    print("\n| subtask | examples | samples | agreement | accepted (ours / official) |")
    print("|---|---|---|---|---|")
    diffs, whole_text, per_variant = [], [], defaultdict(lambda: [0, 0, 0])
    grand = [0, 0]
    for sub, ts in by_sub.items():
        n = agree = ours_ok = off_ok = 0
        for i, t in enumerate(ts):
            target = t.data["target"]
            other = next((u.data["target"] for u in ts[i + 1 :] + ts[:i] if u.data["target"] != target), "none")
            for name, make in VARIANTS.items():
                resp = make(target, other)
                a = bench.score(t, resp).metrics["pass"]
                answer = split_thinking(resp)[1] if name in THINKING else resp
                b = bool(answer) and bool(off.evaluate_correctness(answer, target))
                if name in THINKING and b != bool(off.evaluate_correctness(resp, target)):
                    whole_text.append((t.task_id, name, target, resp, a, not b))
                n, agree, ours_ok, off_ok = n + 1, agree + (a == b), ours_ok + a, off_ok + b
                per_variant[name][0] += a
                per_variant[name][1] += b
                per_variant[name][2] += 1
                if a != b:
                    diffs.append((t.task_id, name, target, resp, a, b))
        grand = [grand[0] + agree, grand[1] + n]
        print(f"| {sub} | {len(ts)} | {n} | {agree}/{n} = {100 * agree / n:.2f}% | {ours_ok} / {off_ok} |")
    print(f"| all | {len(tasks)} | {grand[1]} | {grand[0]}/{grand[1]} = {100 * grand[0] / grand[1]:.2f}% | |")
    print("\nper variant, accepted (ours / official of n):")
    for name, (a, b, n) in per_variant.items():
        print(f"  {name:24s} {a:4d} / {b:4d} of {n}")
    print(f"\n{len(diffs)} disagreement(s)")
    kinds = defaultdict(list)
    for d in diffs:
        kinds[d[1]].append(d)
    for name, ds in kinds.items():
        tid, _, target, resp, a, b = ds[0]
        print(
            f"  DISAGREE {name} ({len(ds)} samples, e.g. {tid} target {target!r}): ours={a} official={b}; "
            f"response {resp[:90]!r}"
        )
    kinds = defaultdict(list)
    for d in whole_text:
        kinds[d[1]].append(d)
    print(
        f"\nthinking-model output where evaluate.py on the WHOLE text (thinking included) decides otherwise: "
        f"{len(whole_text)} sample(s)"
    )
    for name, ds in kinds.items():
        tid, _, target, resp, a, b = ds[0]
        print(
            f"  {name} ({len(ds)} samples, e.g. {tid}): crl={a}, evaluate.py on the whole text={b}; "
            f"response {resp[:80]!r}"
        )


if __name__ == "__main__":
    main()
