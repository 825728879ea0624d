"""What a heuristic's own evidence says about the failure risk of the deploys it covers."""

from __future__ import annotations

import math
from statistics import NormalDist

from ..models import Decision, Heuristic, Provenance


def wilson_bounds(failures: int, deployed: int, z: float) -> tuple[float, float]:
    """Wilson score interval for a failure rate; (0, 1) without data."""
    if deployed <= 0:
        return 0.0, 1.0
    p = failures / deployed
    denom = 1 + z * z / deployed
    center = (p + z * z / (2 * deployed)) / denom
    half = z * math.sqrt(p * (1 - p) / deployed + z * z / (4 * deployed * deployed)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def counted(h: Heuristic) -> bool:
    """True when the heuristic carries outcome counts that can be recomputed from memory."""
    return h.provenance is Provenance.mined and (h.failures + h.successes) > 0


def failure_risk(h: Heuristic, quantile: float) -> float | None:
    """The ``quantile`` bound of the failure rate of the deploys a cautionary heuristic
    covers, from its own counts; None for GO heuristics and heuristics without counts."""
    if h.recommendation is Decision.GO or not counted(h):
        return None
    z = NormalDist().inv_cdf(quantile)
    return wilson_bounds(h.failures, h.failures + h.successes, z)[1]
