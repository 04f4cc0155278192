"""The training config: a TOML file plus `key.path=value` overrides, checked in full before anything starts.

Every key has a default here except `model.path` and `data.train`; the shipped configs
(`crlcli/configs/critique-coder-{4b,8b}.toml`) spell the paper's setting out so that a reader sees it in one page.
Validation collects every problem (unknown keys, wrong types, out-of-range values, contradictions between keys)
and raises one CrlError listing them all with their key paths, so a user fixes a config in one round.
"""

from __future__ import annotations

import copy
import difflib
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import CrlError, UsageError
from ..generation.defaults import TEMPERATURE, TOP_P
from ..options import parse_value
from .flags import ENTRY_MODULE, TRAINER_MODULE

REQUIRED = object()
ESTIMATORS = ("gae", "reinforce", "rloo", "reinforce_baseline", "group_norm", "dr_grpo", "flash_reinforce")


@dataclass(frozen=True)
class Field:
    kind: str  # str | int | float | bool | list[str] | pair | dict
    default: Any
    choices: tuple = ()
    min: float | None = None  # inclusive
    max: float | None = None  # inclusive
    positive: bool = False  # strictly > 0
    doc: str = ""


F = Field
SCHEMA: dict[str, Field] = {
    "name": F("str", "crl-run", doc="run name (also the default output folder)"),
    "platform": F("str", "gpu", choices=("gpu", "cpu"), doc="cpu = the real trainer on CPU (patched; a smoke test)"),
    "model.path": F("str", REQUIRED, doc="base model: local folder or hub id"),
    "data.train": F("str", REQUIRED, doc="training rows from `crl mix` (JSONL)"),
    "data.input_key": F("str", "prompt"),
    "data.label_key": F("str", "label"),
    "data.apply_chat_template": F("bool", True),
    "data.max_prompt_tokens": F("int", 4096, positive=True),
    "data.max_samples": F("int", 0, min=0, doc="0 = every row"),
    "output.dir": F("str", "", doc="run folder; empty = runs/<name>"),
    "phase1.max_response_tokens": F("int", 16384, positive=True),
    "phase1.crl_scale": F("float", 0.5, min=0.0, max=1.0),
    "phase2.max_response_tokens": F("int", 32768, positive=True),
    "phase2.crl_scale": F("float", 1.0, min=0.0, max=1.0),
    "cluster.num_nodes": F("int", 1, positive=True),
    "cluster.gpus_per_node": F("int", 8, positive=True),
    "cluster.colocate_all": F("bool", True),
    "vllm.num_engines": F("int", 0, min=0, doc="0 = every GPU / tensor_parallel_size"),
    "vllm.tensor_parallel_size": F("int", 1, positive=True),
    "vllm.gpu_memory_utilization": F("float", 0.6, positive=True, max=1.0),
    "vllm.enable_sleep": F("bool", True),
    "vllm.enable_prefix_caching": F("bool", True),
    "ds.zero_stage": F("int", 3, choices=(0, 1, 2, 3)),
    "ds.param_dtype": F("str", "bf16", choices=("bf16", "fp16")),
    "ds.packing_samples": F("bool", True),
    "ds.adam_offload": F("bool", False),
    "ds.enable_sleep": F("bool", True),
    "ds.ring_attn_size": F("int", 1, positive=True),
    "ds.attn_implementation": F("str", "flash_attention_2"),
    "algo.advantage_estimator": F("str", "group_norm", choices=ESTIMATORS),
    "algo.kl_init_coef": F("float", 0.0, min=0.0),
    "algo.dynamic_filtering": F("bool", True),
    "algo.dynamic_filtering_range": F("pair", [0.0, 1.0]),
    "rollout.batch_size": F("int", 128, positive=True),
    "rollout.n_samples_per_prompt": F("int", 8, positive=True),
    "rollout.temperature": F("float", TEMPERATURE, positive=True),
    "rollout.top_p": F("float", TOP_P, positive=True, max=1.0),
    "rollout.top_k": F("int", 0, min=0, doc="0 = off; needs trainer.module = " + ENTRY_MODULE),
    "rollout.micro_batch_size": F("int", 4, positive=True),
    "train.batch_size": F("int", 512, positive=True),
    "train.micro_batch_size": F("int", 1, positive=True),
    "train.num_episodes": F("int", 1, positive=True),
    "train.max_epochs": F("int", 1, positive=True),
    "train.seed": F("int", 42),
    "train.dynamic_batch": F("bool", True),
    "train.max_tokens_per_gpu": F("int", 24576, positive=True),
    "train.max_steps": F(
        "int",
        0,
        min=0,
        doc="0 = no limit; else each phase stops after this many rollout steps "
        "(needs trainer.module = " + ENTRY_MODULE + ")",
    ),
    "actor.lr": F("float", 1e-6, positive=True),
    "actor.lr_scheduler": F("str", "constant_with_warmup"),
    "actor.lr_warmup_ratio": F("float", 0.03, min=0.0, max=1.0),
    "actor.max_norm": F("float", 1.0, positive=True),
    "actor.eps_clip_low_high": F("pair", [0.2, 0.3]),
    "actor.gradient_checkpointing": F("bool", True),
    "actor.loss_agg_mode": F("str", "token-mean", choices=("token-mean", "seq-mean-token-mean")),
    "ckpt.save_steps": F("int", 10, doc="-1 = only the final weights"),
    "ckpt.save_hf": F("bool", True),
    "ckpt.max_num": F("int", 3, positive=True),
    "logger.logging_steps": F("int", 1, positive=True),
    "reward.mode": F("str", "server", choices=("server", "file")),
    "reward.urls": F("list[str]", [], doc="reward servers run elsewhere; then none is started"),
    "reward.host": F("str", "127.0.0.1", doc="address the started server binds"),
    "reward.public_host": F("str", "", doc="address the trainer uses to reach it; empty = host"),
    "reward.port": F("int", 5000, min=1, max=65535),
    "reward.workers": F("int", 0, min=0, doc="0 = every CPU core this process may use"),
    "reward.startup_timeout": F("float", 120.0, positive=True),
    "trainer.python": F("str", "", doc="interpreter for the trainer; empty = this one (locally) or `python` (Ray)"),
    "trainer.module": F("str", ENTRY_MODULE, doc="crl's wrapper of " + TRAINER_MODULE + ", or that module itself"),
    "trainer.command": F("list[str]", [], doc="replaces `python -m module` (stand-in trainers, wrappers)"),
    "trainer.extra_args": F("list[str]", [], doc="OpenRLHF flags appended as they are"),
    "trainer.env": F("dict", {}, doc="environment variables for the trainer"),
}

