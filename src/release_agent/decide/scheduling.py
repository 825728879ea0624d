"""Scheduling: the options a planner chooses from, each with its estimated risk and cost.

For the moment considered it prices three kinds of action under the team's costs
(:class:`release_agent.domain.policy.Costs`): GO now, DELAY to each whole hour within the
horizon that no freeze covers, and NO_GO. A window is evaluated without the clashes of
the requested time (they name deploys at that time), so a DELAY lands outside freezes,
clashes and risky hours. A window the change calendar shows booked (another release near
it, see :mod:`.calendar`) is evaluated as clashing, and is not offered while a free one
remains: DELAYs spread out instead of meeting in the best hour. The evidence of mined
heuristics reaches the estimates through the risk model, where their patterns are effects
of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from scipy import special

from ..domain.attributes import PART_OF_DAY_HOURS
from ..domain.models import Context, Decision, Level, ReleaseRequest, is_production
from ..domain.options import Guardrails, Option, Teaching
from ..domain.policy import Costs, Policy
from ..reasoners.exploration import MIN_SPAN_DAYS, RECURRENCE_DAYS, TEACHING_DAYS
from ..stats.information import teaching_value
from ..stats.risk_model import RiskModel
from . import context as context_stage
from .calendar import Calendar
from .trace import Note

Neighbours = Callable[[], tuple[Sequence[Mapping[str, Any]], float]]
"""Reads the contexts of the decisions of the last RECURRENCE_DAYS days, with the days
they span (from the oldest of them to the request): the later decisions what a deploy
teaches would serve. Called only when a lesson is priced, which few decisions need."""


@dataclass(frozen=True)
class Options:
    context: Context
    go_now: Option
    windows: tuple[Option, ...]
    no_go: Option
    teaching: Teaching | None = None
    """What deploying would teach, when refusing is cheapest (see :func:`teaching`)."""


@cache
def expected_maximum(k: int) -> float:
    """E[max of k independent standard normals] (0 for k = 1): how far the best of k
    noisy estimates sits above its truth, in standard deviations, when all k are alike."""
    if k <= 1:
        return 0.0
    x = np.linspace(-8.0, 8.0, 4001)
    density = k * np.exp(-x * x / 2) / math.sqrt(2 * math.pi) * _normal_cdf(x) ** (k - 1)
    return float(np.trapezoid(x * density, x))


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1 + special.erf(x / math.sqrt(2))))


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
    that covers ``moment``) that no freeze covers (those of the policy's calendars too);
    none while a calendar of ``env`` cannot be read, since none is known to be open."""
    if policy.unreadable_calendars(env):
        return []
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
    neighbours: Neighbours | None = None,
    calendar: Calendar | None = None,
    seen: dict[tuple[datetime, bool], dict[str, Any]] | None = None,
) -> Options:
    """The options at ``moment``; with ``neighbours`` (what reads the contexts of recent
    decisions) and a cheapest option of refusing, also what deploying would teach. With
    ``calendar``, the windows it shows booked clash, and are left out while any window is
    free. ``seen`` keeps the attributes of each window (by moment and clash) for the next
    call on the same request: checking a DELAY's window compares most of the same hours."""
    settings, costs = policy.settings, policy.costs
    now_context = context_stage.evaluate(request, settings, at=moment, clashes=clashes)
    times = (
        candidate_times(moment, request.env, policy, guardrails)
        if request.delays < settings.max_delays
        else []  # delayed often enough: GO or NO_GO now
    )
    booked = {t for t in times if calendar is not None and calendar.booked(t)}
    if booked and len(booked) < len(times):
        times = [t for t in times if t not in booked]
    known = {} if seen is None else seen
    keys = [(t, t in booked) for t in times]
    new = [key for key in keys if key not in known]
    known.update(zip(new, context_stage.attributes_over(request, settings, new), strict=True))
    attributes = [now_context.attributes(), *(known[key] for key in keys)]
    estimates, noise = model.scan(attributes, settings.risk_quantile)
    failure_cost = costs.failure_cost(request.service_criticality, now_context.production)
    go_now = Option(Decision.GO, moment, 0.0, estimates[0], estimates[0].decide * failure_cost)
    # The window search pays for the number of windows it compares: the best of k noisy
    # estimates looks better than it is by about expected_maximum(k) of the noise that
    # sets them apart. That noise is each window's difference from the windows' average:
    # what all windows share (no clash, a freeze passed) moves them together and biases
    # no choice among them. Measured from one window instead, that window would carry
    # none, and the search would favour it for its noise (the next hour, past a
    # boundary of the day whose effect is thinly known). Hours of one part of one day
    # share nearly all their effects, so they count as one estimate.
    spread: Sequence[float] = noise.tolist()  # empty without windows
    reference_p = float(np.mean([e.mean for e in estimates[1:]])) if times else 0.0
    distinct = {(a["day_of_week"], a["hour_of_day"] // PART_OF_DAY_HOURS) for a in attributes[1:]}
    bias = expected_maximum(len(distinct))
    waits = [_hours(t, moment) for t in times]
    windows = tuple(
        Option(
            Decision.DELAY,
            t,
            wait,
            estimate,
            costs.delay_per_hour * wait + estimate.decide * failure_cost,
            saving_sd=bias * failure_cost * _slope(reference_p, estimate.mean) * float(sd),
        )
        for t, wait, estimate, sd in zip(times, waits, estimates[1:], spread, strict=True)
    )
    no_go = Option(Decision.NO_GO, None, 0.0, None, costs.no_go)
    lesson = None
    # What a deploy teaches is priced for deploying now. A window is checked again when
    # it comes, as a GO of its own: a DELAY taken for what it teaches would be refused
    # there, having taught nothing.
    if (
        not guardrails.forbid_go
        and neighbours is not None
        and settings.explore
        and min(o.score for o in (go_now, *windows)) > no_go.expected_cost
    ):
        # The release asked about now is one of the later ones too: it stands for its
        # own kind when memory holds few like it. An empty memory shows no pace at all.
        recent, days = neighbours()
        later = [attributes[0], *recent] if recent else []
        lesson = teaching(
            model,
            attributes[0],
            go_now,
            no_go,
            later,
            days,
            costs,
            settings.is_production,
        )
    return Options(now_context, go_now, windows, no_go, lesson)


def teaching(
    model: RiskModel,
    target: Mapping[str, Any],
    deploy: Option,
    no_go: Option,
    neighbours: Sequence[Mapping[str, Any]],
    days: float,
    costs: Costs,
    production: Callable[[str], bool] = is_production,
) -> Teaching:
    """What ``deploy`` (in context ``target``) would teach about the ``neighbours``' risks,
    priced against refusing (stats/information.py). The neighbours were asked over the
    last ``days``; the same pace is expected over the next TEACHING_DAYS."""
    beliefs = model.beliefs(target, neighbours)
    failure_costs = np.array(
        [
            costs.failure_cost(
                Level(n.get("service_criticality") or Level.MEDIUM.value),
                production(str(n.get("env") or "prod")),
            )
            for n in neighbours
        ]
    )
    extra = deploy.score - no_go.expected_cost
    weight = TEACHING_DAYS / min(RECURRENCE_DAYS, max(MIN_SPAN_DAYS, days))
    value, deploys = teaching_value(beliefs, no_go.expected_cost, failure_costs, extra, weight)
    return Teaching(deploy, value, extra, deploys, round(weight * len(neighbours)))


def note(priced: Options, moment: datetime, model: RiskModel | None = None) -> Note:
    """The stage's trace entry: the options as priced at ``moment``, and the risk
    model's priors in force when ``model`` is given."""
    best = min(priced.windows, key=lambda o: o.score, default=None)
    return Note(
        "scheduling",
        f"GO now {priced.go_now.expected_cost:.2f}, best window "
        + (f"{best.at.isoformat()} {best.expected_cost:.2f}" if best and best.at else "none")
        + f", NO_GO {priced.no_go.expected_cost:.2f}",
        {
            "moment": moment.isoformat(),
            "go_now": priced.go_now.to_dict(),
            "best_window": best.to_dict() if best else None,
            "windows": len(priced.windows),
            "no_go": priced.no_go.to_dict(),
            **({"priors": model.priors.summary()} if model is not None else {}),
        },
    )
