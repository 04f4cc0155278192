"""OpenRLHF reward file for crl: pass its path (`crl reward path`) to `--reward.remote_url`.

OpenRLHF imports this file by path inside each vLLM rollout actor, so `crlcli` must be installed in the Python
environment of those actors. Settings come from CRL_REWARD_* environment variables (see docs/reward.md).
"""

from crlcli.reward.filemode import reward_func  # noqa: F401 - the name OpenRLHF looks up