# Keys people reach for that OpenRLHF 0.11.2 cannot honour: say why instead of "unknown key".
UNSUPPORTED: dict[str, str] = {}


@dataclass
class TrainConfig:
    values: dict[str, Any]  # flat: dotted key -> value, defaults filled in
    source: str  # where it came from, for messages and the resolved file
    overrides: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def nested(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            *parents, leaf = key.split(".")
            node = out
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = copy.deepcopy(value)
        return out

    @property
    def output_dir(self) -> Path:
        return Path(self.values["output.dir"] or f"runs/{self.values['name']}").expanduser().absolute()

    @property
    def gpus(self) -> int:
        return self.values["cluster.num_nodes"] * self.values["cluster.gpus_per_node"]

    @property
    def num_engines(self) -> int:
        return self.values["vllm.num_engines"] or max(1, self.gpus // self.values["vllm.tensor_parallel_size"])


def shipped_configs() -> dict[str, Path]:
    folder = resources.files("crlcli") / "configs"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".toml")}


def resolve_config_path(arg: str | Path) -> Path:
    """A file path, or the name of a shipped config (`critique-coder-4b`)."""
    path = Path(arg).expanduser()
    if path.is_file():
        return path
    shipped = shipped_configs()
    name = path.name.removesuffix(".toml")
    if not path.exists() and name in shipped and len(path.parts) == 1:
        return shipped[name]
    hint = "shipped configs: " + ", ".join(sorted(shipped)) if shipped else None
    raise CrlError(f"{arg}: no such config file", hint=hint)


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in SCHEMA:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def parse_override(text: str) -> tuple[str, Any]:
    """`actor.lr=2e-6` -> ("actor.lr", 2e-06). Values in the one KEY=VALUE grammar (crlcli.options: TOML, as in the
    config file; bare words are strings)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or key.startswith("-"):
        raise UsageError(
            f"override {text!r} is not KEY=VALUE",
            hint="write overrides as actor.lr=2e-6 before `--`; OpenRLHF flags go after `--`",
        )
    return key, parse_value(raw)


def load_config(arg: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read, merge overrides, fill defaults and validate; raises one CrlError naming every problem."""
    path = resolve_config_path(arg)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CrlError(f"{path}: not valid TOML: {exc}", hint="see https://toml.io for the syntax") from exc
    except OSError as exc:
        raise CrlError(f"{path}: cannot read: {exc}") from exc
    flat = _flatten(raw)
    for text in overrides:
        key, value = parse_override(text)
        flat[key] = value
    return validate(flat, source=str(path), overrides=list(overrides))


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "pair":
        return (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        )
    if kind == "dict":
        return isinstance(value, dict) and all(isinstance(v, (str, int, float, bool)) for v in value.values())
    raise AssertionError(kind)


