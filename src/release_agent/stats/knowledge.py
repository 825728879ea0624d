"""The knowledge snapshot: what every decision reads from learning, and nothing else.

A learning run ends by publishing a new snapshot — the fitted risk model and the active
heuristics, under a new version number. A decision reads the newest snapshot and records
its version; it never fits, mines or writes knowledge. A snapshot never changes once
published, so a decision made with version 12 can be explained by version 12 alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..domain.attributes import ATTRIBUTES
from ..domain.conditions import matches
from ..domain.models import Heuristic
from .risk_model import RiskModel

PRIOR_VERSION = 0
"""The version of the knowledge before anything was learned: the priors alone."""

FIXED: tuple[str, ...] = tuple(a.name for a in ATTRIBUTES if not a.transient)
"""The attributes every moment of one release shares (service, env, feature risk,
criticality): waiting changes only the transient ones."""
_CACHED = 4096


@dataclass(frozen=True, eq=False)
class Knowledge:
    """One published snapshot of what learning knows (equal only to itself)."""

    version: int
    """Increases with every snapshot published; 0 for the priors alone."""
    model: RiskModel
    """The fitted risk model (the priors' model when nothing was fitted)."""
    heuristics: tuple[Heuristic, ...]
    """The active heuristics, most confident first."""
    outcomes: int = 0
    """The deploys with an outcome the risk model was fitted with."""
    model_id: int | None = None
    """Which stored fit the model is (None: the priors); snapshots that only changed the
    heuristics share their model's fit."""
    created_at: datetime | None = None
    _relevant: dict[tuple[Any, ...], tuple[Heuristic, ...]] = field(
        default_factory=dict, init=False, repr=False
    )
    _conditions: list[tuple[Heuristic, dict[str, Any]]] = field(
        default_factory=list, init=False, repr=False
    )

    def relevant(self, attributes: Mapping[str, Any]) -> tuple[Heuristic, ...]:
        """The heuristics that can apply to some moment of a release with ``attributes``:
        those whose conditions on the :data:`FIXED` attributes hold for it, in their
        order. A heuristic left out matches no moment of the release, so matching the
        rest gives what matching all would. Kept per combination of those values."""
        fixed = {name: attributes[name] for name in FIXED if name in attributes}
        key = tuple(fixed.items())
        found = self._relevant.get(key)
        if found is None:
            found = tuple(h for h, when in self._fixed_conditions() if matches(when, fixed))
            if len(self._relevant) >= _CACHED:
                self._relevant.clear()
            self._relevant[key] = found
        return found

    def _fixed_conditions(self) -> list[tuple[Heuristic, dict[str, Any]]]:
        """Each heuristic with its conditions on the FIXED attributes (worked out once)."""
        if len(self._conditions) != len(self.heuristics):
            self._conditions[:] = [
                (h, {k: v for k, v in h.when.items() if k in FIXED}) for h in self.heuristics
            ]
        return self._conditions


@lru_cache(maxsize=1)
def _prior_model() -> RiskModel:
    return RiskModel.prior()


def prior() -> Knowledge:
    """The knowledge before any learning: the priors' risk model and no heuristic. The
    model is built once per process (it is the same every time)."""
    return Knowledge(PRIOR_VERSION, _prior_model(), ())
