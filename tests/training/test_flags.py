"""Every flag `crl train` can emit exists in openrlhf==0.11.2, and the shipped configs' argv parses there."""

from __future__ import annotations

import argparse

import pytest

from crlcli.training.flags import BOOL, BOOL_PHASE_FLAGS, CONFIG_FLAGS, PAIR, PHASE_FLAGS

from .conftest import SHIPPED, dry_run_blocks, trainer_flags
from .openrlhf_wheel import build_parser, option_strings


def test_every_flag_we_can_emit_exists_in_the_pinned_wheel(openrlhf_calls):
    defined = option_strings(openrlhf_calls)
    assert len(defined) > 150  # the parser really was read (0.11.2 defines 167 options)
    emitted = {flag for flag, _ in CONFIG_FLAGS.values()} | set(PHASE_FLAGS.values())  # every flag crl train may emit
    missing = sorted(emitted - defined)
    assert not missing, f"not defined by openrlhf 0.11.2: {missing}"


def test_flag_kinds_match_the_wheel(openrlhf_calls):
    """A BOOL we render bare must be store_true there; a PAIR must take nargs=2."""
    by_name = {a: kw for args, kw in openrlhf_calls for a in args if isinstance(a, str)}
    for flag, kind in list(CONFIG_FLAGS.values()) + [(f, BOOL) for f in BOOL_PHASE_FLAGS]:
        kw = by_name[flag]
        if kind == BOOL:
            assert kw.get("action") == "store_true", flag
        elif kind == PAIR:
            assert kw.get("nargs") == 2, flag
        else:
            assert kw.get("action") in (None, "store"), flag


def test_old_undotted_names_are_rejected(openrlhf_calls):
    """The replayed parser is strict (no abbreviations), so it would catch a stale flag name."""
    parser = build_parser(openrlhf_calls)
    _, unknown = parser.parse_known_args(["--actor_learning_rate", "1e-6", "--actor.adam"])
    assert unknown == ["--actor_learning_rate", "1e-6", "--actor.adam"]


@pytest.mark.parametrize("name", SHIPPED)
def test_dry_run_of_shipped_configs_parses_with_openrlhf(name, openrlhf_calls, crl, tmp_path):
    res = crl("train", name, "--dry-run", "--", "--ds.adam_offload", cwd=tmp_path)
    assert res.returncode == 0, res.stderr.decode()
    blocks = dry_run_blocks(res.stdout.decode())
    assert [b["title"][:7] for b in blocks] == ["phase 1", "phase 2"]
    parser = build_parser(openrlhf_calls)
    parsed = []
    for block in blocks:
        flags = trainer_flags(block["trainer"], openrlhf_only=True)
        assert block["trainer"][block["trainer"].index("-m") + 1] == "crlcli.training.openrlhf_entry"
        assert trainer_flags(block["trainer"]).count("--rollout.top_k") == 1  # the wrapper's, the paper's 20
        try:
            ns, unknown = parser.parse_known_args(flags)
        except (argparse.ArgumentError, SystemExit) as exc:  # a bad value for a known flag
            pytest.fail(f"{name}: OpenRLHF rejects {flags}: {exc}")
        assert unknown == [], f"{name}: unknown to openrlhf 0.11.2: {unknown}"
        parsed.append(vars(ns))
    p1, p2 = parsed
    # the paper's setting, as OpenRLHF itself will read it
    for ns in parsed:
        assert ns["algo.advantage.estimator"] == "group_norm"
        assert ns["rollout.batch_size"] == 128 and ns["rollout.n_samples_per_prompt"] == 8
        assert ns["actor.adam.lr"] == 1e-6 and ns["actor.eps_clip_low_high"] == [0.2, 0.3]
        assert ns["algo.kl.init_coef"] == 0.0 and ns["algo.dynamic_filtering_enable"] is True
        assert ns["rollout.temperature"] == 0.6 and ns["rollout.top_p"] == 0.95
        assert ns["ds.param_dtype"] == "bf16" and ns["train.num_episodes"] == 1
        assert ns["vllm.num_engines"] * ns["vllm.tensor_parallel_size"] == 8 and ns["train.colocate_all"]
        assert ns["ds.adam_offload"] is True  # the pass-through flag after `--`
        assert ns["reward.remote_url"].startswith("http://127.0.0.1:")
    assert p1["rollout.max_new_tokens"] == 16384 and p2["rollout.max_new_tokens"] == 32768
    assert p2["actor.model_name_or_path"] == p1["ckpt.output_dir"]  # phase 2 starts from phase 1's final weights