KIND_WORDS = {
    "str": "a string",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "list[str]": "a list of strings",
    "pair": "a list of two numbers",
    "dict": "a table of strings",
}


def _check_field(key: str, spec: Field, value: Any, problems: list[str]) -> None:
    if not _type_ok(spec.kind, value):
        problems.append(f"{key}: must be {KIND_WORDS[spec.kind]} (got {value!r})")
        return
    if spec.choices and value not in spec.choices:
        problems.append(f"{key}: must be one of {', '.join(map(str, spec.choices))} (got {value!r})")
    if spec.kind in ("int", "float"):
        if spec.positive and value <= 0:
            problems.append(f"{key}: must be > 0 (got {value!r})")
        if spec.min is not None and value < spec.min:
            problems.append(f"{key}: must be >= {spec.min} (got {value!r})")
        if spec.max is not None and value > spec.max:
            problems.append(f"{key}: must be <= {spec.max} (got {value!r})")
    if spec.kind == "str" and spec.default is REQUIRED and not value.strip():
        problems.append(f"{key}: must not be empty")


def _cross_checks(v: dict[str, Any], problems: list[str]) -> None:
    """Contradictions between keys that OpenRLHF would only report (as an assert) after Ray and vLLM started."""
    gpus = v["cluster.num_nodes"] * v["cluster.gpus_per_node"]
    tp = v["vllm.tensor_parallel_size"]
    engines = v["vllm.num_engines"] or max(1, gpus // tp)
    if v["cluster.colocate_all"] and engines * tp != gpus:
        problems.append(
            f"vllm.num_engines: with cluster.colocate_all, num_engines x tensor_parallel_size ({engines} x {tp}) "
            f"must equal the GPUs (num_nodes x gpus_per_node = {gpus})"
        )
    n = v["rollout.n_samples_per_prompt"]
    if v["algo.advantage_estimator"] in ("rloo", "reinforce_baseline", "group_norm", "dr_grpo") and n < 2:
        problems.append(f"rollout.n_samples_per_prompt: {v['algo.advantage_estimator']} needs at least 2 (got {n})")
    elif v["algo.dynamic_filtering"] and n < 2:
        problems.append(f"rollout.n_samples_per_prompt: dynamic filtering needs at least 2 (got {n})")
    low, high = v["algo.dynamic_filtering_range"]
    if low >= high:
        problems.append(f"algo.dynamic_filtering_range: low must be < high (got {[low, high]})")
    clip_low, clip_high = v["actor.eps_clip_low_high"]
    if clip_low <= 0 or clip_high <= 0:
        problems.append(f"actor.eps_clip_low_high: both clip ratios must be > 0 (got {[clip_low, clip_high]})")
    samples = v["rollout.batch_size"] * n
    if samples % v["train.batch_size"]:
        problems.append(
            f"train.batch_size: must divide rollout.batch_size x n_samples_per_prompt ({samples}); "
            f"got {v['train.batch_size']}"
        )
    dp = max(1, gpus // (v["ds.ring_attn_size"]))
    if v["train.batch_size"] % (v["train.micro_batch_size"] * dp):
        problems.append(
            f"train.batch_size: must be a multiple of train.micro_batch_size x data-parallel GPUs "
            f"({v['train.micro_batch_size']} x {dp}); got {v['train.batch_size']}"
        )
    if samples // v["rollout.micro_batch_size"] < dp:
        problems.append(
            f"rollout.micro_batch_size: too large: {samples} samples in micro batches of "
            f"{v['rollout.micro_batch_size']} leave some of the {dp} actor GPUs idle"
        )
    if gpus % tp:
        problems.append(f"vllm.tensor_parallel_size: must divide the GPU count {gpus} (got {tp})")
    if v["reward.mode"] == "file" and v["reward.urls"]:
        problems.append('reward.urls: only used with reward.mode = "server" (the file mode calls no server)')
    for i, url in enumerate(v["reward.urls"]):
        if not url.startswith(("http://", "https://")):
            problems.append(f"reward.urls[{i}]: must be an http(s) URL (got {url!r})")
    if v["train.dynamic_batch"] and v["train.max_tokens_per_gpu"] < 1024:
        # a single sequence may exceed it (OpenRLHF then gives it a micro batch alone); tiny values are typos
        problems.append("train.max_tokens_per_gpu: must be at least 1024 with train.dynamic_batch")
    wrapper = v["trainer.module"] == ENTRY_MODULE and not v["trainer.command"]
    if v["rollout.top_k"] and v["trainer.module"] == TRAINER_MODULE and not v["trainer.command"]:
        problems.append(
            f'rollout.top_k: {TRAINER_MODULE} has no top-k flag; set trainer.module = "{ENTRY_MODULE}" '
            "(the default), or rollout.top_k = 0"
        )
    if v["train.max_steps"] and v["trainer.module"] == TRAINER_MODULE and not v["trainer.command"]:
        problems.append(
            f"train.max_steps: {TRAINER_MODULE} cannot stop after a number of steps; set trainer.module = "
            f'"{ENTRY_MODULE}" (the default), or train.max_steps = 0'
        )
    packed = v["ds.packing_samples"] or v["train.dynamic_batch"]
    if packed and "flash_attention" not in v["ds.attn_implementation"]:
        problems.append(
            f"ds.attn_implementation: OpenRLHF 0.11.2 replaces {v['ds.attn_implementation']!r} by flash_attention_2 "
            "whenever samples are packed (ds.packing_samples, which train.dynamic_batch turns on): set "
            "flash_attention_2, or turn both off"
        )
    if v["platform"] == "cpu":
        if not wrapper:
            problems.append(f'platform: cpu needs trainer.module = "{ENTRY_MODULE}" (it applies the CPU patches)')
        for key in ("vllm.enable_sleep", "ds.enable_sleep"):
            if v[key] and v["cluster.colocate_all"]:
                problems.append(f'{key}: must be false with platform = "cpu" (vLLM-CPU has no sleep mode)')
        if v["ds.ring_attn_size"] != 1:
            problems.append('ds.ring_attn_size: must be 1 with platform = "cpu" (ring attention needs flash-attn)')
        if v["ds.adam_offload"]:
            problems.append('ds.adam_offload: must be false with platform = "cpu" (the optimizer is on the CPU)')
    if v["trainer.command"] and not v["trainer.command"][0].strip():
        problems.append("trainer.command: the first element (the program) is empty")


def validate(flat: dict[str, Any], source: str = "<config>", overrides: list[str] | None = None) -> TrainConfig:
    problems: list[str] = []
    values: dict[str, Any] = {}
    bad: set[str] = set()
    for key, value in flat.items():
        if key in UNSUPPORTED:
            problems.append(f"{key}: not supported: {UNSUPPORTED[key]}")
            continue
        spec = SCHEMA.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, list(SCHEMA), n=1)
            problems.append(f"{key}: unknown key" + (f" (did you mean {close[0]}?)" if close else ""))
            continue
        before = len(problems)
        _check_field(key, spec, value, problems)
        if len(problems) == before:
            values[key] = value
        else:
            bad.add(key)
    for key, spec in SCHEMA.items():
        if key not in values:
            if spec.default is REQUIRED:
                if key not in flat:
                    problems.append(f"{key}: missing (required: {spec.doc})")
            else:
                values[key] = copy.deepcopy(spec.default)
    if all(k in values for k, spec in SCHEMA.items() if spec.default is not REQUIRED):
        # cross-checks see defaults in place of invalid values; what they say about an invalid key is a repeat
        cross: list[str] = []
        _cross_checks(values, cross)
        problems += [p for p in cross if p.split(":", 1)[0].split("[", 1)[0] not in bad]
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise CrlError(
            f"{source}: {len(problems)} problem(s) in the training config:\n{listing}",
            hint="fix the file or override a key on the command line, e.g. actor.lr=2e-6",
        )
    return TrainConfig(values=values, source=source, overrides=list(overrides or []))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def dump_toml(config: TrainConfig, header: Sequence[str] = ()) -> str:
    """The resolved config as TOML (tomllib reads but does not write), with every default spelled out."""
    lines = [f"# {h}" for h in header]
    tables: dict[str, list[str]] = {}
    for key, value in config.values.items():
        table, _, leaf = key.rpartition(".")
        tables.setdefault(table, []).append(f"{_toml_key(leaf)} = {_toml_value(value)}")
    lines += tables.pop("", [])
    for table, entries in tables.items():
        lines += ["", f"[{table}]", *entries]
    return "\n".join(lines) + "\n"
