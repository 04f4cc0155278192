"""EvalPlus scoring against hostile candidates: expected values never enter the sandbox, only the parent decides
a pass, and the parent compares decoded plain data (never a live candidate object). Plus unit tests of the
parent-side comparison (EvalPlus 0.3.1's rules) and of the lazy input encoding."""

from __future__ import annotations

import gzip
import json
import math
import textwrap

import pytest

from crlcli.evaluation import get_benchmark
from crlcli.evaluation.evalplus import FIRST_CHUNK
from crlcli.evaluation.evalplus_check import (
    _close,
    allclose,
    compare,
    effective_atols,
    is_floats,
    numpy_module,
    same_text,
)
from crlcli.evaluation.evalplus_truth import TruthValues
from crlcli.sandbox.runner_child import NumpyValue, Unserialisable, decode_value, encode_value

HE_IDS = ["HumanEval/27", "HumanEval/32", "HumanEval/53"]
MBPP_IDS = ["Mbpp/2", "Mbpp/737"]
# Time for the spies to search their whole process: a failure here must be a wrong answer, not a timeout.
SPY_TIME = 10.0


def _subset(src, ids, dst):
    keep = {}
    with gzip.open(src, "rt") as fh:
        for line in fh:
            if json.loads(line)["task_id"] in ids:
                keep[json.loads(line)["task_id"]] = line
    with gzip.open(dst, "wt") as fh:
        fh.writelines(keep[i] for i in ids)
    return dst


