"""Aider-Polyglot through the real toolchains: reference solutions pass, untouched stubs fail, two tries."""

from __future__ import annotations

import pytest

from crlcli.evaluation.aider import AiderPolyglot, load_exercises, parse_files, run_tests

from .aider_helpers import exercise, need_toolchain, root  # noqa: F401 - root: a fixture

# One small exercise per language; CI runs Python, JavaScript and C++, the rest are `heavy` (time budget).
CASES = [
    ("python", "beer-song", []),
    ("javascript", "beer-song", []),
    ("cpp", "allergies", []),
    ("go", "beer-song", [pytest.mark.heavy]),
    ("rust", "acronym", [pytest.mark.heavy]),
    ("java", "all-your-base", [pytest.mark.heavy]),
]


@pytest.mark.parametrize("lang,name", [pytest.param(l, n, marks=m, id=l) for l, n, m in CASES])
def test_reference_passes_and_stub_fails(root, lang, name):
    need_toolchain(lang)
    ex = exercise(root, lang, name)
    ref = run_tests(ex, ex.reference_files())
    assert ref.status == "pass", ref.output
    stub = run_tests(ex, {})
    assert stub.status == "fail", stub.output
    assert stub.output.strip(), "the failing output is what the model sees on try 2"


def test_try2_prompt_carries_the_whole_output_less_timing_noise():
    """As Aider's benchmark since the polyglot leaderboard: every line of the test output (it cut to 50 before),
    timing lines blanked and rules normalised."""
    from crlcli.evaluation.aider.protocol import trim_output

    text = "\n".join(f"line {i}" for i in range(200)) + "\n" + "=" * 70 + "\nRan 3 tests in 0.123s\nFAILED"
    out = trim_output(text).splitlines()
    assert out[:200] == [f"line {i}" for i in range(200)] and out[200:] == ["====", "", "FAILED"]


def test_loads_all_225_exercises(root):
    exercises = load_exercises(root)
    by_lang = {}
    for ex in exercises:
        by_lang[ex.language] = by_lang.get(ex.language, 0) + 1
        assert ex.solution_files and ex.test_files and ex.example_files, ex.id
    assert by_lang == {"cpp": 26, "go": 39, "java": 47, "javascript": 49, "python": 34, "rust": 30}
    assert len(exercises) == 225


def test_prompt_has_instructions_stubs_and_aider_addendum(root):
    ex = exercise(root, "python", "beer-song")
    prompt = ex.first_prompt()
    assert (ex.path / ".docs" / "instructions.md").read_text()[:80] in prompt
    assert "beer_song.py\n```\n" in prompt and "def recite" in prompt
    assert "Only use standard libraries" in prompt
    assert "beer_song_test.py" not in prompt  # tests are not shown, as in Aider's benchmark
    assert ".meta" not in prompt


def test_parse_files_whole_format(root):
    ex = exercise(root, "cpp", "bank-account")
    answer = (
        "<think>bank_account.h\n```\nwrong\n```</think>Here you go.\n\n**bank_account.h**\n```cpp\n#pragma once\n```\n"
        'bank_account.cpp:\n```cpp\n#include "bank_account.h"\n```\n'
        "bank_account_test.cpp\n```cpp\nhacked tests\n```\n"
    )
    files = parse_files(answer, ex)
    assert files == {"bank_account.h": "#pragma once\n", "bank_account.cpp": '#include "bank_account.h"\n'}
    single = exercise(root, "python", "beer-song")
    assert parse_files("Sure:\n```python\ndef recite(start, take=1):\n    return []\n```", single) == {
        "beer_song.py": "def recite(start, take=1):\n    return []\n"
    }
    assert parse_files("no code at all", single) == {}


def test_staged_copy_hides_reference_solution(root, tmp_path):
    ex = exercise(root, "python", "beer-song")
    staged = ex.stage(tmp_path, {"beer_song.py": "x = 1\n"})
    assert not (staged / ".meta").exists() and not (staged / ".docs").exists()
    assert (staged / "beer_song.py").read_text() == "x = 1\n"
    assert (ex.path / "beer_song.py").read_text() != "x = 1\n"  # the data tree is untouched


