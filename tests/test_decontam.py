"""Decontamination: normalisation, planted positives and negatives on the shipped data, the cached index, LCB."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import orjson
import pytest

from crlcli.decontam import Decontaminator, open_index, parse_specs
from crlcli.decontam.benchmarks import files_of, load_docs
from crlcli.decontam.index import FORMAT, _prose_grams, build, probe_len
from crlcli.decontam.normalize import (
    _C_TOKENS,
    _PY_TOKENS,
    KEEP,
    TUPLE_HASH,
    _normal,
    code_tokens,
    gram_hashes,
    is_python,
    longest_run,
    probe_keys,
    token_hashes,
    words,
)
from crlcli.errors import CrlError, UsageError

SHIPPED = "humaneval+,mbpp+,bigcodebench,aider-polyglot"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One user cache for the module (and the `crl` processes it starts): the shipped index is built once."""
    path = tmp_path_factory.mktemp("crl-cache")
    old = os.environ.get("CRL_CACHE_DIR")
    os.environ["CRL_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("CRL_CACHE_DIR", None)
    else:
        os.environ["CRL_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def shipped(shared_data, cache_dir):
    """The index of the shipped benchmark data and its problems, per benchmark."""
    specs = parse_specs(SHIPPED)
    deco = Decontaminator(open_index(specs, str(shared_data)))
    docs = {s.label: list(load_docs(s, files_of(s, str(shared_data))[1])) for s in specs}
    return deco, docs


# --- normalisation -------------------------------------------------------------------------------------------


def test_words_fold_case_punctuation_and_whitespace_and_keep_numbers():
    assert words("Return  the SUM,\tmodulo 10^9+7 (of a_b).\n") == [
        "return",
        "the",
        "sum",
        "modulo",
        "10",
        "9",
        "7",
        "of",
        "a",
        "b",
    ]
    assert words("ﬁnd Straße") == ["find", "strasse"]  # NFKC, then case folding


def test_code_tokens_rename_variables_and_drop_strings_comments_layout():
    a = code_tokens("def f(xs, k):  # count\n    '''Doc.'''\n    return sum(x > k for x in xs) // 2\n")
    b = code_tokens("def g(values,limit):\n\treturn sum(v>limit for v in values)//2  # other\n", python=True)
    assert a[:7] == ["def", "v", "(", "v", ",", "v", ")"] and "S" in a
    assert [t for t in a if t != "S"] == b  # renamed, re-spaced, comments and docstring gone
    assert "//" in b and "2" in b  # Python's floor division is an operator, numbers stay
    c = code_tokens("int main() { // note\n  std::vector<int> v; /* x */ return a / b; }")
    assert "note" not in c and "x" not in c and c[:2] == ["int", "v"] and "std" in c
    assert is_python("class A:\n    pass\n") and not is_python("class A { };")


def test_gram_hashes_roll_like_direct_hashes_and_are_stable_across_processes():
    toks = words("a b c d e f g a b c d e f g h")
    direct = [gram_hashes(toks[i : i + 5], 5)[0] for i in range(len(toks) - 4)]
    assert gram_hashes(toks, 5) == direct
    assert direct[0] == direct[7] and len(set(direct)) == 8
    code = "from crlcli.decontam.normalize import gram_hashes, words; print(gram_hashes(words('one two three'), 2))"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    ).stdout
    assert other.strip() == str(gram_hashes(words("one two three"), 2))  # the on-disk cache relies on it


def scan_tokens(code: str, python: bool) -> list[str]:
    """What code_tokens gives, by its definition: one regex scan of the whole code."""
    raws = (_PY_TOKENS if python else _C_TOKENS).findall(code)
    return [t for t in (_normal(raw, python) for raw in raws) if t]


def test_fast_tokenizers_agree_with_the_regex_scan():
    """words() splits ASCII text with translate, code_tokens() splits the code outside strings and comments at
    whitespace: random text full of quotes, comments, prefixes and odd whitespace gives the regex's tokens."""
    rng = random.Random(7)
    chars = list("abcXZ_09 \t\n\"'`#/*\\.=<>!-+:;,()[]{}rbf") + ["é", "\u00a0", "\x1c", "ﬁ", "Σ", "\u2028", "≤", "—"]
    pieces = ['"""', "'''", "//", "/*", "*/", "# c\n", 'r"', "b'", 'f"x"', "def f(x):\n", "\\\n", "1.5e3", "x.y"]
    for _ in range(20000):
        text = "".join(
            rng.choice(chars) if rng.random() < 0.7 else rng.choice(pieces) for _ in range(rng.randint(0, 40))
        )
        for py in (True, False):
            assert code_tokens(text, py) == scan_tokens(text, py), (text, py)
        folded = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
        assert words(text) == re.findall(r"[^\W_]+", folded), text


def test_probe_keys_are_tuple_hashes_of_the_sampled_kgrams_and_stable_across_processes():
    wh = token_hashes(words("a b c d e f g h i j k"))
    assert probe_keys(wh, 3, 4) == [hash(tuple(wh[p : p + 3])) & (2**64 - 1) for p in (0, 4, 8)]
    assert probe_keys(wh, 3) == [probe_keys(wh[p : p + 3], 3)[0] for p in range(9)]
    code = (
        "from crlcli.decontam.normalize import probe_keys, token_hashes, words; "
        "print(probe_keys(token_hashes(words('one two three four')), 2))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert runs == {str(probe_keys(token_hashes(words("one two three four")), 2)) + "\n"}


def test_mostly_numeric_ngrams_are_not_indexed():
    toks = words("one two three four five six seven eight 1 2 3 4 5 6 7 8 9 10 11 12 13")
    kept = [h for _, h in _prose_grams(toks, 13)]
    all_ = gram_hashes(toks, 13)
    assert 0 < len(kept) < len(all_)
    assert gram_hashes(words("0 0 0 1 0 0 0 0 0 0 0 0 0"), 13)[0] not in kept


def test_longest_run():
    assert longest_run([3, 4, 5, 9, 10], 13) == (3, 15)
    assert longest_run([7], 13) == (7, 13)


# --- planted positives -------------------------------------------------------------------------------------------


def reword(text: str) -> str:
    """The first sentence said another way."""
    return re.sub(
        r"^(.*?[a-z][.:!?])(\s)", r"Your job in this exercise, stated differently:\2", text, count=1, flags=re.S
    )


def respace(text: str, rng: random.Random) -> str:
    """Whitespace, case and punctuation changed."""
    return re.sub(r"\s+", lambda m: rng.choice([" ", "\n", "  \t", "\n\n"]), text).upper().replace(",", " ;")


def new_examples(text: str) -> str:
    """Every number changed (examples, constraints)."""
    return re.sub(r"\d+", lambda m: str(int(m.group()) * 7 + 3), text)


def rename(code: str) -> str:
    """Every identifier that is not a keyword or builtin renamed (attributes and string prefixes left alone)."""
    names: dict[str, str] = {}
    return re.sub(
        r"(?<![.\w])[A-Za-z_]\w*(?![\"'\w])",
        lambda m: m.group() if m.group() in KEEP else names.setdefault(m.group(), f"renamed_{len(names)}"),
        code,
    )


def caught(deco: Decontaminator, record: dict, task_id: str, kind: str) -> bool:
    return any(h["task_id"] == task_id and h["kind"] == kind for h in deco.screen(record))


EDITS = {
    "reword": lambda t, rng: reword(t),
    "respace": respace,
    "examples": lambda t, rng: new_examples(t),
    "all": lambda t, rng: new_examples(respace(reword(t), rng)),
}
# Share of a benchmark's statements still caught after each edit (a seeded sample of 30; the full-set counts are
# in docs/filter.md). MBPP's statement is one short sentence and its asserts: reworded, little prose is left.
EXPECTED = {
    "humaneval+": {"reword": 0.9, "respace": 1.0, "examples": 0.9, "all": 0.6},
    "mbpp+": {"respace": 1.0, "examples": 0.85},
    "bigcodebench": {"reword": 1.0, "respace": 1.0, "examples": 1.0, "all": 1.0},
    "aider-polyglot": {"reword": 1.0, "respace": 1.0, "examples": 1.0, "all": 1.0},
}


@pytest.mark.parametrize("bench", list(EXPECTED))
def test_planted_statement_copies_with_light_edits_are_caught(shipped, bench):
    deco, docs = shipped
    rng = random.Random(0)
    sample = rng.sample(docs[bench], 30)
    for edit, want in EXPECTED[bench].items():
        hits = sum(
            caught(deco, {"id": "t", "question": EDITS[edit](d.texts[0], rng)}, d.task_id, "statement") for d in sample
        )
        assert hits >= want * len(sample), (bench, edit, hits)


@pytest.mark.parametrize("bench", list(EXPECTED))
def test_planted_solutions_with_renamed_variables_are_caught(shipped, bench):
    deco, docs = shipped
    long_enough = [d for d in docs[bench] if d.codes and len(code_tokens(*d.codes[0])) >= 50]
    sample = random.Random(1).sample(long_enough, min(20, len(long_enough)))
    for d in sample:
        code, py = d.codes[0]
        edited = rename(code) if py else code.replace("    ", "\t")
        record = {
            "id": "t",
            "question": "unrelated",
            "candidates": [
                {"id": "ref0", "code": edited, "origin": {"backend": "reference"}},
                {"id": "c1", "code": code, "origin": {"backend": "vllm"}},
            ],
        }  # model candidates are not references
        assert caught(deco, record, d.task_id, "solution"), d.task_id
        record["candidates"] = record["candidates"][1:]
        assert not caught(deco, record, d.task_id, "solution")


def filler(k: int) -> list[str]:
    return [f"zq{i}x" for i in range(k)]


def test_an_ngram_just_below_the_threshold_is_not_caught(shipped):
    deco, docs = shipped
    doc = next(d for d in docs["bigcodebench"] if d.task_id == "BigCodeBench/13")
    text = words(doc.texts[0])
    start = next(i for i in range(len(text)) if not any(t.isdigit() for t in text[i : i + 13]))
    for size, want in ((12, False), (13, True)):
        question = " ".join(filler(20) + text[start : start + size] + filler(20))
        assert caught(deco, {"id": "t", "question": question}, doc.task_id, "statement") is want, size
    hit = next(
        h
        for h in deco.screen({"id": "t", "question": " ".join(text[start : start + 15])})
        if h["task_id"] == doc.task_id
    )
    assert hit["size"] == 15 and hit["ngrams"] == 3 and hit["match"] == " ".join(text[start : start + 15])


def test_a_copy_is_caught_at_every_offset_with_every_ngram_counted(shipped):
    """Screening looks up one k-gram in every n - k + 1 words first: a copied stretch is found wherever it
    starts, and counted as hashing every n-gram would."""
    deco, docs = shipped
    doc = next(d for d in docs["bigcodebench"] if d.task_id == "BigCodeBench/13")
    text = words(doc.texts[0])
    start = next(i for i in range(len(text)) if not any(t.isdigit() for t in text[i : i + 16]))
    step = 13 - probe_len(13) + 1
    for offset in range(2 * step + 1):
        for size in (13, 16):
            question = " ".join(filler(offset) + text[start : start + size] + filler(5))
            hit = next(h for h in deco.screen({"id": "t", "question": question}) if h["task_id"] == doc.task_id)
            assert (hit["size"], hit["ngrams"]) == (size, size - 12), (offset, size)


def test_a_code_run_just_below_the_threshold_is_not_caught(shipped):
    deco, docs = shipped
    doc = next(d for d in docs["aider-polyglot"] if d.task_id == "python/bowling")
    toks = code_tokens(*doc.codes[0])
    for size, want in ((49, False), (50, True)):
        # the run written back as code (a string literal for S), between lines whose tokens cannot extend it
        run = " ".join('"s"' if t == "S" else t for t in toks[100 : 100 + size])
        code = f"def zz():\n    return 987654321\n{run}\n987654321\n"
        record = {
            "id": "t",
            "question": "q",
            "candidates": [{"id": "r", "code": code, "origin": {"backend": "reference"}}],
        }
        assert caught(deco, record, doc.task_id, "solution") is want, size


# --- planted negatives: the shipped training samples -------------------------------------------------------------


def test_shipped_training_samples_have_no_hit_against_the_shipped_benchmarks(shipped, shared_data):
    """docs/filter.md reports these counts and judges the hits near the thresholds."""
    from crlcli.sources import load

    deco, _ = shipped
    hits = []
    for source, name in (("code-contests", "code_contests.json"), ("leetcode", "leetcode.json")):
        for record in load(source, str(shared_data / "cp_samples" / name)):
            hits += deco.screen(record)
    assert hits == []


# --- the index and its cache ---------------------------------------------------------------------------------------


def problems_file(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps({"id": i, "question": q}) + b"\n" for i, q in rows))
    return path


STATEMENT = (
    "Given a list of stones arranged in a circle, a frog jumps over every second stone until one remains; "
    "print the index of the last stone standing after all the jumps are done."
)


def test_index_is_cached_beside_writable_data_and_rebuilt_when_the_data_changes(tmp_path, cache_dir):
    data = tmp_path / "bench"
    data.mkdir()
    f = problems_file(data / "bench.jsonl", [("B/1", STATEMENT)])
    specs = parse_specs(None, [f])
    first = open_index(specs)
    assert first.built_s is not None and first.cache_path.parent == data / ".crl-cache"
    again = open_index(specs)
    assert again.built_s is None and again.cache_path == first.cache_path
    rebuilt = build([(s, files_of(s, None)[1]) for s in specs], 13, 50)
    assert again.to_bytes() == first.to_bytes() == rebuilt.to_bytes()  # deterministic, and loads back the same
    first.cache_path.write_bytes(first.cache_path.read_bytes()[:-100])  # a torn file is rebuilt, not trusted
    assert open_index(specs).built_s is not None
    problems_file(f, [("B/1", STATEMENT), ("B/2", "another problem entirely " * 5)])
    changed = open_index(specs)
    assert changed.built_s is not None and changed.cache_path != first.cache_path
    assert open_index(specs, n=10).cache_path != changed.cache_path  # options are part of the key


def test_an_index_of_another_format_or_tuple_hash_is_rebuilt_not_misread(tmp_path, cache_dir):
    data = tmp_path / "fmt"
    data.mkdir()
    specs = parse_specs(None, [problems_file(data / "bench.jsonl", [("B/1", STATEMENT)])])
    path = open_index(specs).cache_path
    good = path.read_bytes()
    other_hash = ("1" if TUPLE_HASH[0] != "1" else "2") + TUPLE_HASH[1:]  # as a Python hashing tuples otherwise
    for old, new in (
        (f'"format":{FORMAT}'.encode(), f'"format":{FORMAT - 1}'.encode()),
        (f'"{TUPLE_HASH}"'.encode(), f'"{other_hash}"'.encode()),
    ):
        assert old in good
        path.write_bytes(good.replace(old, new, 1))
        again = open_index(specs)
        assert again.built_s is not None and path.read_bytes() == good
        assert [h["task_id"] for h in Decontaminator(again).screen({"id": "t", "question": STATEMENT})] == ["B/1"]


def test_read_only_data_falls_back_to_the_user_cache(tmp_path, cache_dir):
    data = tmp_path / "ro"
    data.mkdir()
    f = problems_file(data / "bench.jsonl", [("B/1", STATEMENT + " Read-only.")])
    data.chmod(0o555)
    try:
        index = open_index(parse_specs(None, [f]))
    finally:
        data.chmod(0o755)
    assert index.cache_path.parent == cache_dir / "decontam"
    assert "read-only" in index.cache_note and not (data / ".crl-cache").exists()


def test_specs_and_their_errors(tmp_path):
    labels = [s.label for s in parse_specs("evalplus, humaneval ,lcb,lcb:v6:2024-08-01:2025-05-01,bigcodebench-hard")]
    assert labels == ["humaneval+", "mbpp+", "lcb-v5", "lcb-v6:2024-08-01:2025-05-01", "bigcodebench-hard"]
    with pytest.raises(UsageError, match="unknown benchmark 'bbeh'"):
        parse_specs("bbeh")
    with pytest.raises(UsageError, match="bad date"):
        parse_specs("lcb:v5:2024-13-01:")
    with pytest.raises(UsageError, match="evalplus=...: not a benchmark being screened"):
        open_index(parse_specs("humaneval"), overrides={"evalplus": str(tmp_path)})
    with pytest.raises(UsageError, match="one file, for several benchmarks"):
        open_index(parse_specs("humaneval,mbpp"), data=__file__)
    with pytest.raises(CrlError, match="no LiveCodeBench data under"):
        open_index(parse_specs("lcb"), data=str(tmp_path))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q"}\n{"id": "b"}\n')
    with pytest.raises(CrlError, match=r"bad\.jsonl:2: a problem needs"):
        open_index(parse_specs(None, [bad]))


# --- LiveCodeBench: statements, date window, contest ids -----------------------------------------------------------


def lcb_row(qid: str, day: str, contest: str, text: str) -> dict:
    tests = orjson.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}]).decode()
    return {
        "question_title": qid,
        "question_content": text,
        "platform": "atcoder",
        "question_id": qid,
        "contest_id": contest,
        "contest_date": f"{day}T00:00:00",
        "starter_code": "",
        "difficulty": "easy",
        "public_test_cases": tests,
        "private_test_cases": tests,
        "metadata": "{}",
    }


