"""Test helpers for tts: a tiny model that really closes its thinking, and small problem files.

A random tiny model almost never samples `</think>` (one token in ~152k), so budget forcing would never see a
model-made close. `build_closing_model` takes the shared tiny model, unties its output layer and scales two
groups of rows: ~200 space-prefixed lowercase word tokens (" cat", " not") and `</think>`. With top-k sampling
the model then writes only those words and closes its thinking every few tokens. Because such text re-encodes
to exactly the tokens that were generated, a test can count the generated tokens independently of the backend.
"""

from __future__ import annotations

import re
import shutil
import struct
import zlib
from pathlib import Path

import orjson

WORD_SCALE = 20.0  # measured with the seed-0 tiny model: closes after 0-2 tokens at first, 5-30 after "Wait"
CLOSE_SCALE = 20.0


def build_closing_model(base: Path, out: Path) -> Path:
    import torch
    import transformers

    if out.exists():
        shutil.rmtree(out)
    tok = transformers.AutoTokenizer.from_pretrained(base)
    model = transformers.AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    words = sorted(i for t, i in tok.get_vocab().items() if re.fullmatch("\u0120[a-z]{3,6}", t))[:200]
    close = tok.convert_tokens_to_ids("</think>")
    emb = model.get_input_embeddings().weight
    # Fresh random rows (not the input embeddings): a row equal to its own token's embedding makes the model
    # repeat that token forever.
    rows = torch.randn(emb.shape[0], emb.shape[1], generator=torch.Generator().manual_seed(0)) * emb.std()
    with torch.no_grad():
        head = torch.nn.Linear(emb.shape[1], emb.shape[0], bias=False)
        head.weight.copy_(emb)
        head.weight[words] = rows[words] * WORD_SCALE
        head.weight[close] = rows[close] * CLOSE_SCALE
    model.lm_head = head
    model.config.tie_word_embeddings = False
    model.save_pretrained(out)
    tok.save_pretrained(out)
    shutil.copyfile(base / "generation_config.json", out / "generation_config.json")
    return out


def call_problem(pid: str, fn: str = "add_one", public: bool = False) -> dict:
    cases = [{"input": [1], "output": 2}, {"input": [5], "output": 6}]
    rec = {
        "id": pid,
        "question": f"Write a function {fn}(x) that returns x + 1.",
        "starter_code": "",
        "tests": {"type": "call", "fn_name": fn, "class_name": None, "cases": cases, "program": None},
    }
    if public:
        rec["public_tests"] = {"type": "call", "fn_name": fn, "class_name": None, "cases": cases[:1], "program": None}
    return rec


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def assert_valid_png(path):
    """Signature, a well-formed IHDR with a sane size, CRC-checked chunks, IEND last; then decode it."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert 300 <= width <= 2000 and 200 <= height <= 2000
    import matplotlib.image

    assert matplotlib.image.imread(str(path)).shape[:2] == (height, width)
