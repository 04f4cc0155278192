"""BIG-Bench Extra Hard subtasks, scored by the rules of BBEH's official `evaluate.py`.

The rules (re-implemented here, same order, same effects):
- extraction: for each prefix in ["The answer is:", "The final answer is ", "The final answer is: ",
  "The answer is "], if present keep what follows its last occurrence (stripped); drop one trailing "."; strip
  LaTeX wrappers ($...$, boxed{...}, text{...}, texttt{...});
- the prediction is lower-cased, ", " becomes ",", "**" is removed, only the first line is kept and one more
  trailing "." is dropped; the reference is stripped, lower-cased and ", " becomes ",";
- fuzzy match: equal; "(x)" against "x" either way (a 3-character parenthesised prediction or reference decides
  the match on its middle character alone); equal as floats; equal with single quotes removed; "[x]" against "x"
  either way; a trailing "?" on the prediction ignored.
Only the answer part of a thinking model's output is scored (the text after the last `</think>`).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CrlError
from ..extract import split_thinking
from .base import Benchmark, DataRoot, Score, Task, find_data, read_text

SUBTASKS = ("time_arithmetic", "disambiguation_qa", "zebra_puzzles", "boardgame_qa")
_URL = "https://raw.githubusercontent.com/google-deepmind/bbeh/main/bbeh/benchmark_tasks/bbeh_{}/task.json"

# The instruction BBEH's paper appends to every question so that the official extraction finds the answer.
SUFFIX = (
    'Think step by step, and when you provide the final answer, please use the prefix "The answer is:" '
    "without any modification, and provide the answer directly, with no formatting, no bolding, and no markup. "
    'For instance: "The answer is: 42" or "The answer is: yes". If the question is multiple choice with a single '
    "correct answer, the final answer must only be the letter corresponding to the correct answer. "
    'For example, "The answer is: (a)"'
)
_PREFIXES = ("The answer is:", "The final answer is ", "The final answer is: ", "The answer is ")


def strip_latex(text: str) -> str:
    if text.startswith("$") and text.endswith("$"):
        text = text[1:-1]
    for wrapper in ("boxed{", "text{", "texttt{"):
        if wrapper in text and text.endswith("}"):
            text = text[:-1].split(wrapper)[1]
    return text


def extract_answer(sample: str) -> str:
    answer = sample
    for prefix in _PREFIXES:
        if prefix in answer:
            answer = answer.split(prefix)[-1].strip()
    if answer.endswith("."):
        answer = answer[:-1]
    return strip_latex(answer)


def normalize_prediction(sample: str) -> str:
    pred = extract_answer(sample.strip()).lower()
    pred = pred.replace(", ", ",").replace("**", "")
    pred = pred.split("\n")[0]
    return pred[:-1] if pred.endswith(".") else pred


def normalize_reference(reference: str) -> str:
    return reference.strip().lower().replace(", ", ",")


def fuzzy_match(pred: str, ref: str) -> bool:
    if pred == ref:
        return True
    if len(pred) == 3 and pred[0] == "(" and pred[-1] == ")":
        return pred[1] == ref
    if len(ref) == 3 and ref[0] == "(" and ref[-1] == ")":
        return ref[1] == pred
    try:
        if float(pred) == float(ref):
            return True
    except ValueError:
        pass
    if pred.replace("'", "") == ref.replace("'", ""):
        return True
    if f"[{ref}]" == pred or f"[{pred}]" == ref:
        return True
    return pred.endswith("?") and pred[:-1] == ref


class BBEH(Benchmark):
    """One subtask (`bbeh:NAME`) or all four (`bbeh`, reported as the plain average of the subtask accuracies)."""

    metrics = ("pass",)
    group_keys = ("subtask",)
    needs_sandbox = False

    def __init__(
        self,
        subtask: str | None = None,
        data: str | Path | None = None,
        limit: int | None = None,
        data_root: DataRoot = None,
        **_: object,
    ):
        if subtask is not None and subtask not in SUBTASKS:
            raise CrlError(f"unknown BBEH subtask {subtask!r}", hint=f"choose one of: {', '.join(SUBTASKS)}")
        self.subtasks = (subtask,) if subtask else SUBTASKS
        self.name = f"bbeh:{subtask}" if subtask else "bbeh"
        self.data, self.limit, self.data_root = data, limit, data_root  # --limit applies per subtask

    def _load(self, subtask: str) -> list[dict]:
        if self.data and Path(self.data).is_file() and len(self.subtasks) > 1:
            raise CrlError(
                f"{self.data}: one task.json cannot hold all BBEH subtasks",
                hint="give --data the folder that holds bbeh_<subtask>/task.json",
            )
        path = find_data(
            self.data, (f"bbeh_{subtask}/task.json",), f"BBEH {subtask}", _URL.format(subtask), self.data_root
        )
        try:
            doc = json.loads(read_text(path))
            examples = doc["examples"]
            assert isinstance(examples, list)
        except (ValueError, KeyError, AssertionError, TypeError) as exc:
            raise CrlError(
                f"{path}: not a BBEH task.json ({exc})", hint='expected {"examples": [{"input", "target"}]}'
            ) from exc
        return examples

    def tasks(self) -> list[Task]:
        out: list[Task] = []
        for sub in self.subtasks:
            examples = self._load(sub)
            for i, ex in enumerate(examples if self.limit is None else examples[: self.limit]):
                if not isinstance(ex, dict) or "input" not in ex or "target" not in ex:
                    raise CrlError(f"BBEH {sub}: example {i} lacks 'input' or 'target'")
                out.append(
                    Task(
                        task_id=f"bbeh_{sub}/{i}",
                        messages=[{"role": "user", "content": f"{ex['input']}\n\n{SUFFIX}"}],
                        group={"subtask": sub},
                        data={"target": str(ex["target"])},
                    )
                )
        return out

    def score(self, task: Task, completion: str, pool: object = None) -> Score:
        _, answer = split_thinking(completion)
        pred = normalize_prediction(answer) if answer else ""
        ok = bool(answer) and fuzzy_match(pred, normalize_reference(task.data["target"]))
        return Score(
            metrics={"pass": ok},
            extracted=pred if answer else None,
            detail=None if answer else "no answer after the thinking",
        )

    def headline(self, metric_scores, group_scores):
        if len(self.subtasks) == 1:
            return {self.name: metric_scores.get("pass")}
        parts = {f"bbeh:{s}": group_scores.get("subtask", {}).get(s, {}).get("pass") for s in self.subtasks}
        known = [v for v in parts.values() if v is not None]
        parts["bbeh"] = sum(known) / len(known) if len(known) == len(parts) and known else None
        return parts
