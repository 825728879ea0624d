"""Exploration: a kind of release is not refused for good on thin evidence.

A NO_GO teaches nothing: the release never goes out, so no outcome ever shows that the
fear was wrong, and an agent that once estimated a context too risky would refuse it
forever. When NO_GO wins for an ordinary change, the built-in planner therefore asks how
likely it is that NO_GO is the wrong call — the posterior probability that the failure
risk is below the level at which GO and NO_GO cost the same — and, when that doubt is
real (at least MIN_DOUBT), deploys with exactly that probability (Thompson sampling on
this one choice). The draw is seeded by the request, so the same request always gets the
same answer. As evidence accumulates the doubt shrinks and exploration stops by itself.

Never explored: a high feature risk, a clash, anything a guardrail or a heuristic without
counts forbids, or a policy with ``explore = false``.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC
from statistics import NormalDist
from typing import Any

from ..domain.models import Decision, Level, ReleaseRequest, canonical_env
from ..domain.options import Option
from .base import PlanTask

MIN_DOUBT = 0.2
_Z90 = NormalDist().inv_cdf(0.9)


@dataclass(frozen=True)
class Exploration:
    probability: float
    """Posterior probability that GO is cheaper than NO_GO for this release."""
    draw: float
    option: Option

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 3),
            "draw": round(self.draw, 3),
            "decision": self.option.decision.value,
            "at": self.option.at.isoformat() if self.option.at else None,
        }


def seed_of(request: ReleaseRequest) -> int:
    """A stable seed for a request: the same release in the same hour gets the same draw.

    Only what the decision rests on goes in — never the notes, which are untrusted text,
    and not the minutes, so asking again within the hour gives the same answer."""
    hour = request.at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    key = "|".join(
        (
            request.service,
            canonical_env(request.env),
            request.feature_risk.value,
            request.service_criticality.value,
            hour.isoformat(),
            "clash" if request.clashes else "-",
        )
    )
    return int(hashlib.sha256(key.encode()).hexdigest()[:16], 16)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def doubt(task: PlanTask) -> float | None:
    """P(the failure risk now is low enough that GO beats NO_GO), from the estimate's
    10%-90% band; None when it cannot be told."""
    risk = task.go_now.risk
    failure_cost = task.costs.failure_cost(
        task.context.service_criticality, task.context.production
    )
    if risk is None or failure_cost <= 0:
        return None
    break_even = task.no_go.expected_cost / failure_cost
    if break_even >= 1:
        return 1.0
    center = (_logit(risk.low) + _logit(risk.high)) / 2
    sd = (_logit(risk.high) - _logit(risk.low)) / (2 * _Z90)
    if sd <= 0:
        return 1.0 if risk.mean < break_even else 0.0
    return NormalDist().cdf((_logit(break_even) - center) / sd)


def explore(task: PlanTask, chosen: Option) -> Exploration | None:
    """The option to deploy with instead of ``chosen`` (a NO_GO), or None to keep it."""
    if task.explore_seed is None or chosen.decision is not Decision.NO_GO:
        return None
    context = task.context
    if task.guardrails.forbid_go or context.clash or context.feature_risk is Level.HIGH:
        return None
    probability = doubt(task)
    if probability is None or probability < MIN_DOUBT:
        return None
    draw = random.Random(task.explore_seed).random()
    if draw >= probability:
        return None
    candidates = [task.go_now] + [o for o in (task.best_window(),) if o is not None]
    option = min(candidates, key=lambda o: o.expected_cost)
    return Exploration(probability, draw, option)
