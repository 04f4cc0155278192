"""Per-step bookkeeping inside OpenRLHF 0.11.2's PPO trainer (the `steps` patch group; see openrlhf_patches.py).

OpenRLHF logs one status dict per step, but its reward mean covers only the samples dynamic filtering kept, and it
does not say how many groups the filter threw away or how many rows it pulled to refill the batch. These patches,
which change nothing OpenRLHF computes, make every step:

- announce itself to each reward server (POST <server>/step) before any of its samples are generated, so that the
  server's per-sample record (reward/record.py) says which step each sample belongs to;
- append one JSON line to CRL_STEPS_FILE once the step is trained and synced: its number (OpenRLHF's global
  step, as in `global_step<N>_hf`), time spent generating, making experience, training and syncing weights, the
  groups generated and trained on, the rows consumed, response lengths in tokens over *every* generated sample,
  and OpenRLHF's own (filtered) reward mean for comparison;
- stop the run before step CRL_MAX_STEPS + 1 (`train.max_steps`), by telling OpenRLHF's loop that the prompts
  are exhausted: it then saves the final model as at the end of an epoch.

Steps and the PPO loop live in the `PPOTrainer` Ray actor; both patched classes are used only there.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import urllib.request

ENV_STEPS = "CRL_STEPS_FILE"
ENV_MAX_STEPS = "CRL_MAX_STEPS"

# Samples of the step being generated. One PPOTrainer per process, so module state is the trainer's state.
_STEP: dict = {}


def _reset(next_step: int) -> None:
    _STEP.clear()
    _STEP.update(next=next_step, started=None, generation_s=0.0, consumed=0, lengths=[], truncated=0)


_reset(1)


def _say(text: str) -> None:
    print(f"crl: {text}", file=sys.stderr, flush=True)


def announce(remote_url, step: int) -> None:
    """POST {"step": step} to every HTTP reward server of OpenRLHF's `--reward.remote_url` (comma-separated on
    the command line; a list by the time the trainer holds it)."""
    urls = remote_url if isinstance(remote_url, (list, tuple)) else str(remote_url or "").split(",")
    for url in urls:
        url = str(url).strip()
        if not url.startswith(("http://", "https://")):
            continue  # a reward file, or OpenRLHF's "agent": no server to tell
        target = url.rsplit("/", 1)[0] + "/step"
        body = json.dumps({"step": step}).encode()
        req = urllib.request.Request(target, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the run's own reward server
                resp.read()
        except OSError as exc:  # an older server, or one that is down: OpenRLHF will say so on its next request
            if not _STEP.get("warned"):
                _say(f"could not announce step {step} to {target} ({exc}); its record has no step numbers")
            _STEP["warned"] = True


def patch_generator(module) -> None:
    """`SamplesGenerator.generate_samples` (one call per batch; dynamic filtering refills inside it) and
    `_process_response_into_experience` (once per generated sample, before any filtering) are wrapped."""
    cls = module.SamplesGenerator
    generate, process = cls.generate_samples, cls._process_response_into_experience

    @functools.wraps(generate)
    def generate_samples(self, **kwargs):
        step = _STEP["next"]
        limit = int(os.environ.get(ENV_MAX_STEPS, "0") or 0)
        if limit and step > limit:
            _say(f"train.max_steps = {limit} reached: ending the phase")
            return [], None, 0, True  # "exhausted": OpenRLHF leaves its loop and saves the final model
        if _STEP["started"] is None:
            _STEP["started"] = time.time()
            announce(getattr(self.args.reward, "remote_url", None), step)
        started = time.monotonic()
        out = generate(self, **kwargs)
        _STEP["generation_s"] += time.monotonic() - started
        _STEP["consumed"] += int(out[2] or 0)
        return out

    @functools.wraps(process)
    def process_response(self, response, **kwargs):
        exp = process(self, response, **kwargs)
        try:
            _STEP["lengths"].append(int(exp.response_length.flatten()[0]))
            _STEP["truncated"] += int(bool(exp.truncated.flatten()[0])) if exp.truncated is not None else 0
        except Exception:  # noqa: BLE001 - bookkeeping must never break a rollout
            pass
        return exp

    cls.generate_samples = generate_samples
    cls._process_response_into_experience = process_response


def _number(value):
    try:
        return round(float(value), 6)
    except (TypeError, ValueError):
        return None


def step_record(args, step: int, trained_samples: int, status: dict) -> dict:
    n = int(args.rollout.n_samples_per_prompt)
    target = int(getattr(args.rollout, "vllm_generate_batch_size", None) or args.rollout.batch_size)
    lengths = _STEP["lengths"]
    generated = len(lengths) // n
    trained = trained_samples // n
    consumed = _STEP["consumed"]
    return {
        "step": step,
        "time": round(time.time(), 3),
        "step_s": round(time.time() - (_STEP["started"] or time.time()), 3),
        "generation_s": round(_STEP["generation_s"], 3),
        "make_experience_s": _number(status.get("timing/make_experience")),
        "train_s": _number(status.get("timing/ppo_train")),
        "sync_s": _number(status.get("timing/broadcast")),
        "n_samples_per_prompt": n,
        "groups_generated": generated,
        "groups_trained": trained,
        "groups_dropped": max(0, generated - trained) if args.algo.dynamic_filtering_enable else 0,
        "rows_consumed": consumed,
        "refill_rows": max(0, consumed - target),
        "response_tokens_mean": round(sum(lengths) / len(lengths), 3) if lengths else None,
        "response_tokens_max": max(lengths) if lengths else None,
        "truncated": _STEP["truncated"],
        "openrlhf_reward_mean": _number(status.get("rollout/reward_mean")),
        "policy_loss": _number(status.get("policy_loss", status.get("act_loss"))),
    }


def patch_trainer(module) -> None:
    """`BasePPOTrainer.init_checkpoint_states` gives the step a resumed run starts from; `train_step` ends a step
    (trained and synced) and returns OpenRLHF's next global step."""
    base = module.BasePPOTrainer
    init_states, train_step = base.init_checkpoint_states, base.train_step

    @functools.wraps(init_states)
    def init_checkpoint_states(self):
        states = init_states(self)
        _reset(int(states.get("global_step", 0) or 0) + 1)
        return states

    @functools.wraps(train_step)
    def wrapped_train_step(self, rollout_samples, global_step):
        status, new_step = train_step(self, rollout_samples, global_step)
        path = os.environ.get(ENV_STEPS)
        if path:
            try:
                line = step_record(self.args, new_step, len(rollout_samples), status)
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(line) + "\n")
            except Exception as exc:  # noqa: BLE001 - a missing record must not end a training run
                _say(f"step {new_step}: not recorded ({type(exc).__name__}: {exc})")
        warned = _STEP.get("warned")
        _reset(new_step + 1)
        _STEP["warned"] = warned
        return status, new_step

    base.init_checkpoint_states = init_checkpoint_states
    base.train_step = wrapped_train_step
    # `@ray.remote class PPOTrainer(BasePPOTrainer)` ran while the module executed, before this hook: Ray's class
    # for the actor then took its own copies of the inherited methods (tracing wrappers around the originals), and
    # those are what the actor calls. Without them it inherits the wrappers above (Ray wraps what it finds when the
    # class is loaded in the actor's process).
    for actor in (getattr(module, "PPOTrainer", None),):
        cls = getattr(getattr(actor, "__ray_metadata__", None), "modified_class", None)
        for name in ("init_checkpoint_states", "train_step"):
            if cls is not None and name in vars(cls):
                delattr(cls, name)
