"""`python -m crlcli.training.openrlhf_entry [crl flags] OPENRLHF_FLAGS...`: OpenRLHF 0.11.2's
`train_ppo_ray`, run unchanged, with what it lacks for crl's recipe.

- `--rollout.top_k N` (taken out of the argv before OpenRLHF parses it): rollouts sample with top-k N (the
  paper's 20); OpenRLHF's own entry point has no such flag.
- CRL_TRAIN_PLATFORM=cpu: the CPU patches (see openrlhf_patches.py) and a local Ray started with *logical* GPUs,
  so OpenRLHF's `{"GPU": 1}` placement groups can be placed (otherwise they wait forever, silently).
- CRL_STEPS_FILE=FILE: one JSON line per training step, each step announced to the reward server first, and
  CRL_MAX_STEPS=N: stop after N steps (openrlhf_steps.py; `crl train` sets both).
- CRL_RECORD_DIR=DIR: rewards, advantages and weight-sync checks recorded as JSON lines in DIR/<phase folder>
  (tests).
- CRL_RAY_OBJECT_STORE_MB=N (cpu platform): the object store of the local Ray it starts (default 768 MB).

These variables are this process's command line from `crl train` (and a user's shell): `main()` reads the
platform and CRL_RAY_OBJECT_STORE_MB and hands them on as arguments; the patches, which OpenRLHF's own code calls
into, read theirs where they run (openrlhf_patches.py, openrlhf_steps.py).

The patches reach every process of the run: this one directly, Ray's workers through the runtime environment's
worker set-up hook, their subprocesses (vLLM's engine core) through the `sitecustomize` in `_boot/`, put first
on PYTHONPATH here.
`python -m openrlhf.cli.train_ppo_ray` stays usable as it is (`trainer.module` in the config).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from .openrlhf_patches import ENV_GROUPS, ENV_RECORD, ENV_TOP_K, PatchError, check_targets, install
from .openrlhf_steps import ENV_MAX_STEPS, ENV_STEPS

TOP_K_FLAG = "--rollout.top_k"
PLATFORM_ENV = "CRL_TRAIN_PLATFORM"
BOOT_DIR = Path(__file__).with_name("_boot")
# what OpenRLHF's own ray.init() passes to its workers (train_ppo_ray.train), kept when we start Ray instead
OPENRLHF_RAY_ENV = {"TOKENIZERS_PARALLELISM": "true", "NCCL_DEBUG": "WARN", "RAY_ENABLE_ZERO_COPY_TORCH_TENSORS": "1"}
CRL_ENV_KEYS = (ENV_GROUPS, ENV_TOP_K, ENV_RECORD, ENV_STEPS, ENV_MAX_STEPS, PLATFORM_ENV, "PYTHONPATH",
                "DS_ACCELERATOR", "VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_OMP_THREADS_BIND", "OMP_NUM_THREADS")  # fmt: skip


def split_crl_flags(argv: list[str]) -> tuple[int, list[str]]:
    """(top_k or 0, the argv without crl's own flags)."""
    top_k, rest, i = 0, [], 0
    while i < len(argv):
        token = argv[i]
        if token == TOP_K_FLAG:
            if i + 1 >= len(argv):
                raise SystemExit(f"{TOP_K_FLAG} needs a value")
            top_k, i = int(argv[i + 1]), i + 2
            continue
        if token.startswith(TOP_K_FLAG + "="):
            top_k = int(token.split("=", 1)[1])
        else:
            rest.append(token)
        i += 1
    return top_k, rest


def _flag(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else default


def logical_gpus(argv: list[str]) -> int:
    """Enough logical GPUs for the actor group plus, when not colocated, the vLLM engines' own group."""
    actor = int(_flag(argv, "--actor.num_nodes", "1")) * int(_flag(argv, "--actor.num_gpus_per_node", "8"))
    engines = int(_flag(argv, "--vllm.num_engines", "0") or 0) * int(_flag(argv, "--vllm.tensor_parallel_size", "1"))
    return actor + (0 if "--train.colocate_all" in argv else engines)


def prepare_environment(top_k: int, platform: str, argv: list[str]) -> set[str]:
    wanted = {"topk"}
    if platform == "cpu":
        wanted.add("cpu")
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    if os.environ.get(ENV_STEPS) or os.environ.get(ENV_MAX_STEPS):
        wanted.add("steps")
    if os.environ.get(ENV_RECORD):
        wanted.add("record")
        if "--ckpt.output_dir" in argv:  # one folder per phase: <CRL_RECORD_DIR>/phase1, ...
            phase = Path(_flag(argv, "--ckpt.output_dir", "")).parent.name
            os.environ[ENV_RECORD] = str(Path(os.environ[ENV_RECORD]) / phase)
    os.environ[ENV_GROUPS] = ",".join(sorted(wanted))
    if top_k > 0:
        os.environ[ENV_TOP_K] = str(top_k)
    parts = [str(BOOT_DIR), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    return wanted


OBJECT_STORE_ENV = "CRL_RAY_OBJECT_STORE_MB"
OBJECT_STORE_MB = 768  # a CPU run's local Ray: enough for the weight syncs of the small models it trains


def start_ray(argv: list[str], platform: str, object_store_mb: int = OBJECT_STORE_MB) -> None:
    import ray

    env = {k: os.environ.get(k, v) for k, v in OPENRLHF_RAY_ENV.items()}
    env.update({k: os.environ[k] for k in CRL_ENV_KEYS if k in os.environ})
    # Ray workers do not start through our PYTHONPATH's sitecustomize: Ray runs this hook in each of them before
    # any task; their subprocesses (vLLM's engine core) inherit PYTHONPATH and so the sitecustomize.
    runtime_env = {"env_vars": env, "worker_process_setup_hook": "crlcli.training.openrlhf_patches.install"}
    if platform == "cpu":
        gpus = max(1, logical_gpus(argv))
        ray.init(
            num_gpus=gpus,
            num_cpus=2 * gpus + 4,  # logical too: bundles ask {"GPU": 1, "CPU": 1}, the trainer actor 1 CPU
            include_dashboard=False,
            object_store_memory=int(object_store_mb) * 2**20,
            runtime_env=runtime_env,
        )
    else:
        ray.init(runtime_env=runtime_env)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    top_k, rest = split_crl_flags(args)
    platform = os.environ.get(PLATFORM_ENV, "gpu")
    wanted = prepare_environment(top_k, platform, rest)
    install(wanted)
    try:
        check_targets()
    except PatchError as exc:
        raise SystemExit(f"crl: {exc}") from exc
    print(f"crl: OpenRLHF {platform} run, patches: {', '.join(sorted(wanted))}"
          + (f", rollout top-k {top_k}" if top_k else ""), flush=True)  # fmt: skip
    # read on the cpu platform only, the one that starts its own Ray (a GPU run joins or starts Ray's default)
    store_mb = int(os.environ.get(OBJECT_STORE_ENV, str(OBJECT_STORE_MB))) if platform == "cpu" else OBJECT_STORE_MB
    start_ray(rest, platform, store_mb)
    sys.argv = ["openrlhf.cli.train_ppo_ray", *rest]
    runpy.run_module("openrlhf.cli.train_ppo_ray", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
