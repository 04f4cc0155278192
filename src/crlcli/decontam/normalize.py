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
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from hashlib import blake2b

MASK = (1 << 64) - 1
BASE = 0x9E3779B97F4A7C15  # odd, so multiplying by it is a bijection mod 2**64
_WORD = re.compile(r"[^\W_]+")

_STRING = (r'[rRbBuUfF]{0,2}(?:"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"'
           r"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`)")
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
KEEP = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | frozenset(
    _OTHER_KEYWORDS)

_memo: dict[str, int] = {}
_MEMO_MAX = 1 << 20  # words seen in a long stream (numbers, names) must not grow memory without bound


def words(text: str) -> list[str]:
    """The normalised words of a statement."""
    if text.isascii():  # NFKC changes no ASCII text, and casefold() is lower() there
        return _WORD.findall(text.lower())
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def is_python(code: str) -> bool:
    return _PY_HINT.search(code) is not None


def code_tokens(code: str, python: bool | None = None) -> list[str]:
    """The normalised tokens of a solution; `python=None` guesses the comment syntax from the code."""
    py = is_python(code) if python is None else python
    memo = _py_memo if py else _c_memo
    raws = (_PY_TOKENS if py else _C_TOKENS).findall(code)
    toks = list(map(memo.get, raws))  # most tokens were seen before: one dict lookup each, in C
    if None in toks:
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        for i, (tok, raw) in enumerate(zip(toks, raws)):
            if tok is None:
                toks[i] = tok = _classify(raw, py)
                if len(raw) < 64:  # string literals and comments are mostly one-offs: not remembered
                    memo[raw] = tok
    return [t for t in toks if t]  # comments normalise to ""


def _classify(raw: str, python: bool) -> str:
    """A raw token's normal form; "" for a comment."""
    if raw.startswith("#" if python else ("//", "/*")):
        return ""
    if _STRING_START.match(raw) and raw[-1] in "\"'`" and len(raw) > 1:
        return "S"
    if raw[0].isdigit():
        return raw.lower()
    if raw[0].isalpha() or raw[0] == "_":
        return raw if raw in KEEP else "v"
    return raw


_py_memo: dict[str, str] = {}
_c_memo: dict[str, str] = {}


def _word_hash(word: str) -> int:
    h = _memo.get(word)
    if h is None:
        if len(_memo) >= _MEMO_MAX:
            _memo.clear()
        h = _memo[word] = int.from_bytes(blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                         "little")
    return h


def gram_hashes(tokens: list[str], n: int) -> list[int]:
    """hashes[i] = the hash of tokens[i:i+n]; empty when there are fewer than n tokens."""
    if len(tokens) < n or n < 1:
        return []
    wh = list(map(_memo.get, tokens))
    if None in wh:
        wh = [h if h is not None else _word_hash(t) for h, t in zip(wh, tokens)]
    top = pow(BASE, n - 1, 1 << 64)
    h = 0
    for x in wh[:n]:
        h = (h * BASE + x) & MASK
    out = [h]
    append = out.append
    for old, new in zip(wh, wh[n:]):  # zip, not indexing: this loop is most of a screened record's cost
        h = ((h - old * top) * BASE + new) & MASK
        append(h)
    return out


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
