"""`crl train`: the paper's two-phase GRPO recipe on OpenRLHF 0.11.2.

config.py     TOML config, dotted overrides, validation of everything at once, the resolved file
flags.py      every OpenRLHF flag name crl can emit (tested against the pinned wheel's source)
plan.py       phases and the exact argv of the reward server and the trainer (what --dry-run prints)
preflight.py  GPU / package / dataset / model / port checks before a real launch
launcher.py   reward-server lifecycle, trainer supervision, log streaming, clean shutdown
select.py     checkpoint selection with `crl eval`
"""
