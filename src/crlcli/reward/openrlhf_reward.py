"""OpenRLHF reward file for crl: pass its path (`crl reward path`) to `--reward.remote_url`.

OpenRLHF imports this file by path inside each vLLM rollout actor, so `crlcli` must be installed in the Python
environment of those actors. Settings come from CRL_REWARD_* environment variables (see docs/reward.md).
verl users point `custom_reward_function.path` here with `custom_reward_function.name=compute_score`.
"""

from crlcli.reward.filemode import compute_score, reward_func  # noqa: F401 - OpenRLHF's and verl's entry points
