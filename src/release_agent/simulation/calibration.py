"""Does a stated risk mean what it says? Stated failure probabilities against outcomes.

For the deploys of a run, each with the failure probability the policy stated and whether
it failed, :func:`calibration` gives

- the **Brier score**, ``mean((stated − failed)²)``: lower is better. The simulator also
  knows each deploy's true probability, so beside it stands the Brier score of the truth
  on the same deploys: the part of the score no forecaster can remove (the draws' own
  noise). The gap between the two is what the stated risks get wrong.
- a **reliability table** by decile: the deploys sorted by stated risk and cut into ten
  groups of equal size, each with its mean stated risk, its observed failure rate and its
  mean true probability. A calibrated policy's groups lie on the diagonal (observed ≈
  stated); the true column shows where they would lie without the luck of the draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GROUPS = 10
"""Deciles."""


@dataclass(frozen=True)
class Bin:
    """One decile of the deploys, by stated risk."""

    stated: float
    """Mean stated failure probability."""
    observed: float
    """Share of these deploys that failed."""
    true: float
    """Mean true failure probability."""
    deploys: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "stated": round(self.stated, 4),
            "observed": round(self.observed, 4),
            "true": round(self.true, 4),
            "deploys": self.deploys,
        }


@dataclass(frozen=True)
class Calibration:
    deploys: int
    """Deploys with a stated risk (the others are left out)."""
    brier: float
    brier_of_truth: float
    """The Brier score of the true probabilities on the same deploys."""
    bins: tuple[Bin, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "deploys": self.deploys,
            "brier": round(self.brier, 5),
            "brier_of_truth": round(self.brier_of_truth, 5),
            "deciles": [b.to_dict() for b in self.bins],
        }


def calibration(
    stated: np.ndarray, failed: np.ndarray, true: np.ndarray, groups: int = GROUPS
) -> Calibration | None:
    """Score stated probabilities against outcomes (see the module docstring).

    The three arrays are aligned per release; entries whose stated risk is NaN (no deploy,
    or no risk stated) are left out. Returns None when nothing is left. Groups are as
    equal in size as the deploys allow (fewer than ``groups`` deploys: one each).
    Raises ValueError when the arrays differ in length.
    """
    if not len(stated) == len(failed) == len(true):
        raise ValueError("stated, failed and true must be aligned")
    known = ~np.isnan(stated)
    if not known.any():
        return None
    p = np.clip(stated[known], 0.0, 1.0)
    y = failed[known].astype(float)
    t = true[known]
    order = np.argsort(p, kind="stable")
    bins = tuple(
        Bin(float(p[i].mean()), float(y[i].mean()), float(t[i].mean()), len(i))
        for i in np.array_split(order, min(groups, len(order)))
    )
    return Calibration(
        deploys=int(known.sum()),
        brier=float(np.mean((p - y) ** 2)),
        brier_of_truth=float(np.mean((t - y) ** 2)),
        bins=bins,
    )
