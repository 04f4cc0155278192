"""Normalised words and code tokens, and the stable n-gram hashes that decontamination matches on.

Statement text: Unicode NFKC, case-folded, then the maximal runs of letters and digits (`[^\\W_]+`): punctuation,
underscores and whitespace of every kind only separate words, numbers are kept as words ("10^9+7" -> 10 9 7).

Code: a language-agnostic tokenizer (strings, numbers, identifiers, operators; comments dropped; `#` and
`//` comments for Python, `//` and `/* */` for the C-like languages of Aider-Polyglot, Python being recognised
by a `def`/`class ...:` line). Every string literal becomes `S` (docstrings and messages get reworded), every
identifier that is neither a keyword of those languages nor a Python builtin becomes `v` (renamed variables
still match), numbers and operators stay as written. Layout does not count: indentation and newlines vanish.

Hashes are 64-bit and the same on every machine and run (they are cached on disk): each word's is the first 8
bytes of its BLAKE2b digest; an n-gram's is the polynomial sum of its words' hashes mod 2**64, rolled along the
text in O(1) per word.

Both tokenizers have a fast path that gives the same tokens: ASCII text is split with one `str.translate` and
`split()` instead of a regex, and code between string literals and comments is split at whitespace into chunks
(`nums[i]+=1`), each tokenized once and remembered, since no token there can span whitespace.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from hashlib import blake2b
from itertools import chain

MASK = (1 << 64) - 1
BASE = 0x9E3779B97F4A7C15  # odd, so multiplying by it is a bijection mod 2**64
_WORD = re.compile(r"[^\W_]+")
# ASCII letters and digits kept (upper case folded), every other ASCII character a separator: for ASCII text,
# translate + split() gives what _WORD.findall(text.lower()) does, several times faster.
_ASCII_WORDS = str.maketrans({c: (chr(c).lower() if chr(c).isalnum() else " ") for c in range(128)})
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

_STRING = (
    r'[rRbBuUfF]{0,2}(?:"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"'
    r"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)"
)
_NAME = r"(?>[^\W\d]\w*+)"
_OPS = r"==|!=|<=|>=|->|=>|::|\*\*|//|<<|>>|&&|\|\||\+\+|--|:=|[-+*/%&|^]=|\S"
# Whitespace is skipped by the pattern itself, and names and numbers, most of the tokens, are tried first; a name
# right before a quote may be a string prefix (r"...", f'...'), so strings are tried before it is taken as a name.
# Strings come before comments, so a `#` or `//` inside a string literal never starts one.
_PY_TOKENS = re.compile(rf"\s*+({_NAME}(?![\"'`])|\d[\w.]*+|{_STRING}|\#[^\n]*+|{_NAME}|{_OPS})")
_C_TOKENS = re.compile(rf"\s*+({_NAME}(?![\"'`])|\d[\w.]*+|{_STRING}|//[^\n]*+|/\*[\s\S]*?\*/|{_NAME}|{_OPS})")
_STRING_START = re.compile(r"[rRbBuUfF]{0,2}[\"'`]")
_PY_HINT = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(|^[ \t]*class[ \t]+\w+[^\n{;]*:[ \t]*$", re.M)

# Keywords of the benchmark languages (Python, C++, Java, JavaScript, Go, Rust) and Python's builtins stay as
# written: a renamed variable is a light edit, `while` -> `for` is not.
_OTHER_KEYWORDS = """
auto bool break case catch char class const constexpr continue default delete do double else enum explicit
extern false float for friend goto if inline int long mutable namespace new noexcept nullptr operator private
protected public register return short signed sizeof static struct switch template this throw true try typedef
typename union unsigned using virtual void volatile while abstract boolean byte extends final finally implements
import instanceof interface native package super synchronized throws transient var function let of typeof
undefined null in yield async await export chan defer fallthrough func go map range select type as crate dyn
fn impl loop match mod move mut pub ref self Self trait unsafe where std vector string
""".split()
KEEP = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | frozenset(_OTHER_KEYWORDS)

_memo: dict[str, int] = {}
_MEMO_MAX = 1 << 20  # words seen in a long stream (numbers, names) must not grow memory without bound


def words(text: str) -> list[str]:
    """The normalised words of a statement."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).casefold()
        if not text.isascii():
            # statements are mostly ASCII with a few symbols (≤, —, →): those only separate words, so they become
            # spaces and the ASCII path applies; a non-ASCII letter or digit needs the regex
            if any(c.isalnum() for c in set(_NON_ASCII.findall(text))):  # isalnum() is _WORD's [^\W_]
                return _WORD.findall(text)
            text = _NON_ASCII.sub(" ", text)
    return text.translate(_ASCII_WORDS).split()  # NFKC changes no ASCII text, and casefold() is lower() there


def is_python(code: str) -> bool:
    return _PY_HINT.search(code) is not None


def code_tokens(code: str, python: bool | None = None) -> list[str]:
    """The normalised tokens of a solution; `python=None` guesses the comment syntax from the code."""
    py = is_python(code) if python is None else python
    special = (_PY_SPECIAL if py else _C_SPECIAL).search
    out: list[str] = []
    pos = 0
    while True:
        m = special(code, pos)
        end = m.start() if m else len(code)
        start = end
        if m and end > pos and not code[end - 1].isspace():
            start = end - len(code[pos:end].rsplit(None, 1)[-1])  # the chunk glued to it is scanned with it
        out += _chunks(code[pos:start].split(), py)
        if m is None:
            return out
        pos = len(code)
        for tok in (_PY_TOKENS if py else _C_TOKENS).finditer(code, start):  # up to the string or comment's end
            norm = _normal(tok.group(1), py)
            if norm:
                out.append(norm)
            if tok.end() > end:
                pos = tok.end()
                break


