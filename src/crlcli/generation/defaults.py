"""The paper's sampling defaults, stated once: every sampling option (`SamplingParams`, the tts configs, the
commands' --temperature/--top-p/--top-k, the training rollouts) reads them from here, so that changing the
recipe is one edit and no default drifts from the others.

Kept free of imports: the commands read these while building their options, before anything loads.
"""

TEMPERATURE = 0.6
TOP_P = 0.95
TOP_K = 20  # 0 turns top-k off
