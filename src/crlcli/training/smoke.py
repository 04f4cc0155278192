"""What `crl train cpu-smoke` trains: a tiny coin-flip critic and a handful of CRL rows (`crl train smoke-assets`),
and a task it can learn (`--task marker`).

GRPO learns nothing from a group whose rewards tie, and dynamic filtering drops such groups, so a random-weight
model (which never writes a verdict) would give the trainer nothing to do. The smoke model is a tiny Qwen3 (real
Qwen3 tokenizer and chat template) whose weights make it a bigram machine: after the chat template's generation
prompt it writes `\\conclusion{T}` or `\\conclusion{F}` with even odds, then <|im_end|>. The rows are CRL rows
from `make demo` (the shortest ones, both labels), so rewards vary inside a group and every group is used.

The smoke proves the plumbing, not learning: whether the demo's solutions are right cannot be read by a bigram
machine. The marker task can: synthetic CRL rows whose prompt carries a reviewer's stamp, " approved" on every
T row and " rejected" on every F row (one token each, three times), the solution varying at random. The critic
must learn to attend to the stamp (its attention outputs start at zero and get gradient from the first step).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ..errors import CrlError, require_module

VERDICTS = ("\\conclusion{T}", "\\conclusion{F}")
# After the final RMSNorm a one-hot state is sqrt(hidden) = 8: logit 8 * SCALE = 120 for the next token, ~0 for the
# rest of the 152k vocabulary. Learning the marker task adds the stamp's signal to that state, and the norm then
# shrinks the one-hot part: the verdicts' logits fall towards the rest (to ~12 of 80 in a run with SCALE 10, where
# 80% of the probability left the two verdicts and one answer in 1,536 came out malformed). 15 keeps them far
# above while staying in bf16's 64..128 range (a resolution of 0.5); the T/F decision does not depend on it.
SCALE = 15.0


def _transitions(tok, trigger: int, end: int) -> dict[int, set[int]]:
    edges: dict[int, set[int]] = {}
    for verdict in VERDICTS:
        chain = [trigger, *tok.encode(verdict, add_special_tokens=False), end]
        for a, b in zip(chain, chain[1:]):
            edges.setdefault(a, set()).add(b)
    return edges


def build_coinflip_model(out_dir: Path | str, seed: int = 0) -> Path:
    """A tiny Qwen3ForCausalLM that answers every chat prompt with a random verdict (see the module doc)."""
    from ..generation.tiny import build_tiny_model

    torch = require_module("torch", "hf", "building the smoke model")
    transformers = require_module("transformers", "hf", "building the smoke model")
    out = Path(out_dir)
    build_tiny_model(out, seed=seed, dtype="float32")
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    prompt = tok.apply_chat_template([{"role": "user", "content": "q"}], add_generation_prompt=True, tokenize=False)
    trigger = tok.encode(prompt, add_special_tokens=False)[-1]
    end = tok.convert_tokens_to_ids("<|im_end|>")
    edges = _transitions(tok, trigger, end)
    model = transformers.Qwen3ForCausalLM.from_pretrained(str(out), torch_dtype=torch.float32)
    model.config.tie_word_embeddings = False
    hidden = model.config.hidden_size
    if len(edges) > hidden:
        raise CrlError(f"the verdict chains need {len(edges)} states, more than the hidden size {hidden}")
    with torch.no_grad():
        emb = model.model.embed_tokens.weight
        head = torch.nn.Parameter(emb.detach().clone())
        model.lm_head.weight = head
        for layer in model.model.layers:  # the residual stream is the current token's embedding alone
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb[:, : len(edges)] = 0
        head[:, : len(edges)] = 0
        for dim, (state, successors) in enumerate(sorted(edges.items())):
            emb[state] = 0
            emb[state, dim] = 1.0
            for nxt in successors:
                head[nxt, dim] = SCALE
    model = model.to(torch.bfloat16)
    model.generation_config.top_k = None
    model.save_pretrained(str(out))
    (out / "crl-smoke.json").write_text(
        json.dumps({"what": "coin-flip critic", "trigger": trigger, "edges": {k: sorted(v) for k, v in edges.items()}})
        + "\n"
    )
    return out


def smoke_rows(source: Path, out: Path, n: int = 4, max_chars: int = 1200) -> list[dict]:
    """The `n` shortest CRL rows of `source` (a `crl mix` output), alternating T and F labels."""
    if not source.is_file():
        raise CrlError(f"{source}: no such file", hint="make it with `make demo` (demo-out/train.jsonl)")
    by_label: dict[str, list[tuple[int, dict]]] = {"T": [], "F": []}
    with open(source, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:  # bad input names its file and line (issue 24), not an internal JSONDecodeError
                row = json.loads(line)
                if row.get("kind") != "crl":
                    continue
                label = json.loads(row["label"]).get("label")
                size = sum(len(m.get("content", "")) for m in row["prompt"])
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise CrlError(
                    f"{source}:{lineno}: not a `crl mix` row ({type(exc).__name__}: {exc})",
                    hint="--rows takes the output of `crl mix`",
                ) from None
            if label in by_label and size <= max_chars:
                by_label[label].append((size, row))
    for rows in by_label.values():
        rows.sort(key=lambda pair: pair[0])
    picked: list[dict] = []
    t, f = by_label["T"], by_label["F"]
    while len(picked) < n and (t or f):
        for side in (t, f):
            if side and len(picked) < n:
                picked.append(side.pop(0)[1])
    if len(picked) < n:
        raise CrlError(f"{source}: only {len(picked)} CRL row(s) of at most {max_chars} characters; need {n}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    return picked


MARKERS = {"T": "approved", "F": "rejected"}  # " approved" and " rejected" are single Qwen3 tokens
_OPS = [("sum", "+"), ("difference", "-"), ("product", "*"), ("larger", "max"), ("smaller", "min"),
        ("remainder", "%"), ("quotient", "//"), ("power", "**")]  # fmt: skip
_NAMES = ["a", "b", "x", "y", "n", "m", "p", "q"]


def marker_prompt(rng: random.Random, label: str) -> str:
    """A short CRL prompt whose verdict is given away by the stamp word (the code itself says nothing). Short and
    stamped three times: the critic's attention starts out uniform, so the stamp's share of it is its signal."""
    _, op = rng.choice(_OPS)
    u, v = rng.sample(_NAMES, 2)
    body = f"{op}({u}, {v})" if op.isalpha() else f"{u} {op} {v}"
    stamp = MARKERS[label]
    return f"Solution: {body}\nReview: {stamp} {stamp} {stamp}"


def marker_rows(out: Path | None, n: int, seed: int = 0, prefix: str = "marker") -> list[dict]:
    """`n` CRL rows of the marker task (half T, half F, shuffled), in `crl mix`'s row format."""
    rng = random.Random(seed)
    labels = ["T", "F"] * (n // 2) + (["T"] if n % 2 else [])
    rng.shuffle(labels)
    rows = [{"id": f"{prefix}/{i}", "kind": "crl",
             "prompt": [{"role": "user", "content": marker_prompt(rng, label)}],
             "label": json.dumps({"kind": "crl", "label": label})} for i, label in enumerate(labels)]  # fmt: skip
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows
