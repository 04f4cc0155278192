"""A stand-in for OpenRLHF's PPO loop, driving crl's real step bookkeeping (crlcli.training.openrlhf_steps).

Two classes shaped like OpenRLHF 0.11.2's `SamplesGenerator` and `BasePPOTrainer` (the methods crl wraps, with
their signatures and return values) get crl's patches, then run OpenRLHF's loop: init_checkpoint_states, then per
step generate_samples (each sample scored by the real reward server over HTTP, as OpenRLHF's remote reward does;
groups whose scores all tie dropped and refilled one row at a time, as its dynamic filtering does) and
train_step. The answers follow a fixed script (SCRIPT), so a test knows every number the report must show.
Configured through trainer.command; exits like the trainer after saving final weights (config.json).
"""

import json
import sys
import time
import types
import urllib.request
from pathlib import Path

import torch

from crlcli.training import openrlhf_steps

N = 4  # samples per prompt
BATCH = 2  # prompts per step
CRL = "<|im_start|>user\nIs it right?<|im_end|>\n<|im_start|>assistant\n"
RL = "<|im_start|>user\nPrint twice the number read.<|im_end|>\n<|im_start|>assistant\n"
RL_TESTS = {"type": "stdio", "cases": [{"input": "2\n", "output": "4\n"}, {"input": "3\n", "output": "7\n"}]}
# per step, the prompts in the order they are drawn: (label, answers); label "rl" = an RL row, answers are code
SCRIPT = [
    [("T", ["T", "T", "F", "F"]), ("F", ["T", "F", "F", None])],
    [("T", ["T", "T", "T", "T"]), ("F", ["F", "F", "F", "T"]), ("rl", ["print(int(input())*2)", "print(1)"] * 2)],
    [
        ("F", ["F", "F", "F", "F"]),
        ("T", ["F", "F", "F", "F"]),
        ("T", ["T", "F", "T", "T"]),
        ("F", ["F", "T", "F", "F"]),
    ],
]


def flag(name):
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else None


def post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def response_text(label, answer):
    if label == "rl":
        return f"```python\n{answer}\n```<|im_end|>"
    return ("I checked it. " + (f"\\conclusion{{{answer}}}" if answer else "No verdict.")) + "<|im_end|>"


class SamplesGenerator:
    def __init__(self, args, rows):
        self.args, self.rows = args, rows

    def generate_samples(self, **generate_kwargs):
        kept, consumed = [], 0
        while len(kept) < BATCH * N and self.rows:
            label, answers = self.rows.pop(0)
            consumed += 1
            group = []
            for answer in answers:
                prompt = RL if label == "rl" else CRL
                lab = {"kind": "rl", "tests": RL_TESTS} if label == "rl" else {"kind": "crl", "label": label}
                out = post(
                    self.args.reward.remote_url[0],
                    {
                        "query": [prompt + response_text(label, answer)],
                        "prompts": [prompt],
                        "labels": [json.dumps(lab)],
                    },
                )
                response = {"length": 7 + len(group), "reward": out["rewards"][0], "score": out["scores"][0]}
                group.append(self._process_response_into_experience(response, **generate_kwargs))
            if len({e.scores for e in group}) > 1:  # OpenRLHF's filter: a group whose scores all tie is dropped
                kept += group
        return kept, None, consumed, not self.rows

    def _process_response_into_experience(self, response, **generate_kwargs):
        return types.SimpleNamespace(
            response_length=torch.tensor([response["length"]]),
            truncated=torch.tensor([False]),
            rewards=response["reward"],
            scores=response["score"],
        )


class BasePPOTrainer:
    def __init__(self, args):
        self.args = args

    def init_checkpoint_states(self):
        return {"episode": 0, "global_step": 0, "total_consumed_prompts": 0, "data_loader_state_dict": {}}

    def train_step(self, rollout_samples, global_step):
        time.sleep(0.05)
        kept = [e.rewards for e in rollout_samples]
        status = {
            "timing/make_experience": 0.01,
            "timing/ppo_train": 0.02,
            "timing/broadcast": 0.25,
            "rollout/reward_mean": sum(kept) / len(kept),
            "policy_loss": -0.1,
        }
        return status, global_step + 1


def main():
    module = types.SimpleNamespace(SamplesGenerator=SamplesGenerator, BasePPOTrainer=BasePPOTrainer)
    openrlhf_steps.patch_generator(module)  # crl's real patches, as they wrap OpenRLHF's classes
    openrlhf_steps.patch_trainer(module)
    ns = types.SimpleNamespace
    args = ns(
        rollout=ns(n_samples_per_prompt=N, batch_size=BATCH),
        algo=ns(dynamic_filtering_enable=True),
        reward=ns(remote_url=flag("--reward.remote_url").split(",")),
    )  # OpenRLHF holds a list by then
    trainer = BasePPOTrainer(args)
    generator = SamplesGenerator(args, [row for step in SCRIPT for row in step])
    global_step = trainer.init_checkpoint_states()["global_step"]
    while True:  # OpenRLHF's PPOTrainer.fit
        samples, _, _, exhausted = generator.generate_samples()
        if samples:
            _, global_step = trainer.train_step(samples, global_step)
        if exhausted:
            break
    final = Path(flag("--ckpt.output_dir"))
    final.mkdir(parents=True, exist_ok=True)
    (final / "config.json").write_text("{}")
    print(f"standin: {global_step} steps", flush=True)


if __name__ == "__main__":
    main()
