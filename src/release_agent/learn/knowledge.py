"""The risk model a learning run fits.

Only learning fits the model: a decision reads the newest published snapshot (see
:mod:`release_agent.stats.knowledge`) and never fits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..domain.models import Decision, Heuristic
from ..stats.cells import Cell
from ..stats.evidence import counted
from ..stats.priors import Priors
from ..stats.risk_model import RiskModel


def patterns(active: Iterable[Heuristic]) -> list[dict[str, Any]]:
    """The conditions of the active cautionary heuristics judged by their evidence —
    exactly those the planner treats as "priced in" (:func:`~release_agent.stats.evidence.counted`):
    the risk model takes each as an effect of its own."""
    return [h.when for h in active if counted(h) and h.recommendation is not Decision.GO]


def fit(
    cells: Iterable[Cell],
    active: Sequence[Heuristic],
    warm: RiskModel | None,
    priors: Priors | None = None,
) -> RiskModel:
    """The risk model fitted to ``cells`` with the patterns of ``active`` (in their listing
    order) under ``priors`` (the policy's), Newton's method started from ``warm``."""
    return RiskModel.fit(cells, warm=warm, patterns=patterns(active), priors=priors)