def _chunks(chunks: list[str], py: bool) -> list[str]:
    """The tokens of whitespace-separated chunks of code that hold no string literal or comment: a token never
    spans whitespace there, so each chunk is tokenized on its own, once, and remembered."""
    memo = _py_chunks if py else _c_chunks
    try:
        toks = list(map(memo.__getitem__, chunks))  # most chunks were seen before: one dict lookup each, in C
    except KeyError:
        new = set(chunks).difference(memo)  # in C too: a record's chunks are mostly known
        if len(memo) + len(new) > _MEMO_MAX:
            memo.clear()
            new = set(chunks)
        pattern, raw_memo = (_PY_TOKENS, _py_memo) if py else (_C_TOKENS, _c_memo)
        for chunk in new:
            raws = pattern.findall(chunk)
            try:
                memo[chunk] = tuple(map(raw_memo.__getitem__, raws))
            except KeyError:
                if len(raw_memo) >= _MEMO_MAX:
                    raw_memo.clear()
                raw_memo.update((raw, _classify(raw, py)) for raw in set(raws).difference(raw_memo))
                memo[chunk] = tuple(map(raw_memo.__getitem__, raws))  # no "" (a comment): the chunk holds none
        toks = list(map(memo.__getitem__, chunks))
        for chunk in new:
            if len(chunk) >= 64:  # long ones are mostly one-offs: not kept
                del memo[chunk]
    return list(chain.from_iterable(toks))


def _normal(raw: str, py: bool) -> str:
    memo = _py_memo if py else _c_memo
    tok = memo.get(raw)
    if tok is None:
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        tok = _classify(raw, py)
        if len(raw) < 64:  # string literals and comments are mostly one-offs: not remembered
            memo[raw] = tok
    return tok


def _classify(raw: str, python: bool) -> str:
    """A raw token's normal form; "" for a comment."""
    if raw.startswith("#" if python else ("//", "/*")):
        return ""
    if raw[-1] in "\"'`" and len(raw) > 1 and _STRING_START.match(raw):  # the regex last: names are most tokens
        return "S"
    if raw[0].isdigit():
        return raw.lower()
    if raw[0].isalpha() or raw[0] == "_":
        return raw if raw in KEEP else "v"
    return raw


_py_memo: dict[str, str] = {}
_c_memo: dict[str, str] = {}
_py_chunks: dict[str, tuple[str, ...]] = {}
_c_chunks: dict[str, tuple[str, ...]] = {}
# Where the fast path of code_tokens stops: a quote (a string literal, or its prefix before it) or a comment
# start; `/` in C-like code, where `//` and `/*` open comments (a division only sends its chunk through the regex).
_PY_SPECIAL = re.compile(r"[\"'`#]")
_C_SPECIAL = re.compile(r"[\"'`/]")


def _word_hash(word: str) -> int:
    return int.from_bytes(blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def token_hashes(tokens: list[str]) -> list[int]:
    """Each token's 64-bit hash."""
    try:
        return list(map(_memo.__getitem__, tokens))  # most were seen before: a dict lookup each, in C
    except KeyError:
        new = set(tokens).difference(_memo)
        if len(_memo) + len(new) > _MEMO_MAX:
            _memo.clear()
            new = set(tokens)
        _memo.update(zip(new, map(_word_hash, new)))
        return list(map(_memo.__getitem__, tokens))


def gram_hashes(tokens: list[str], n: int) -> list[int]:
    """hashes[i] = the hash of tokens[i:i+n]; empty when there are fewer than n tokens."""
    return rolling(token_hashes(tokens), n)


def rolling(wh: list[int], n: int) -> list[int]:
    """gram_hashes from the tokens' hashes."""
    if len(wh) < n or n < 1:
        return []
    top = pow(BASE, n - 1, 1 << 64)
    h = 0
    for x in wh[:n]:
        h = (h * BASE + x) & MASK
    out = [h]
    append = out.append
    for old, new in zip(wh, wh[n:]):  # zip, not indexing: the benchmark side's texts go through it whole
        h = ((h - old * top) * BASE + new) & MASK
        append(h)
    return out


def probe_keys(wh: list[int], k: int, step: int = 1) -> list[int]:
    """The keys of the k-grams at 0, step, 2*step, ... (from the tokens' hashes): what screening looks up first
    (index.probe_len), a few per text, so each is hashed by CPython's tuple hash, in C, several times faster
    than the polynomial. That hash is the same in every process of a 64-bit CPython (ints hash to themselves
    mod 2**61 - 1, not salted like str), and the index's cache key and header hold TUPLE_HASH, so a Python
    that hashed tuples otherwise would build its own index instead of misreading this one."""
    return [hash(t) & MASK for t in zip(*[wh[j::step] for j in range(k)])]


TUPLE_HASH = f"{hash((BASE, MASK, 1, -1, (2, 3))) & MASK:016x}"  # hex: a 20-digit number slows jsonx.loads


def longest_run(positions: list[int], n: int) -> tuple[int, int]:
    """(start, length in tokens) of the longest stretch covered by consecutive matched n-grams starting at the
    sorted `positions`."""
    best_start, best_len = positions[0], n
    start = prev = positions[0]
    for p in positions[1:]:
        if p != prev + 1:
            start = p
        prev = p
        if p - start + n > best_len:
            best_start, best_len = start, p - start + n
    return best_start, best_len
