"""Every OpenRLHF flag name `crl train` can emit, in one place, pinned to openrlhf==0.11.2.

OpenRLHF's `train_ppo_ray` builds its parser under `if __name__ == "__main__"` and its `--help` needs the whole
GPU stack, so nothing here asks OpenRLHF at run time. Instead tests/training/test_flags.py reads the pinned wheel's
source (its `add_argument` calls) and proves that every name below exists there and that our argv parses.

`CONFIG_FLAGS` maps a config key (see config.py) to the flag it becomes; the launcher adds the flags in
`PHASE_FLAGS` from the phase plan (paths, lengths, the reward URL) rather than from a config key.
"""

from __future__ import annotations

OPENRLHF_VERSION = "0.11.2"
TRAINER_MODULE = "openrlhf.cli.train_ppo_ray"
# crl's wrapper of TRAINER_MODULE (openrlhf_entry.py): the same trainer plus the flags in WRAPPER_FLAGS and, with
# platform = "cpu", the CPU patches.
ENTRY_MODULE = "crlcli.training.openrlhf_entry"

# How a value is rendered: "value" -> `--flag V`; "bool" -> `--flag` when true, nothing when false;
# "pair" -> `--flag A B` (argparse nargs=2).
VALUE, BOOL, PAIR = "value", "bool", "pair"

CONFIG_FLAGS: dict[str, tuple[str, str]] = {
    # cluster layout: one actor group spanning every GPU; vLLM engines share them when colocated
    "cluster.num_nodes": ("--actor.num_nodes", VALUE),
    "cluster.gpus_per_node": ("--actor.num_gpus_per_node", VALUE),
    "cluster.colocate_all": ("--train.colocate_all", BOOL),
    "vllm.num_engines": ("--vllm.num_engines", VALUE),
    "vllm.tensor_parallel_size": ("--vllm.tensor_parallel_size", VALUE),
    "vllm.gpu_memory_utilization": ("--vllm.gpu_memory_utilization", VALUE),
    "vllm.enable_sleep": ("--vllm.enable_sleep", BOOL),
    "vllm.enable_prefix_caching": ("--vllm.enable_prefix_caching", BOOL),
    # DeepSpeed
    "ds.zero_stage": ("--ds.zero_stage", VALUE),
    "ds.param_dtype": ("--ds.param_dtype", VALUE),
    "ds.packing_samples": ("--ds.packing_samples", BOOL),
    "ds.adam_offload": ("--ds.adam_offload", BOOL),
    "ds.enable_sleep": ("--ds.enable_sleep", BOOL),
    "ds.ring_attn_size": ("--ds.ring_attn_size", VALUE),
    "ds.attn_implementation": ("--ds.attn_implementation", VALUE),
    # GRPO
    "algo.advantage_estimator": ("--algo.advantage.estimator", VALUE),
    "algo.kl_init_coef": ("--algo.kl.init_coef", VALUE),
    "algo.dynamic_filtering": ("--algo.dynamic_filtering_enable", BOOL),
    "algo.dynamic_filtering_range": ("--algo.dynamic_filtering_range", PAIR),
    # rollouts
    "rollout.batch_size": ("--rollout.batch_size", VALUE),
    "rollout.n_samples_per_prompt": ("--rollout.n_samples_per_prompt", VALUE),
    "rollout.temperature": ("--rollout.temperature", VALUE),
    "rollout.top_p": ("--rollout.top_p", VALUE),
    "rollout.micro_batch_size": ("--rollout.micro_batch_size", VALUE),
    # optimisation
    "train.batch_size": ("--train.batch_size", VALUE),
    "train.micro_batch_size": ("--train.micro_batch_size", VALUE),
    "train.num_episodes": ("--train.num_episodes", VALUE),
    "train.max_epochs": ("--train.max_epochs", VALUE),
    "train.seed": ("--train.seed", VALUE),
    "train.dynamic_batch": ("--train.dynamic_batch_enable", BOOL),
    "train.max_tokens_per_gpu": ("--train.max_tokens_per_gpu", VALUE),
    "actor.lr": ("--actor.adam.lr", VALUE),
    "actor.lr_scheduler": ("--actor.lr_scheduler", VALUE),
    "actor.lr_warmup_ratio": ("--actor.lr_warmup_ratio", VALUE),
    "actor.max_norm": ("--actor.max_norm", VALUE),
    "actor.eps_clip_low_high": ("--actor.eps_clip_low_high", PAIR),
    "actor.gradient_checkpointing": ("--actor.gradient_checkpointing_enable", BOOL),
    "actor.loss_agg_mode": ("--actor.loss_agg_mode", VALUE),
    # data
    "data.input_key": ("--data.input_key", VALUE),
    "data.label_key": ("--data.label_key", VALUE),
    "data.apply_chat_template": ("--data.apply_chat_template", BOOL),
    # checkpoints
    "ckpt.save_steps": ("--ckpt.save_steps", VALUE),
    "ckpt.save_hf": ("--ckpt.save_hf", BOOL),
    "ckpt.max_num": ("--ckpt.max_num", VALUE),
    "logger.logging_steps": ("--logger.logging_steps", VALUE),
}

# Flags filled from the phase plan, by role.
PHASE_FLAGS: dict[str, str] = {
    "model": "--actor.model_name_or_path",
    "dataset": "--data.prompt_dataset",
    "max_samples": "--data.max_samples",
    "max_len": "--data.max_len",
    "max_new_tokens": "--rollout.max_new_tokens",
    "reward": "--reward.remote_url",
    "ckpt_path": "--ckpt.path",
    "final_dir": "--ckpt.output_dir",
    "resume": "--ckpt.load_enable",
    "tensorboard": "--logger.tensorboard_dir",
    # only with a KL penalty (init_coef > 0) does OpenRLHF build a reference model, which then needs a layout
    "ref_nodes": "--ref.num_nodes",
    "ref_gpus": "--ref.num_gpus_per_node",
}

# Flags the wrapper takes out of the argv before OpenRLHF parses it (not OpenRLHF's: the flag test skips them).
WRAPPER_FLAGS: dict[str, str] = {"rollout.top_k": "--rollout.top_k"}

# Flags whose argparse definition is store_true (rendered bare), for the argv builder and the tests.
BOOL_PHASE_FLAGS = frozenset({"--ckpt.load_enable"})
