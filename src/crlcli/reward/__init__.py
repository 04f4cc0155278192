"""Rewards for GRPO: the scoring core, the OpenRLHF reward file and the HTTP reward server."""

from __future__ import annotations

from pathlib import Path

from .core import EXTRA_LOG_KEYS, Reward, parse_label, response_of, score, strip_special

__all__ = ["EXTRA_LOG_KEYS", "Reward", "parse_label", "response_of", "score", "strip_special", "reward_file"]


def reward_file() -> Path:
    """Absolute path of the installed reward-function file for `--reward.remote_url`."""
    return (Path(__file__).resolve().parent / "openrlhf_reward.py").resolve()