@pytest.fixture(scope="module")
def data(shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("evalplus-adv")
    return {
        "humaneval": _subset(
            shared_data / "humanevalplus" / "HumanEvalPlus.jsonl.gz", HE_IDS, root / "HumanEvalPlus.jsonl.gz"
        ),
        "mbpp": _subset(shared_data / "mbppplus" / "MbppPlus.jsonl.gz", MBPP_IDS, root / "MbppPlus.jsonl.gz"),
    }


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CRL_CACHE_DIR", str(tmp_path_factory.mktemp("crl-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def pool():
    from crlcli.sandbox import Limits, SandboxPool

    with SandboxPool(workers=2, limits=Limits(memory_mb=4096)) as p:
        yield p


@pytest.fixture(scope="module")
def he(data):
    bench = get_benchmark("humaneval+", data=data["humaneval"], min_time_limit=SPY_TIME)
    tasks = {t.task_id: t for t in bench.tasks()}
    bench.prepare(list(tasks.values()))
    return bench, tasks


@pytest.fixture(scope="module")
def mbpp(data):
    bench = get_benchmark("mbpp+", data=data["mbpp"], min_time_limit=SPY_TIME)
    tasks = {t.task_id: t for t in bench.tasks()}
    bench.prepare(list(tasks.values()))
    return bench, tasks


def canonical(task):
    rec = task.data["record"]
    return rec["prompt"] + rec["canonical_solution"]


def failed(score):
    return not score.metrics["base"] and not score.metrics.get("plus", False)


# ------------------------------------------------------------------------------- hostile candidates


def test_canonical_solutions_pass(he, mbpp, pool):
    for bench, tasks in (he, mbpp):
        for tid, task in tasks.items():
            score = bench.score_code(task, canonical(task), pool)
            assert score.metrics == {"base": True, "plus": True}, (tid, score.verdicts)


EQ_ALWAYS = textwrap.dedent("""
    class Yes:
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        __hash__ = object.__hash__
    def add(x, y):
        return Yes()
""")
# Subclasses of builtin types are sent as their base value: their __eq__ never runs in the parent.
EQ_INT_SUBCLASS = textwrap.dedent("""
    class I(int):
        def __eq__(self, other):
            return True
        __hash__ = int.__hash__
    def add(x, y):
        return I(-12345)
""")
EQ_STR_SUBCLASS = textwrap.dedent("""
    class S(str):
        def __eq__(self, other):
            return True
        __hash__ = str.__hash__
    def flip_case(string):
        return S("nope")
""")


@pytest.mark.parametrize(
    "task_id,code", [("HumanEval/53", EQ_ALWAYS), ("HumanEval/53", EQ_INT_SUBCLASS), ("HumanEval/27", EQ_STR_SUBCLASS)]
)
def test_permissive_eq_fails(he, pool, task_id, code):
    bench, tasks = he
    score = bench.score_code(tasks[task_id], code, pool)
    assert failed(score) and score.verdicts["base"][0] == "W", score.verdicts


def test_permissive_eq_fails_the_set_oracle(mbpp, pool):
    bench, tasks = mbpp  # similar_elements: set(out) == set(exp); an object equal to everything is no set
    code = EQ_ALWAYS.replace("def add(x, y)", "def similar_elements(a, b)")
    score = bench.score_code(tasks["Mbpp/2"], code, pool)
    assert failed(score) and score.verdicts["base"][0] == "W"


THIEF = textwrap.dedent("""
    import gc, sys

    def _strings(v, out, depth=0):
        if v is out:
            return
        if isinstance(v, str):
            out.append(v)
        elif depth < 3 and isinstance(v, (list, tuple, set, frozenset)):
            for x in v:
                _strings(x, out, depth + 1)
        elif depth < 3 and isinstance(v, dict):
            for k, x in v.items():
                _strings(k, out, depth + 1)
                _strings(x, out, depth + 1)

    def flip_case(string):
        # Whatever looks like the answer (the input with its letters' case changed), from every frame's
        # variables and every object the collector knows.
        seen = []
        f = sys._getframe()
        while f is not None:
            _strings(f.f_locals, seen)
            f = f.f_back
        for obj in gc.get_objects():
            _strings(obj, seen, 2)
        for s in seen:
            if s != string and s.lower() == string.lower() and s.swapcase() == string:
                return s
        return string + "?"
""")


def test_frame_and_gc_thief_finds_nothing(he, pool):
    bench, tasks = he
    score = bench.score_code(tasks["HumanEval/27"], THIEF, pool)
    assert failed(score) and score.verdicts["base"][-1] == "W", score.verdicts


SPY = textwrap.dedent("""
    import gc, sys

    def flip_case(string):
        found = set()
        def walk(v, depth):
            if v is found:
                return
            if isinstance(v, (str, bytes)):
                if len(v) == len(string):  # the answer has the input's length
                    found.add(v if isinstance(v, str) else v.decode("latin-1"))
            elif depth < 4 and isinstance(v, (list, tuple, set, frozenset)):
                for x in v:
                    walk(x, depth + 1)
            elif depth < 4 and isinstance(v, dict):
                for k, x in v.items():
                    walk(k, depth + 1)
                    walk(x, depth + 1)
        f = sys._getframe()
        while f is not None:
            walk(f.f_locals, 0)
            walk(f.f_globals, 0)
            f = f.f_back
        for obj in gc.get_objects():
            walk(obj, 2)
        return sorted(found)
""")


def test_no_expected_value_in_the_candidates_process(he, pool):
    """Everything string-like the candidate's process holds, sent back and searched here for the expected
    values of the inputs run: none is there."""
    bench, tasks = he
    plan = bench._plan(tasks["HumanEval/27"])
    n = 8
    expected = [e for e in plan.expected[:n] if e]  # '' is in every process
    assert "hELLO!" in expected
    got = {}

    def capture(i, value):
        got[i] = value
        return False

    tests = {"type": "call", "fn_name": "flip_case", "class_name": None, "tagged_args": True, "cases": plan.cases(0, n)}
    res = pool.submit(SPY, tests, limits=None, check=capture).result()
    assert sorted(got) == list(range(n)), res
    for i, strings in got.items():
        assert isinstance(strings, list) and plan.args[i][0] in strings  # the spy did see the process's strings
        leaked = [e for e in expected if e in strings]
        assert not leaked, (i, leaked)


FORGED_FRAMES = textwrap.dedent("""
    import os, struct, json
    FRAME = struct.Struct(">IIc")
    def frame(i, kind, data=b""):
        return FRAME.pack(len(data) + 5, i, kind) + data
    junk = [b"X A\\n", b"A" * 64, b"AAAA\\n", frame(0, b"A"), frame(1, b"v", b"true"),
            frame(0, b"v", json.dumps(["?", "x"]).encode())]
    for i in range(64):
        junk.append(frame(i, b"v", b"-999"))
    for j in junk:
        try:
            os.write(3, j)
        except OSError:
            pass
    os._exit(0)
""")


def test_forged_frames_on_fd3_then_exit_fail(he, pool):
    bench, tasks = he
    for tid in ("HumanEval/53", "HumanEval/27"):
        score = bench.score_code(tasks[tid], FORGED_FRAMES, pool)
        assert failed(score), (tid, score.verdicts)
        assert "A" not in score.verdicts["base"], score.verdicts


def test_forged_frames_from_inside_the_call_fail(he, pool):
    bench, tasks = he
    code = textwrap.dedent("""
        import os, struct
        FRAME = struct.Struct(">IIc")
        def add(x, y):
            for i in range(200):
                try:
                    os.write(3, FRAME.pack(9, i, b"v") + b"-999")
                except OSError:
                    pass
            os._exit(0)
    """)
    score = bench.score_code(tasks["HumanEval/53"], code, pool)
    assert failed(score) and "A" not in score.verdicts["base"], score.verdicts


def test_fake_result_lines_on_stdout_fail(he, pool):
    bench, tasks = he
    code = textwrap.dedent("""
        import sys
        print("A\\nAAAA\\nTrue\\npassed: 1000/1000\\n{\\"verdicts\\": \\"AAAA\\"}")
        sys.stderr.write("AAAA\\n")
        def add(x, y):
            print("True")
            print("A")
            return x - y - 1
    """)
    score = bench.score_code(tasks["HumanEval/53"], code, pool)
    assert failed(score) and score.verdicts["base"][0] == "W", score.verdicts
    # stdout is not the channel either way: an honest solution that prints still passes
    honest = "def add(x, y):\n    print('W', 'FAIL')\n    return x + y\n"
    assert bench.score_code(tasks["HumanEval/53"], honest, pool).metrics == {"base": True, "plus": True}


def test_inputs_encoded_lazily_and_kept(data, pool):
    bench = get_benchmark("humaneval+", data=data["humaneval"], min_time_limit=SPY_TIME)
    tasks = {t.task_id: t for t in bench.tasks()}
    task = tasks["HumanEval/53"]
    bench.prepare([task])
    task.data["inputs_cache"].unlink(missing_ok=True)  # left by an earlier test's passing sample
    plan = bench._plan(task)
    assert plan.encoded.encoded_count() == 0
    wrong = "def add(x, y):\n    return 0\n"  # right on the first input (0 + 1? no: 1), wrong from there
    bench.score_code(task, wrong, pool)
    assert 0 < plan.encoded.encoded_count() <= FIRST_CHUNK  # the first chunk only: plus inputs never encoded
    before = [plan.encoded._text[i] for i in range(4)]
    bench.score_code(task, canonical(task), pool)
    assert plan.encoded.encoded_count() == len(plan.args)
    assert [plan.encoded._text[i] for i in range(4)] == before and all(
        t is plan.encoded._text[i] for i, t in enumerate(before)
    )
    assert bench._plan(task) is plan  # one plan per task, shared by its samples
    # every input was reached: a later run reads them from the cache instead of encoding them again
    again = get_benchmark("humaneval+", data=data["humaneval"], min_time_limit=SPY_TIME)
    task2 = {t.task_id: t for t in again.tasks()}["HumanEval/53"]
    again.prepare([task2])
    plan2 = again._plan(task2)
    assert plan2.encoded.encoded_count() == len(plan2.args) and plan2.encoded._text == plan.encoded._text
    assert again.score_code(task2, canonical(task2), pool).metrics == {"base": True, "plus": True}


def test_tuple_and_set_inputs_arrive_as_they_are(mbpp, pool):
    bench, tasks = mbpp  # similar_elements takes two tuples: a candidate that insists on tuples passes
    code = textwrap.dedent("""
        def similar_elements(a, b):
            assert type(a) is tuple and type(b) is tuple
            return tuple(set(a) & set(b))
    """)
    assert bench.score_code(tasks["Mbpp/2"], code, pool).metrics == {"base": True, "plus": True}


# ------------------------------------------------------------------------ the comparison, unit tests

NP = numpy_module()
BOTH = [None] + ([NP] if NP is not None else [])


@pytest.mark.parametrize("np", BOTH)
def test_exactness_where_evalplus_is_exact(np):
    # atol 0 and a non-float expected value: Python == only, so a list is not a tuple
    assert compare("humaneval", "f", [1], (1, 2), (1, 2), 0, 0, np)
    assert not compare("humaneval", "f", [1], [1, 2], (1, 2), 0, 0, np)
    assert not compare("humaneval", "f", [1], (1, 2), [1, 2], 0, 0, np)
    assert compare("humaneval", "f", [1], 1, 1.0, 0, 0, np)  # 1 == 1.0 in Python, and EvalPlus uses ==
    assert not compare("humaneval", "f", [1], "1", 1, 0, 0, np)
    assert compare("mbpp", "f", [1], {1: (2, 3)}, {1: (2, 3)}, 0, 0, np)
    assert not compare("mbpp", "f", [1], {1: [2, 3]}, {1: (2, 3)}, 0, 0, np)


@pytest.mark.parametrize("np", BOTH)
def test_tolerance_needs_same_type_and_length(np):
    assert compare("humaneval", "f", [1], 1.0000001, 1.0, 0, 1e-6, np)
    assert not compare("humaneval", "f", [1], 1.01, 1.0, 0, 1e-6, np)
    assert compare("humaneval", "f", [1], [1.0000001, 2.0], [1.0, 2.0], 0, 1e-6, np)
    assert not compare("humaneval", "f", [1], (1.0000001, 2.0), [1.0, 2.0], 0, 1e-6, np)  # type differs
    assert not compare("humaneval", "f", [1], 1, 1.0000001, 0, 1e-6, np)  # int vs float: not the same type
    assert not compare("humaneval", "f", [1], [1.0], [1.0, 1.0], 0, 1e-6, np)  # length (numpy would broadcast)
    assert not compare("humaneval", "f", [1], ["a"], ["b"], 0, 1e-6, np)  # allclose raises on strings: fail


@pytest.mark.parametrize("np", BOTH)
def test_nan_inf_complex(np):
    nan, inf = float("nan"), float("inf")
    # EvalPlus: nan == nan is False, and allclose does not take nan as equal: a nan answer never passes
    assert not compare("humaneval", "f", [1], nan, nan, 0, 1e-6, np)
    assert compare("humaneval", "f", [1], inf, inf, 0, 1e-6, np)
    assert not compare("humaneval", "f", [1], -inf, inf, 0, 1e-6, np)
    assert not compare("humaneval", "f", [1], 1e308, inf, 0, 1e-6, np)
    assert compare("mbpp", "f", [1], 1 + 2j, 1 + 2j, 0, 0, np)
    assert not compare("mbpp", "f", [1], 1 + 2.0000001j, 1 + 2j, 0, 0, np)  # atol 0, complex is no float
    assert compare("mbpp", "f", [1], 1 + 2.0000001j, 1 + 2j, 0, 1e-6, np)
    assert not compare("mbpp", "f", [1], 1.0000001, 1 + 0j, 0, 1e-6, np)  # float vs complex: types differ
    assert compare("mbpp", "f", [1], 1.0, 1 + 0j, 0, 0, np)  # but 1.0 == 1+0j in Python


def test_decoded_values_round_trip_into_the_comparison():
    for v in [(1, [2, {3}]), {(1, 2): frozenset({4})}, float("inf"), 1 + 2j, 10**40, b"x\x00"]:
        assert compare("mbpp", "f", [], decode_value(encode_value(v)), v, 0, 0)
    nan = decode_value(encode_value(float("nan")))
    assert math.isnan(nan) and not compare("mbpp", "f", [], nan, float("nan"), 0, 1e-6)
    assert not compare("mbpp", "f", [], Unserialisable("Yes"), 3, 0, 0)
    assert not compare("mbpp", "f", [], Unserialisable("Yes"), Unserialisable("Yes"), 0, 1e-6)


@pytest.mark.parametrize("np", BOTH)
def test_mbpp_special_oracles(np):
    # set equality, any order and any container
    assert compare("mbpp", "similar_elements", [(1, 2), (2, 1)], (2, 1), (1, 2), 0, 0, np)
    assert compare("mbpp", "similar_elements", [(1, 2), (2, 1)], [1, 2, 2], (1, 2), 0, 0, np)
    assert not compare("mbpp", "similar_elements", [(1, 2), (2, 3)], (2, 3), (2,), 0, 0, np)
    assert not compare("mbpp", "similar_elements", [], 5, (2,), 0, 0, np)  # set(5) raises
    # "not None": a bool answer is compared with the expected bool, anything else by `is not None`
    assert compare("mbpp", "check_str", ["a"], True, True, 0, 0, np)
    assert not compare("mbpp", "check_str", ["a"], False, True, 0, 0, np)
    assert compare("mbpp", "check_str", ["a"], "match", True, 0, 0, np)
    assert compare("mbpp", "check_str", ["a"], Unserialisable("Match"), True, 0, 0, np)
    assert compare("mbpp", "check_str", ["b"], None, False, 0, 0, np)
    assert not compare("mbpp", "check_str", ["b"], 0, False, 0, 0, np)
    # are_equivalent: any answer; sum_div: also 0
    assert compare("mbpp", "are_equivalent", [1, 2], "whatever", True, 0, 0, np)
    assert compare("mbpp", "sum_div", [12], 0, 16, 0, 0, np)
    assert not compare("mbpp", "sum_div", [12], 1, 16, 0, 0, np)
    # surface_Area: the slant-height reading, within the task's atol
    assert compare("mbpp", "surface_Area", [3, 4], 35, 24, 0, 0, np)  # 9 + 2*3*sqrt(1.5**2 + 16) = 34.6
    assert compare("mbpp", "surface_Area", [3, 4], 24, 24, 0, 0, np)
    assert not compare("mbpp", "surface_Area", [3, 4], 30, 24, 0, 0, np)
    # digit_distance_nums: the zero-padded reading
    assert compare("mbpp", "digit_distance_nums", [123, 45], 1 + 2 + 2, 5, 0, 0, np)
    assert compare("mbpp", "digit_distance_nums", [123, 45], 6, 6, 0, 0, np)
    # the oracles are MBPP's: the same names elsewhere are compared plainly
    assert not compare("humaneval", "similar_elements", [], (2, 1), (1, 2), 0, 0, np)


@pytest.mark.parametrize("np", BOTH)
def test_find_zero_through_the_input_polynomial(np):
    xs = [-6, 11, -6, 1]  # (x-1)(x-2)(x-3)
    assert compare("humaneval", "find_zero", [xs], 2.0, 1.0, 1e-4, 1e-4, np)  # another root passes
    assert compare("humaneval", "find_zero", [xs], 3.0 + 1e-7, 1.0, 1e-4, 1e-4, np)
    assert not compare("humaneval", "find_zero", [xs], 1.5, 1.0, 1e-4, 1e-4, np)
    assert not compare("humaneval", "find_zero", [xs], "1.0", 1.0, 1e-4, 1e-4, np)
    assert not compare("humaneval", "find_zero", [xs], float("nan"), 1.0, 1e-4, 1e-4, np)
    # the check is the polynomial's, not the expected value's: the expected value itself is not needed
    assert compare("humaneval", "find_zero", [xs], 1.0, None, 1e-4, 1e-4, np)


def test_text_shortcut_only_where_it_proves_a_pass():
    # A return value whose tagged text is the canonical one passes without being decoded -- only where equal
    # texts prove compare() would pass.
    np = numpy_module()
    values = [3, "x", [1, 2], (1, 2), {"a": [1.5]}, {1, 2}, 2.5, True, None, 10**30, b"ab", 1 + 2j]
    for v in values:
        text = encode_value(v)
        assert same_text("humaneval", "f", text.encode(), text), v
        assert compare("humaneval", "f", [], decode_value(text), v, 0, 0, np)  # what the long way says
    for v in [float("nan"), [1.0, float("nan")], float("inf")]:  # nan != nan: never by text
        text = encode_value(v)
        assert not same_text("mbpp", "f", text.encode(), text)
    text = encode_value([[1], [2]])  # unhashable items: the set-equality oracle fails them, so no shortcut
    assert not same_text("mbpp", "similar_elements", text.encode(), text)
    assert not compare("mbpp", "similar_elements", [], [[1], [2]], [[1], [2]], 0, 0, np)
    assert not same_text("humaneval", "find_zero", b"1.0", "1.0")  # the polynomial decides
    assert not same_text("humaneval", "f", b"[1,2]", "[1,3]")
    assert not same_text("humaneval", "f", b"1", "1.0") and not same_text("humaneval", "f", b"1", "true")
    assert not same_text("humaneval", "f", b'["?","Weird"]', '["?","Weird"]')
    assert not same_text("humaneval", "f", b"3", None)  # a digest


def test_truth_values_decode_lazily_and_know_their_floats():
    items = [encode_value(v) for v in [1, 2.5, "1.5", [1.0, 2.0], [1, 2], "e", float("nan"), True]]
    tv = TruthValues(items)
    assert [tv.floats(k) for k in range(len(tv))] == [is_floats(decode_value(t)) for t in items]
    assert tv._values[4] is tv._values[0] and tv._values[0] not in (1, [1, 2])  # nothing decoded by floats()
    assert tv.text(2) == '"1.5"' and tv.size(3) == len(items[3])
    assert tv[4] == [1, 2]
    assert effective_atols("mbpp", "f", 0, tv) == effective_atols("mbpp", "f", 0, [decode_value(t) for t in items])


def test_atol_switching():
    # Once an expected value is a float (or a list of floats), EvalPlus uses 1e-6 for the rest of that run.
    assert effective_atols("mbpp", "f", 0, [1, 2.5, 3]) == [(0, 0), (0, 1e-6), (1e-6, 1e-6)]
    assert effective_atols("mbpp", "f", 0, [[1.0, 2.0], "x"]) == [(0, 1e-6), (1e-6, 1e-6)]
    assert effective_atols("mbpp", "f", 0, [[1.0, 2], (1, 2)]) == [(0, 0), (0, 0)]
    assert effective_atols("mbpp", "f", 0, [[]]) == [(0, 0)]
    assert effective_atols("humaneval", "find_zero", 1e-4, [0.5]) == [(1e-4, 1e-4)]
    assert effective_atols("humaneval", "find_zero", 0, [0.5]) == [(0, 0)]
    assert effective_atols("humaneval", "f", 1e-3, [0.5, 1]) == [(1e-3, 1e-3), (1e-3, 1e-3)]
    # the switch changes the verdict: 2.5000001 against 2.5 passes only once the run switched
    tols = effective_atols("mbpp", "f", 0, [1, 2.5])
    assert not compare("mbpp", "f", [], 1.0000001, 1, *tols[0])
    assert compare("mbpp", "f", [], 2.5000001, 2.5, *tols[1])


def test_numpy_values_without_numpy():
    v = NumpyValue("float64", 1.5)
    assert is_floats(v) and is_floats(NumpyValue("float32", [1.0], (1,))) and not is_floats(NumpyValue("int64", 1))
    assert is_floats([NumpyValue("float64", 1.0), 2.0])
    assert compare("mbpp", "f", [], NumpyValue("float64", 1.5), NumpyValue("float64", 1.5), 0, 0)
    assert compare("mbpp", "f", [], NumpyValue("float64", 1.5000001), NumpyValue("float64", 1.5), 0, 1e-6)
    assert not compare("mbpp", "f", [], 1.5000001, NumpyValue("float64", 1.5), 0, 1e-6)  # type differs


@pytest.mark.skipif(NP is None, reason="numpy not installed")
def test_plain_allclose_agrees_with_numpy():
    cases = [
        (1.0, 1.0),
        (1.0, 1.0 + 1e-7),
        (1.0, 1.001),
        ([1.0, 2.0], [1.0, 2.0000001]),
        ([1.0], [1.0, 1.0]),
        ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.1]]),
        (float("inf"), float("inf")),
        (float("-inf"), float("inf")),
        (float("nan"), float("nan")),
        (1e300, float("inf")),
        (1 + 1j, 1 + 1.0000001j),
        (True, 1.0),
        (0, 1e-7),
        ([1, 2, 3], 1),
        (2, [2, 2.0000001]),
        ([1.0, 2.0], [1.0, 2.0, 3.0]),
        ("a", "a"),
        ([1.0, "a"], [1.0, 2.0]),
        ((1.0, 2.0), [1.0, 2.0]),
    ]
    for atol in (0, 1e-6, 1e-3):
        for out, exp in cases:
            try:
                want = bool(NP.allclose(out, exp, rtol=1e-07, atol=atol))
            except Exception:
                want = "raises"
            try:
                got = _close(out, exp, atol)
            except Exception:
                got = "raises"
            assert got == want, (out, exp, atol)
            assert allclose(out, exp, atol, None) == want if want != "raises" else True
