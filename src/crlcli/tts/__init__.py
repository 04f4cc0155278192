"""Test-time scaling: sequential budget forcing (`budget`) and parallel critique selection (`critique`).

    from crlcli.tts import BudgetConfig, budget_force, CritiqueConfig, critique_select, Source
    summary = budget_force(Source(input="problems.jsonl"), "runs/bf", BudgetConfig(rounds=4), "hf", "model/", {})

Both write a resumable run directory (see `runs.py`) and can be rescored from it alone (`score_budget`,
`score_critique`). Nothing heavy is imported until a model is loaded.
"""

from __future__ import annotations

from .budget import BudgetConfig
from .budget_run import budget_force
from .budget_run import score_run as score_budget
from .critique import CritiqueConfig, critique_select
from .critique import score_run as score_critique
from .problems import Problem, Source
from .select import SELECTORS

__all__ = [
    "BudgetConfig",
    "budget_force",
    "score_budget",
    "CritiqueConfig",
    "critique_select",
    "score_critique",
    "Problem",
    "Source",
    "SELECTORS",
]
