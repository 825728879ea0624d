"""Scheduling: the options a planner chooses from, each with its estimated risk and cost.

For the moment considered it prices three kinds of action under the team's costs
(:class:`release_agent.domain.policy.Costs`): GO now, DELAY to each whole hour within the
horizon that no freeze covers, and NO_GO. A window is evaluated without the clashes of
the requested time (they name deploys at that time), so a DELAY lands outside freezes,
clashes and risky hours. The evidence of mined heuristics reaches the estimates through
the risk model, where their patterns are effects of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.models import Context, Decision, ReleaseRequest
from ..domain.options import Guardrails, Option
from ..domain.policy import Policy
from ..stats.risk_model import RiskModel
from . import context as context_stage


@dataclass(frozen=True)
class Options:
    context: Context
    go_now: Option
    windows: tuple[Option, ...]
    no_go: Option


SAVING_Z = 0.5
"""How many standard deviations of its own noise a DELAY's saving must clear."""


def _slope(p: float, q: float) -> float:
    """d probability / d log-odds between two probabilities (the delta method)."""
    mid = (p + q) / 2
    return mid * (1 - mid)


def _hours(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600.0


def candidate_times(
    moment: datetime, env: str, policy: Policy, guardrails: Guardrails
) -> list[datetime]:
    """Whole hours after ``moment`` within the horizon (counted from the end of a freeze
    that covers ``moment``) that no freeze covers."""
    start = moment
    times: list[datetime] = []
    if guardrails.forbid_go and guardrails.open_at is not None:
        start = guardrails.open_at
        times.append(start)
    first = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    horizon_end = start + timedelta(hours=policy.settings.horizon_hours)
    t = first
    while t <= horizon_end:
        if t > start and not policy.active_freezes(t, env):
            times.append(t)
        t += timedelta(hours=1)
    return sorted(set(times))


def options(
    request: ReleaseRequest,
    moment: datetime,
    clashes: list[str],
    policy: Policy,
    model: RiskModel,
    guardrails: Guardrails,
) -> Options:
    settings, costs = policy.settings, policy.costs
    now_context = context_stage.evaluate(request, settings, at=moment, clashes=clashes)
    times = candidate_times(moment, request.env, policy, guardrails)
    attributes = [now_context.attributes()] + [
        context_stage.attributes_at(request, settings, t, clash=False) for t in times
    ]
    estimates = model.estimate_many(attributes, settings.risk_quantile)
    failure_cost = costs.failure_cost(request.service_criticality, now_context.production)
    go_now = Option(Decision.GO, moment, 0.0, estimates[0], estimates[0].decide * failure_cost)
    spread: Sequence[float] = (
        model.difference_noise(attributes[0], attributes[1:]).tolist() if times else []
    )
    now_p = estimates[0].mean
    windows = tuple(
        Option(
            Decision.DELAY,
            t,
            _hours(t, moment),
            estimate,
            costs.delay_per_hour * _hours(t, moment) + estimate.decide * failure_cost,
            saving_sd=SAVING_Z * failure_cost * _slope(now_p, estimate.mean) * float(sd),
        )
        for t, estimate, sd in zip(times, estimates[1:], spread, strict=True)
    )
    no_go = Option(Decision.NO_GO, None, 0.0, None, costs.no_go)
    return Options(now_context, go_now, windows, no_go)
