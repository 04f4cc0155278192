"""Config loading: every problem at once with its key path, overrides, defaults, the resolved file."""

from __future__ import annotations

import tomllib

import pytest

from crlcli.errors import CrlError, UsageError
from crlcli.training.config import SCHEMA, dump_toml, load_config, parse_override, shipped_configs

MINIMAL = 'name = "t"\n[model]\npath = "m"\n[data]\ntrain = "train.jsonl"\n'


def write(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_all_problems_reported_at_once_with_key_paths(crl, tmp_path):
    cfg = write(
        tmp_path,
        'name = "t"\n[model]\n[data]\ntrain = 3\n[actor]\nlr = -1.0\nlrr = 1\n'
        '[rollout]\ntop_k = -1\nn_samples_per_prompt = 8\n[ds]\nzero_stage = 5\n[reward]\nmode = "grpc"\n'
        "[train]\nbatch_size = 100\n",
    )
    res = crl("train", "validate", str(cfg), "algo.dynamic_filtering=maybe")
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert res.stdout == b""
    for expected in (
        "model.path: missing",
        "data.train: must be a string (got 3)",
        "actor.lr: must be > 0 (got -1.0)",
        "actor.lrr: unknown key (did you mean actor.lr?)",
        "rollout.top_k: must be >= 0 (got -1)",
        "ds.zero_stage: must be one of 0, 1, 2, 3 (got 5)",
        "reward.mode: must be one of server, file (got 'grpc')",
        "algo.dynamic_filtering: must be true or false (got 'maybe')",
        "train.batch_size: must divide rollout.batch_size x n_samples_per_prompt (1024); got 100",
    ):
        assert expected in err, expected
    assert "10 problem(s)" in err


def test_cross_key_contradictions(tmp_path):
    cfg = write(tmp_path, MINIMAL + "[vllm]\nnum_engines = 3\n[algo]\ndynamic_filtering_range = [1.0, 0.0]\n"
                "[reward]\nmode = \"file\"\nurls = [\"h1:5000\"]\n")  # fmt: skip
    with pytest.raises(CrlError) as info:
        load_config(cfg)
    msg = info.value.message
    assert "vllm.num_engines: with cluster.colocate_all" in msg
    assert "algo.dynamic_filtering_range: low must be < high" in msg
    assert "reward.urls: only used with reward.mode" in msg
    assert "reward.urls[0]: must be an http(s) URL" in msg


def test_top_k_packing_and_cpu_rules(tmp_path):
    plain = 'module = "openrlhf.cli.train_ppo_ray"\n'
    cfg = write(tmp_path, 'platform = "cpu"\n' + MINIMAL + "[rollout]\ntop_k = 20\n[ds]\nattn_implementation = \"sdpa\"\n"
                "ring_attn_size = 2\n[trainer]\n" + plain)  # fmt: skip
    with pytest.raises(CrlError) as info:
        load_config(cfg)
    msg = info.value.message
    assert "rollout.top_k: openrlhf.cli.train_ppo_ray has no top-k flag" in msg
    assert "ds.attn_implementation: OpenRLHF 0.11.2 replaces 'sdpa' by flash_attention_2" in msg
    assert "platform: cpu needs trainer.module" in msg
    assert "vllm.enable_sleep: must be false" in msg and "ds.enable_sleep: must be false" in msg
    assert "ds.ring_attn_size: must be 1" in msg
    # the shipped CPU config is valid and its dry run hands the CPU settings to the wrapper
    cpu = load_config("cpu-smoke")
    assert cpu["platform"] == "cpu" and cpu["rollout.top_k"] == 20


def test_shipped_configs_validate_and_reproduce_the_paper(crl):
    assert set(shipped_configs()) >= {"critique-coder-4b", "critique-coder-8b"}
    for name, model in (("critique-coder-4b", "Qwen/Qwen3-4B"), ("critique-coder-8b", "Qwen/Qwen3-8B")):
        res = crl("train", "validate", name)
        assert res.returncode == 0, res.stderr.decode()
        cfg = load_config(name)
        assert cfg["model.path"] == model
        assert (cfg["rollout.batch_size"], cfg["rollout.n_samples_per_prompt"], cfg["actor.lr"]) == (128, 8, 1e-6)
        assert cfg["actor.eps_clip_low_high"] == [0.2, 0.3] and cfg["algo.kl_init_coef"] == 0.0
        assert (cfg["phase1.max_response_tokens"], cfg["phase1.crl_scale"]) == (16384, 0.5)
        assert (cfg["phase2.max_response_tokens"], cfg["phase2.crl_scale"]) == (32768, 1.0)
        # the shipped files spell every key out
        assert set(cfg.values) == set(SCHEMA)


def test_overrides_parse_as_toml_values(tmp_path):
    assert parse_override("actor.lr=2e-6") == ("actor.lr", 2e-6)
    assert parse_override("ds.adam_offload=true") == ("ds.adam_offload", True)
    assert parse_override('reward.urls=["http://a:1/get_reward"]') == ("reward.urls", ["http://a:1/get_reward"])
    assert parse_override("model.path=Qwen/Qwen3-4B") == ("model.path", "Qwen/Qwen3-4B")
    assert parse_override('trainer.env={A = "1"}') == ("trainer.env", {"A": "1"})
    with pytest.raises(UsageError):
        parse_override("actor.lr")
    cfg = load_config(write(tmp_path, MINIMAL), ["actor.lr=2e-6", "rollout.batch_size=64", "name=other"])
    assert cfg["actor.lr"] == 2e-6 and cfg["rollout.batch_size"] == 64 and cfg["name"] == "other"
    assert cfg["train.batch_size"] == 512  # untouched keys keep their defaults
    with pytest.raises(CrlError, match=r"actor\.lrx: unknown key \(did you mean actor\.lr\?\)"):
        load_config(write(tmp_path, MINIMAL), ["actor.lrx=1"])


def test_override_on_the_command_line_reaches_the_commands(crl, tmp_path):
    (tmp_path / "c.toml").write_text(MINIMAL)
    res = crl("train", "c.toml", "actor.lr=2e-6", "phase1.crl_scale=0.25", "--dry-run", "--phase", "1", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()
    out = res.stdout.decode()
    assert "--actor.adam.lr 2e-06" in out and "--crl-scale 0.25" in out


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ['trainer.env={X = "a \\"q\\""}', "reward.urls=[]"])
    text = dump_toml(cfg, ["header line"])
    assert text.startswith("# header line\n")
    again = tomllib.loads(text)
    assert again["name"] == "t"
    assert again["trainer"]["env"] == {"X": 'a "q"'}
    assert again["actor"]["lr"] == 1e-6 and again["phase1"]["crl_scale"] == 0.5
    assert load_config(write(tmp_path, text)).values == cfg.values


def test_unknown_config_name_lists_the_shipped_ones(crl, tmp_path):
    res = crl("train", "validate", "no-such-config", cwd=tmp_path)
    assert res.returncode == 1
    assert b"no such config file" in res.stderr and b"critique-coder-4b" in res.stderr
