"""A stand-in for `python -m openrlhf.cli.train_ppo_ray` (configured through trainer.command in the tests).

It takes OpenRLHF's flags, talks to the reward server the way OpenRLHF's client does (POST /get_reward with a CRL
sample), records what it saw in $STANDIN_RECORD/phase<N>.json, prints log lines, and then, per $STANDIN_MODE:
ok -> writes final weights (config.json) to --ckpt.output_dir and exits 0; fail -> exits 3; hang -> sleeps.
"""

import json
import os
import sys
import time
import urllib.request
from pathlib import Path


def flag(name):
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else None


def main():
    final = Path(flag("--ckpt.output_dir"))
    phase = final.parent.name  # .../phase1/final
    record = {"pid": os.getpid(), "argv": sys.argv[1:], "phase": phase}
    url = flag("--reward.remote_url")
    print(f"standin: {phase} started with {len(sys.argv) - 1} arguments", flush=True)
    if url and url.startswith("http"):
        base = url.split(",")[0].rsplit("/", 1)[0]
        with urllib.request.urlopen(base + "/health", timeout=10) as resp:
            record["health"] = json.loads(resp.read())
        prompt = "<|im_start|>user\nIs this right?<|im_end|>\n<|im_start|>assistant\n"
        body = json.dumps(
            {
                "query": [prompt + "<think>\nchecking\n</think>\n\nIt is correct. \\conclusion{T}<|im_end|>"],
                "prompts": [prompt],
                "labels": [json.dumps({"kind": "crl", "label": "T"})],
            }
        ).encode()
        req = urllib.request.Request(url.split(",")[0], data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            record["reward"] = json.loads(resp.read())
    out = Path(os.environ["STANDIN_RECORD"])
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{phase}.json").write_text(json.dumps(record))
    mode = os.environ.get("STANDIN_MODE", "ok")
    for step in range(1, 4):
        print(f"standin: {phase} step {step}/3", flush=True)
    if mode == "fail":
        print("standin: CUDA out of memory at step 3 (simulated)", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "hang":
        time.sleep(600)
    final.mkdir(parents=True, exist_ok=True)
    (final / "config.json").write_text("{}")
    print(f"standin: {phase} saved {final}", flush=True)


if __name__ == "__main__":
    main()
