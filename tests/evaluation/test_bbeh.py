"""BBEH answer extraction and matching: the official rules, table-driven, plus loading the real task files."""

from __future__ import annotations

import pytest

from crlcli.evaluation import get_benchmark
from crlcli.evaluation.bbeh import extract_answer, fuzzy_match, normalize_prediction, normalize_reference


def is_correct(response: str, reference: str) -> bool:
    """The official evaluate_correctness, from the parts BBEH.score uses: normalise both sides, then fuzzy-match."""
    return fuzzy_match(normalize_prediction(response), normalize_reference(reference))


CASES = [
    # (model response, target, expected verdict, what the row checks)
    ("The answer is: yes", "yes", True, "prefix with colon"),
    ("The answer is: Yes", "yes", True, "case is folded"),
    ("the answer is: yes", "yes", False, "the prefix itself is case-sensitive: nothing extracted"),
    ("Reasoning...\nThe answer is: (B)", "(b)", True, "options in parentheses, case folded"),
    ("The answer is: (a)", "a", True, "(x) prediction against bare x"),
    ("The answer is: b", "(b)", True, "bare x against (x) reference"),
    ("The answer is: (a)", "(b)", False, "different option"),
    ("The answer is: (ab)", "a", False, "not a 3-character (x)"),
    ("The answer is: 42.", "42", True, "trailing period"),
    ("The answer is: 42.0", "42", True, "numbers compare as floats"),
    ("The answer is: 1e3", "1000", True, "float syntax"),
    ("The answer is: 41", "42", False, "a different number"),
    ("The answer is: 'hello'", "hello", True, "single quotes removed"),
    ('The answer is: "hello"', "hello", False, "double quotes are not removed"),
    ("The answer is: [cat]", "cat", True, "brackets around the prediction"),
    ("The answer is: cat", "[cat]", True, "brackets around the reference"),
    ("The answer is: why?", "why", True, "trailing question mark"),
    ("The answer is: 2, 3, 4", "2,3,4", True, "comma spacing on both sides"),
    ("The answer is: **7**", "7", True, "bold markers removed"),
    ("The answer is: $\\boxed{7}$", "7", True, "latex box inside dollars"),
    ("The final answer is: 7", "7", True, "'The final answer is' prefix"),
    ("The answer is 5. Wait. The answer is: 7", "7", True, "the last occurrence wins"),
    ("The answer is: 7\nbecause...", "7", True, "only the first line counts"),
    ("I think 7", "7", False, "no prefix: the whole text is the prediction"),
    ("7", "7", True, "a bare answer equal to the target"),
    ("The answer is: 12:30 PM", "12:30 pm", True, "time strings, case folded"),
]


@pytest.mark.parametrize("response,target,ok,why", CASES, ids=[c[3] for c in CASES])
def test_official_rules(response, target, ok, why):
    assert is_correct(response, target) is ok, why


def test_pieces():
    assert extract_answer("x The answer is: \\text{blue}") == "blue"
    assert normalize_prediction("The answer is: Foo, Bar.") == "foo,bar"
    assert fuzzy_match("(c)", "c") and not fuzzy_match("(c)", "d")


def test_loads_the_real_subtasks_and_scores_only_the_answer(shared_data):
    bench = get_benchmark("bbeh", data=shared_data / "bbeh", limit=None)
    tasks = bench.tasks()
    counts = {}
    for t in tasks:
        counts[t.group["subtask"]] = counts.get(t.group["subtask"], 0) + 1
    assert counts == {"time_arithmetic": 200, "disambiguation_qa": 120, "zebra_puzzles": 200, "boardgame_qa": 200}
    t = tasks[0]
    assert "The answer is:" in t.messages[0]["content"]
    target = t.data["target"]
    assert bench.score(t, f"<think>The answer is: wrong</think>The answer is: {target}").metrics["pass"]
    # An answer only inside the thinking does not count.
    assert not bench.score(t, f"<think>The answer is: {target}</think>The answer is: nope").metrics["pass"]
    sub = get_benchmark("bbeh:zebra_puzzles", data=shared_data)
    assert sub.name == "bbeh:zebra_puzzles" and len(sub.tasks()) == 200


def test_headline_is_the_plain_average_of_subtasks():
    bench = get_benchmark("bbeh")
    groups = {
        "subtask": {
            "time_arithmetic": {"pass": 0.5},
            "disambiguation_qa": {"pass": 0.25},
            "zebra_puzzles": {"pass": 0.0},
            "boardgame_qa": {"pass": 1.0},
        }
    }
    head = bench.headline({"pass": 0.4}, groups)
    assert head["bbeh"] == pytest.approx(0.4375) and head["bbeh:boardgame_qa"] == 1.0


# The examples BBEH's evaluate.py (google-deepmind/bbeh @ 80d12ca) prints, with the verdicts it prints for them.
OFFICIAL_EXAMPLES = [
    ("Ok The final answer is: \\boxed{4}.", "4", True),
    ("[Reasoning] The final answer is: \\boxed{4}.", "3", False),
    ("Alright! The final answer is: 2, 3, 4", "2,3,4", True),
    ("blah blah The final answer is: 2, 3, 4", "2,3,5", False),
    ("Ok The answer is: (A)", "a", True),
    ("Ok The answer is: (A)", "b", False),
    ("Ok The answer is: **25**\nHere's why.", "25.0", True),
    ("Ok The answer is: **25**\nHere's why.", "26.0", False),
]


@pytest.mark.parametrize("response,target,ok", OFFICIAL_EXAMPLES)
def test_official_script_examples(response, target, ok):
    assert is_correct(response, target) is ok


def test_only_the_answer_after_thinking_is_scored(shared_data):
    """crl's one deliberate difference (docs/eval.md): a thinking model's answer is the text after </think>."""
    bench = get_benchmark("bbeh:zebra_puzzles", data=shared_data / "bbeh")
    task = bench.tasks()[0]
    target = task.data["target"]
    assert bench.score(task, f"<think>x</think>The answer is: {target}").metrics["pass"] is True
    assert bench.score(task, f"<think>The answer is: {target}</think>not sure").metrics["pass"] is False
    assert bench.score(task, f"<think>The answer is: {target}").metrics["pass"] is False  # cut off while thinking
