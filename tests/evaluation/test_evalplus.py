"""EvalPlus scoring through the real sandbox: canonical solutions pass, wrong ones fail, and EvalPlus's own rules
(tolerances, type-exact equality, special oracles, time limits, MBPP input types) hold."""

from __future__ import annotations

import gzip
import json
import textwrap

import pytest

from crlcli.evaluation import get_benchmark
from crlcli.evaluation.evalplus import sanitize
from crlcli.evaluation.evalplus_check import effective_atols
from crlcli.evaluation.evalplus_inputs import mbpp_inputs

HE_IDS = ["HumanEval/0", "HumanEval/2", "HumanEval/12", "HumanEval/32", "HumanEval/53", "HumanEval/107"]
MBPP_IDS = ["Mbpp/2", "Mbpp/124", "Mbpp/252", "Mbpp/558", "Mbpp/581", "Mbpp/737", "Mbpp/787", "Mbpp/63"]


def subset(src, ids, dst):
    keep = {}
    with gzip.open(src, "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["task_id"] in ids:
                keep[rec["task_id"]] = line
    with gzip.open(dst, "wt") as fh:
        for i in ids:
            fh.write(keep[i])
    return dst


@pytest.fixture(scope="module")
def data(shared_data, tmp_path_factory):
    """Small HumanEval+/MBPP+ files holding the tasks with special rules (a temp subset; the copies stay put)."""
    root = tmp_path_factory.mktemp("evalplus-data")
    he = subset(shared_data / "humanevalplus" / "HumanEvalPlus.jsonl.gz", HE_IDS, root / "HumanEvalPlus.jsonl.gz")
    mb = subset(shared_data / "mbppplus" / "MbppPlus.jsonl.gz", MBPP_IDS, root / "MbppPlus.jsonl.gz")
    return {"humaneval": he, "mbpp": mb, "root": root}


@pytest.fixture(scope="module")
def pool():
    from crlcli.sandbox import Limits, SandboxPool

    with SandboxPool(workers=2, limits=Limits(memory_mb=4096)) as p:
        yield p


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CRL_CACHE_DIR", str(tmp_path_factory.mktemp("crl-cache")))
    yield
    mp.undo()


def tasks_of(name, data):
    bench = get_benchmark(name, data=data)
    return bench, {t.task_id: t for t in bench.tasks()}


def canonical(task):
    rec = task.data["record"]
    return rec["prompt"] + rec["canonical_solution"]


@pytest.mark.parametrize("name", ["humaneval+", "mbpp+"])
def test_canonical_solutions_pass_base_and_plus(name, data, pool):
    bench, tasks = tasks_of(name, data["humaneval" if name.startswith("h") else "mbpp"])
    bench.prepare(list(tasks.values()))
    for tid, task in tasks.items():
        score = bench.score(task, f"```python\n{canonical(task)}\n```", pool)
        assert score.metrics == {"base": True, "plus": True}, (tid, score.verdicts)
        assert len(score.verdicts["plus"]) == len(task.data["inputs"]["plus"])


def test_float_tolerance_and_type_exactness(data, pool):
    bench, tasks = tasks_of("humaneval+", data["humaneval"])
    t = tasks["HumanEval/2"]  # truncate_number: float result, atol 0 -> EvalPlus compares with 1e-6
    near = "def truncate_number(number: float) -> float:\n    return number % 1.0 + 1e-9\n"
    far = "def truncate_number(number: float) -> float:\n    return number % 1.0 + 1e-3\n"
    assert bench.score_code(t, near, pool).metrics["plus"]
    assert not bench.score_code(t, far, pool).metrics["plus"]
    t = tasks["HumanEval/107"]  # even_odd_palindrome returns a tuple: a list is not accepted
    as_list = canonical(t).replace("return even_cnt, odd_cnt", "return [even_cnt, odd_cnt]")
    assert as_list != canonical(t)
    res = bench.score_code(t, as_list, pool)
    assert not res.metrics["base"] and set(res.verdicts["base"]) == {"W"}


def test_find_zero_accepts_any_root(data, pool):
    bench, tasks = tasks_of("humaneval+", data["humaneval"])
    t = tasks["HumanEval/32"]
    # Not the canonical value, but still a root: EvalPlus checks |poly(x)| <= atol, not equality.
    other = (
        canonical(t).replace("def find_zero(", "def _orig(") + "\n\ndef find_zero(xs):\n    return _orig(xs) + 1e-12\n"
    )
    # (base inputs only: some plus polynomials are so steep that 1e-12 moves |poly| past the tolerance)
    assert bench.score_code(t, other, pool).metrics["base"]
    wrong = canonical(t) + "\n\ndef find_zero(xs):\n    return 0.5\n"
    assert not bench.score_code(t, wrong, pool).metrics["base"]


def test_mbpp_special_oracles(data, pool):
    bench, tasks = tasks_of("mbpp+", data["mbpp"])
    # set equality: any order of the shared elements
    reordered = "def similar_elements(a, b):\n    return tuple(sorted(set(a) & set(b), reverse=True))\n"
    assert bench.score_code(tasks["Mbpp/2"], reordered, pool).metrics["plus"]
    # "not None" tasks: any match object (or True) for a match, None for no match
    as_bool = "import re\ndef check_str(s):\n    return bool(re.search('^[aeiouAEIOU][A-Za-z0-9_]*', s))\n"
    assert bench.score_code(tasks["Mbpp/737"], as_bool, pool).metrics["plus"]
    always = "def check_str(s):\n    return 'yes'\n"
    assert not bench.score_code(tasks["Mbpp/737"], always, pool).metrics["base"]
    # Mbpp/558: the zero-padded reading of the task is accepted as well
    padded = textwrap.dedent("""
        def digit_distance_nums(n1, n2):
            a, b = str(n1), str(n2)
            w = max(len(a), len(b))
            return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(w), b.zfill(w)))
    """)
    assert bench.score_code(tasks["Mbpp/558"], padded, pool).metrics["plus"]
    # complex inputs (Mbpp/124, Mbpp/252) reach the function as complex numbers
    assert bench.score_code(
        tasks["Mbpp/252"], "import cmath\ndef convert(z):\n    return cmath.polar(complex(z))\n", pool
    ).metrics["plus"]


def test_time_limit_is_scaled_from_the_canonical_runtime(data, pool):
    bench, tasks = tasks_of("humaneval+", data["humaneval"])
    t = tasks["HumanEval/53"]  # add(x, y): microseconds, so every limit is the 1 s floor
    bench.prepare([t])
    plan = bench._plan(t)
    cases = plan.cases(0, len(plan.args))
    assert all(1.0 <= c["timeout"] < 1.5 for c in cases)
    slow = "import time\ndef add(x, y):\n    time.sleep(1.3)\n    return x + y\n"
    res = bench.score_code(t, slow, pool)
    assert not res.metrics["base"] and res.verdicts["base"][0] == "T"
    assert res.verdicts["plus"] == ""  # fast check: plus inputs are not run once base failed


def test_mbpp_input_types_and_atol_quirk():
    assert mbpp_inputs("Mbpp/2", [[[1, 2], [3]]]) == [[(1, 2), (3,)]]
    args = mbpp_inputs("Mbpp/124", [[1.0, "2+3j"]])[0]
    assert args == (1.0, 2 + 3j)
    assert mbpp_inputs("Mbpp/3", [[[1, 2]]]) == [[[1, 2]]]
    # Once an expected value is a float, EvalPlus keeps 1e-6 for the rest of that run.
    assert effective_atols("mbpp", "f", 0, [1, 2.5, 3]) == [(0, 0), (0, 1e-6), (1e-6, 1e-6)]
    assert effective_atols("humaneval", "find_zero", 1e-4, [0.5]) == [(1e-4, 1e-4)]


def test_sanitize_keeps_definitions_only():
    code = textwrap.dedent("""
        import math
        from typing import List
        LIMIT = 10
        @staticmethod
        def helper(x):
            return x
        def f(xs: List[int]) -> int:
            return helper(sum(xs))
        print(f([1, 2]))
        assert f([1]) == 2
        if __name__ == "__main__":
            f(input())
    """)
    out = sanitize(code)
    assert "import math" in out and "LIMIT = 10" in out and "@staticmethod" in out and "def f(" in out
    assert "print(" not in out and "assert" not in out and "__main__" not in out
    assert sanitize("def broken(:\n") == "def broken(:\n"


def test_original_humaneval_uses_its_check(shared_data, pool):
    bench = get_benchmark("humaneval", data=shared_data / "humaneval" / "HumanEval.jsonl.gz")
    tasks = bench.tasks()
    assert len(tasks) == 164 and bench.metrics == ("base",)
    t = tasks[0]
    good = bench.score(t, f"```python\n{t.data['record']['prompt'] + t.data['record']['canonical_solution']}```", pool)
    bad = bench.score(t, "```python\ndef has_close_elements(numbers, threshold):\n    return True\n```", pool)
    assert good.metrics == {"base": True} and bad.metrics == {"base": False}
    # check(candidate) runs in the candidate's process unless converted to parent-compared cases: it says which
    assert good.trust in ("in-process", "parent")
    plus = get_benchmark("humaneval+", data=shared_data / "humanevalplus" / "HumanEvalPlus.jsonl.gz")
    assert plus.score_code(plus.tasks()[0], "def has_close_elements(n, t):\n    return True\n", pool).trust == "parent"
    assert bench.score(t, "no code here", pool).detail == "no code block in the answer"


def test_the_whole_set_cap_fails_a_solution_slow_in_total(data, pool):
    """EvalPlus kills an input set after min(EVALPLUS_TIMEOUT_PER_TASK, sum of its limits) + 2 s: a solution right
    on every input but 20 ms slow on each fails plus once the set's total passes that cap (here 0.5 + 2 s), though
    no input reaches its own 1 s limit; the canonical one passes under the same cap."""
    bench = get_benchmark("humaneval+", data=data["humaneval"], task_timeout=0.5)
    task = {t.task_id: t for t in bench.tasks()}["HumanEval/0"]
    bench.prepare([task])
    n_plus = len(task.data["record"]["plus_input"])
    assert n_plus * 0.02 > 2.5  # the slow solution cannot finish the plus set in time
    slow = canonical(task).replace('    """\n', '    """\n    __import__("time").sleep(0.02)\n', 1)
    assert "sleep(0.02)" in slow
    score = bench.score_code(task, slow, pool)
    assert score.metrics == {"base": True, "plus": False} and score.verdicts["plus"].endswith("T"), score.verdicts
    assert set(score.verdicts["plus"][:-1]) <= {"A"}
    assert bench.score_code(task, canonical(task), pool).metrics == {"base": True, "plus": True}


def test_encoded_inputs_and_output_sizes_are_cached_for_later_runs(tmp_path):
    """Once every case was reached, a task's encoded inputs (with the decoding time of the large ones) and the
    sizes and encoding times of its expected values are cached: a later run reads them instead of encoding and
    timing again; a damaged or mismatched cache file is ignored and rewritten."""
    from crlcli.evaluation.evalplus_check import EncodedInputs, ExpectedSizes
    from crlcli.evaluation.evalplus_truth import TruthValues, outputs_cache_file
    from crlcli.sandbox.runner_child import encode_value

    big = list(range(20_000))
    inputs = [[1, 2], [big]]
    truth = TruthValues([encode_value(3), encode_value(big)])
    in_file = tmp_path / "t.inputs-plus.json"
    out_file = outputs_cache_file(in_file)
    assert out_file.name == "t.outputs-plus.json"

    enc, sizes = EncodedInputs(inputs, in_file), ExpectedSizes(truth, out_file)
    first = [enc.get(i) for i in range(2)], [sizes.get(i) for i in range(2)]
    assert first[0][0] == (encode_value([1, 2]), 0.0) and first[0][1][1] > 0  # the large input's decoding, timed
    assert first[1][0] == (1, 0.0) and first[1][1][0] == len(encode_value(big)) and first[1][1][1] > 0
    enc.save()
    sizes.save()

    # What a later run reads is what was saved: doctored times show that nothing is timed again.
    cached_in, cached_out = json.loads(in_file.read_text()), json.loads(out_file.read_text())
    cached_in["costs"][1], cached_out[1][1] = 0.25, 0.5
    in_file.write_text(json.dumps(cached_in))
    out_file.write_text(json.dumps(cached_out))
    later_in, later_out = EncodedInputs(inputs, in_file), ExpectedSizes(truth, out_file)
    assert later_in.get(1) == (first[0][1][0], 0.25) and later_in.encoded_count() == 2
    assert later_out.get(1) == (first[1][1][0], 0.5)

    # Damaged or for another task: computed again and rewritten.
    out_file.write_text('[[1, "x"]]')
    in_file.write_text(json.dumps({"texts": ["[]"], "costs": [0.0]}))
    enc, sizes = EncodedInputs(inputs, in_file), ExpectedSizes(truth, out_file)
    assert enc.encoded_count() == 0
    assert [enc.get(i)[0] for i in range(2)] == [first[0][0][0], first[0][1][0]]
    assert [sizes.get(i)[0] for i in range(2)] == [1, len(encode_value(big))]
    enc.save()
    sizes.save()
    assert json.loads(in_file.read_text())["texts"] == [t for t, _ in first[0]]
    assert [n for n, _ in json.loads(out_file.read_text())] == [1, len(encode_value(big))]


def test_a_cached_task_scores_the_same(data, pool):
    bench, tasks = tasks_of("humaneval+", data["humaneval"])
    bench.prepare(list(tasks.values()))
    t = tasks["HumanEval/12"]
    first = bench.score_code(t, canonical(t), pool)
    assert t.data["inputs_cache"].exists()
    bench, tasks = tasks_of("humaneval+", data["humaneval"])
    bench.prepare(list(tasks.values()))
    assert bench.score_code(tasks["HumanEval/12"], canonical(t), pool).verdicts == first.verdicts