def test_lcb_statements_and_window_warnings(tmp_path, cache_dir):
    folder = tmp_path / "lcb"
    folder.mkdir()
    rows = [
        lcb_row("abc380_a", "2024-11-16", "abc380", STATEMENT),
        lcb_row("abc300_a", "2023-04-29", "abc300", "An old problem about " + "counting sheep " * 10),
    ]
    (folder / "test.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    deco = Decontaminator(open_index(parse_specs("lcb"), overrides={"lcb": str(folder)}))
    assert [h["task_id"] for h in deco.screen({"id": "t", "question": STATEMENT})] == ["abc380_a"]
    assert deco.screen({"id": "t", "question": "An old problem about " + "counting sheep " * 10}) == []  # outside
    dated = deco.screen({"id": "d", "question": "x", "source": {"contest_date": "2024-12-01"}})
    assert [(h["kind"], h["task_id"], h["match"]) for h in dated] == [("lcb-window", None, "contest_date 2024-12-01")]
    same_contest = deco.screen({"id": "c", "question": "x", "source": {"contest_id": "ABC380"}})
    assert same_contest[0]["task_id"] == "abc380_a" and same_contest[0]["window"] == ["2024-10-01", "2025-02-01"]
    assert deco.screen({"id": "o", "question": "x", "source": {"contest_date": "2023-04-29"}}) == []


def test_filter_without_decontaminate_does_not_import_it():
    code = (
        "import sys; from crlcli.cli import main\ntry: main(['filter', '--max-case-tokens', '0'])\n"
        "except SystemExit: pass\nprint('crlcli.decontam' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], input="", capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")