def test_two_tries_with_test_output_on_retry(root):
    """A scripted model: stub-like first answer, reference second. try1 fails, try2 passes, and the second
    prompt carries the failing test output and Aider's test-failure text."""
    need_toolchain("python")
    bench = AiderPolyglot(data=str(root), languages="python", exercises=["beer-song"])
    (task,) = bench.tasks()
    ex = task.data["exercise"]
    first = "beer_song.py\n```python\ndef recite(start, take=1):\n    return ['wrong']\n```\n"
    second = "beer_song.py\n```python\n" + ex.reference_files()["beer_song.py"] + "```\n"
    s1 = bench.score(task, first)
    assert s1.metrics == {"try1": False, "try2": False}
    convo = bench.followup(task, first, s1)
    assert convo is not None and convo[-2] == {"role": "assistant", "content": first}
    retry = convo[-1]["content"]
    assert "See the testing errors above" in retry and "beer_song.py" in retry
    assert "FAILURES" in retry and "BeerSongTest" in retry
    s2 = bench.score(task, second)
    merged = bench.merge([s1, s2])
    assert merged.metrics == {"try1": False, "try2": True}
    assert merged.verdicts["try"] == "WA"
    assert bench.followup(task, second, s2) is None  # passed: no third try


def test_missing_crate_is_environment_error(root):
    need_toolchain("rust")
    ex = exercise(root, "rust", "gigasecond")  # needs the `time` crate: cannot build offline
    r = run_tests(ex, ex.reference_files())
    assert r.status == "env_error" and "time" in r.reason


def test_missing_toolchain_is_environment_error(root, tmp_path, monkeypatch):
    monkeypatch.setenv("CRL_AIDER_NODE_MODULES", str(tmp_path / "nothing-here"))
    bench = AiderPolyglot(data=str(root), languages=["javascript"], exercises=["beer-song"])
    (task,) = bench.tasks()
    ex = task.data["exercise"]
    answer = "beer-song.js\n```js\n" + ex.reference_files()["beer-song.js"] + "```\n"
    score = bench.score(task, answer)
    assert "jest" in score.verdicts["env_error"] and score.metrics == {"try1": False, "try2": False}
    assert bench.followup(task, answer, score) is None


def test_registered_in_eval_registry(root):
    from crlcli.evaluation import get_benchmark

    bench = get_benchmark("aider-polyglot", data=str(root), languages="go,rust", limit=3)
    tasks = bench.tasks()
    assert len(tasks) == 3 and all(t.group["language"] == "go" for t in tasks)


class ScriptedModel:
    """Stands in for a model (not for our code): answers each conversation from a script keyed by its turn."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def chat(self, conversations, params, enable_thinking=True):
        from crlcli.generation.base import Completion

        self.calls.append(conversations)
        return [
            [Completion(self.answers[(len(c) + 1) // 2 - 1], 7, "stop") for _ in range(params.n)] for c in conversations
        ]


def test_run_samples_does_both_tries(root):
    need_toolchain("python")
    from crlcli.generation.base import SamplingParams

    bench = AiderPolyglot(data=str(root), languages="python", exercises=["beer-song", "proverb"])
    tasks = bench.tasks()
    refs = {t.task_id: t.data["exercise"].reference_files() for t in tasks}
    beer = "beer_song.py\n```python\n" + refs["python/beer-song"]["beer_song.py"] + "```\n"
    # try 1: beer-song right at once; proverb gets beer-song's code (fails), then nothing usable on try 2
    model = ScriptedModel([beer, "no code this time"])
    samples = bench.run_samples(tasks, 1, model, SamplingParams(n=1), thinking=False)
    by = {s["task_id"]: s for s in samples}
    assert by["python/beer-song"]["metrics"] == {"try2": True, "try1": True}
    assert len(by["python/beer-song"]["turns"]) == 1
    assert by["python/proverb"]["metrics"] == {"try2": False, "try1": False}
    assert [t["verdict"] for t in by["python/proverb"]["turns"]] == ["W", "C"]
    assert len(model.calls) == 2 and len(model.calls[1]) == 1  # only the failure gets a second try
    assert "See the testing errors above" in model.calls[1][0][-1]["content"]


def test_crl_eval_score_end_to_end(crl, root, tmp_path):
    need_toolchain("python")
    import json

    ex = load_exercises(root, ["python"])[0]  # what `--limit 1` keeps
    ((name, text),) = ex.reference_files().items()
    good = f"{name}\n```python\n{text}```\n"

    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        json.dumps({"task_id": ex.id, "completion": good})
        + "\n"
        + json.dumps({"task_id": ex.id, "completion": "nothing"})
        + "\n"
    )
    run = tmp_path / "run"
    proc = crl(
        "eval",
        "score",
        str(run),
        "--samples",
        str(samples),
        "--benchmark",
        "aider-polyglot",
        "--data",
        str(root),
        "--limit",
        "1",
        env={"CRL_AIDER_LANGUAGES": "python"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["benchmark"] == "aider-polyglot" and summary["pass@1"] == 0.5
    assert summary["breakdown"]["language"]["python"]["tasks"] == 1
