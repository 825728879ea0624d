"""The built-in reasoner: deterministic, offline, and the fallback of every other.

It decides by expected cost. The scheduling stage prices each option — GO now, DELAY
to a window, NO_GO — with the posterior mean of the learned failure probability (or the
policy's ``risk_quantile`` of it; see :mod:`release_agent.stats.risk_model`) and the
team's costs; the planner takes the cheapest, follows applicable heuristics unless their
evidence is already priced in, and never follows one towards a looser decision. A NO_GO
on thin evidence may be tried for what its outcome teaches (:mod:`.exploration`),
deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from ..domain.attributes import drivers as timing_drivers
from ..domain.conditions import describe
from ..domain.episodes import EpisodeSummary
from ..domain.models import (
    Confirmation,
    Decision,
    Heuristic,
    Level,
    Plan,
    PlanEstimate,
    Review,
    SuggestedAction,
)
from ..domain.words import count
from ..stats.distributions import binom_sf
from ..stats.evidence import counted
from .base import (
    Answer,
    ConfirmTask,
    ExtractTask,
    HeuristicProposal,
    Option,
    PlanTask,
    ReviewTask,
    Usage,
)
from .exploration import TEACHING_DAYS, explore

_USAGE = Usage(model=None)
MAX_REASON = 2000
STREAK_FAILURES = 2
STREAK_SURPRISE = 0.05
STREAK_HOURS = 24.0
"""A service's failures in the last STREAK_HOURS stop the reflection from confirming when
there are at least STREAK_FAILURES of them and so many would happen by chance less than
5% of the time at its estimated rate: a fragile service failing is not news. The window
slides, so a streak cannot block a service for good."""


def streak_ends(failed: Sequence[EpisodeSummary]) -> datetime | None:
    """The time after which fewer than STREAK_FAILURES of ``failed`` (the failures of
    the last STREAK_HOURS) remain in the sliding window, if no other fails: the streak
    check refuses no later request. None when a failure's time is unknown."""
    times = sorted(e.deploy_at for e in failed if e.deploy_at is not None)
    if len(times) < len(failed) or len(times) < STREAK_FAILURES:
        return None
    # the window must lose all but STREAK_FAILURES - 1 of them, the oldest first
    return times[len(times) - STREAK_FAILURES] + timedelta(hours=STREAK_HOURS)


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _when(option: Option) -> str:
    return option.at.strftime("%a %Y-%m-%d %H:%M %z") if option.at else "now"


def risk_drivers(task: PlanTask) -> list[str]:
    c = task.context
    drivers = []
    if c.feature_risk is not Level.LOW:
        drivers.append(f"{c.feature_risk.value.lower()} feature risk")
    if c.service_criticality is Level.HIGH:
        drivers.append("HIGH criticality service")
    if c.clash:
        drivers.append(f"clash with {', '.join(c.clashes)}")
    return drivers + timing_drivers(c.attributes())


def _allowed(task: PlanTask) -> list[Option]:
    allowed = [] if task.guardrails.forbid_go else [task.go_now]
    best = task.best_window()
    if best is not None:
        allowed.append(best)
    allowed.append(task.no_go)
    return allowed


def _option_for(decision: Decision, task: PlanTask) -> Option:
    if decision is Decision.GO and not task.guardrails.forbid_go:
        return task.go_now
    if decision in (Decision.GO, Decision.DELAY):
        best = task.best_window()
        if best is not None:
            return best
    return task.no_go


def _cost_at(option: Option, task: PlanTask, which: str) -> float:
    """The option's expected cost if the failure probability were its ``which`` estimate."""
    if option.risk is None:
        return option.expected_cost
    failure_cost = task.costs.failure_cost(
        task.context.service_criticality, task.context.production
    )
    p = getattr(option.risk, which)
    return task.costs.delay_per_hour * option.hours_waited + p * failure_cost


def robustness(chosen: Option, allowed: list[Option], task: PlanTask) -> float:
    """How sure we are that ``chosen`` is the cheapest: the weighted share of plausible
    failure probabilities (10% bound, mean, decision quantile, 90% bound) under which it
    stays cheapest."""
    weights = {"low": 0.2, "mean": 0.3, "decide": 0.3, "high": 0.2}
    score = 0.0
    for which, weight in weights.items():
        costs = [(_cost_at(o, task, which), o) for o in allowed]
        best = min(costs, key=lambda pair: pair[0])[1]
        if best.decision is chosen.decision:
            score += weight
    return round(min(0.99, max(0.5, score)), 2)


class BuiltinReasoner:
    """Decides from memory's evidence and the team's costs; no network, and
    deterministic: the only draw (exploration) is seeded by the request."""

    name = "builtin"
    model: str | None = None

    def plan(self, task: PlanTask) -> Answer[Plan]:
        allowed = _allowed(task)
        chosen = min(allowed, key=lambda o: (o.score, o.decision.strictness))
        followed: list[int] = []
        deviations: dict[int, str] = {}
        forced_by: Heuristic | None = None
        for h in task.heuristics:
            hid = h.id if h.id is not None else -1
            if h.recommendation.strictness == chosen.decision.strictness:
                followed.append(hid)
            elif h.recommendation.strictness < chosen.decision.strictness:
                deviations[hid] = (
                    f"recommends {h.recommendation.value}, but the estimated risk calls for "
                    f"{chosen.decision.value}; a heuristic never loosens a decision"
                )
            elif counted(h):
                deviations[hid] = (
                    f"its {count(h.failures, 'failure')} in "
                    f"{count(h.failures + h.successes, 'deploy')} are "
                    f"already priced in: {chosen.decision.value} costs "
                    f"{chosen.expected_cost:.2f}, {h.recommendation.value} "
                    f"{_option_for(h.recommendation, task).expected_cost:.2f}"
                )
            else:
                chosen = _option_for(h.recommendation, task)
                forced_by = h
                followed.append(hid)
        reason = self._reason(chosen, task, forced_by)
        confidence = forced_by.confidence if forced_by else robustness(chosen, allowed, task)
        explored = explore(task, chosen) if forced_by is None else None
        if explored is not None:
            refused = chosen
            chosen = explored.option
            where = f"to {_when(chosen)}" if chosen.decision is Decision.DELAY else "now"
            reason = (
                f"Deploying {where} partly for what it teaches: NO_GO is cheapest on the "
                f"estimate ({refused.expected_cost:.2f} against {chosen.expected_cost:.2f}), "
                f"but the estimate rests on thin evidence, and the outcomes of "
                f"{count(explored.deploys, 'such deploy')} are expected to save "
                f"{explored.value + explored.deploys * explored.extra_cost:.2f} on the "
                f"{count(explored.future, 'decision')} of the next {TEACHING_DAYS} days "
                "whose estimates they inform. " + reason
            )
            confidence = 0.5
        plan = Plan(
            decision=chosen.decision,
            reason=reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…",
            confidence=confidence,
            next_window=chosen.at if chosen.decision is Decision.DELAY else None,
            followed_heuristics=followed,
            deviations=deviations,
            estimate=PlanEstimate.model_validate(
                {
                    "options": [o.to_dict() for o in task.options()],
                    "drivers": risk_drivers(task),
                    "exploration": explored.to_dict() if explored else None,
                }
            ),
        )
        return Answer(plan, _USAGE)

    @staticmethod
    def _reason(chosen: Option, task: PlanTask, forced_by: Heuristic | None) -> str:
        now = task.go_now
        risk = now.risk
        drivers = risk_drivers(task)
        about = f" ({', '.join(drivers)})" if drivers else ""
        estimate = ""
        if risk:
            bound = (
                ""
                if abs(risk.decide - risk.mean) < 5e-4
                else f", {_pct(risk.decide)} at the decision quantile"
            )
            estimate = (
                f"failure risk now {_pct(risk.mean)} (10-90%: {_pct(risk.low)}-"
                f"{_pct(risk.high)}){bound}, from {count(risk.evidence, 'past deploy')} of "
                f"{task.context.service}"
            )
        if task.guardrails.forbid_go:
            lead = "GO is forbidden: " + "; ".join(task.guardrails.reasons) + ". "
        else:
            lead = ""
        if forced_by is not None:
            return (
                f"{lead}Following heuristic #{forced_by.id} ({describe(forced_by.when)} -> "
                f"{forced_by.recommendation.value}, confidence {forced_by.confidence:.2f}); "
                f"{estimate}{about}."
            )
        if chosen.decision is Decision.GO:
            best = task.best_window()
            alternative = f", a delay {best.expected_cost:.2f}" if best else ""
            return (
                f"{lead}GO: {estimate}{about}; expected cost {chosen.expected_cost:.2f} "
                f"against NO_GO {task.no_go.expected_cost:.2f}{alternative}."
            )
        if chosen.decision is Decision.DELAY:
            later = chosen.risk
            return (
                f"{lead}DELAY to {_when(chosen)}: {estimate}{about}; then "
                f"{_pct(later.decide) if later else '?'}. Expected cost "
                f"{chosen.expected_cost:.2f} with {chosen.hours_waited:.0f} h of waiting, "
                f"against {now.expected_cost:.2f} now and {task.no_go.expected_cost:.2f} "
                "for NO_GO."
            )
        return (
            f"{lead}NO_GO: {estimate}{about}; no window within the horizon brings the "
            f"expected cost of deploying ({now.expected_cost:.2f} now) below the cost of "
            f"not shipping ({task.no_go.expected_cost:.2f})."
        )

    def review(self, task: ReviewTask) -> Answer[Review]:
        pt, plan = task.plan_task, task.plan
        concerns = []
        c = pt.context
        if c.feature_risk is Level.HIGH and c.service_criticality is Level.HIGH:
            concerns.append("high-risk change to a HIGH criticality service")
        if c.clash:
            concerns.append(f"clashes with {', '.join(c.clashes)} at the same time")
        timing = [
            d for d in ("Friday afternoon", "weekend", "out of hours") if d in risk_drivers(pt)
        ]
        if timing and plan.decision is Decision.GO:
            concerns.append(f"deploys {', '.join(timing)}, when fewer people are around")
        if pt.guardrails.forbid_go:
            concerns.extend(pt.guardrails.reasons)
        risk = pt.go_now.risk
        if risk is not None and risk.evidence < 20:
            concerns.append(
                f"only {count(risk.evidence, 'past deploy')} of {c.service} with outcomes: the "
                "estimate rests mostly on priors"
            )
        failed = [s for s in pt.similar if s.result not in (None, "success")]
        if failed:
            concerns.append(
                f"{len(failed)} of the {count(len(pt.similar), 'most similar past deploy')} "
                f"did not succeed ({', '.join(s.release_id[:8] for s in failed)})"
            )
        failure_cost = pt.costs.failure_cost(c.service_criticality, c.production)
        worst = risk.high * failure_cost if risk else 0.0
        ratio = worst / pt.no_go.expected_cost if pt.no_go.expected_cost else 1.0
        level = Level.LOW if ratio < 0.5 else Level.MEDIUM if ratio < 1.0 else Level.HIGH
        action = SuggestedAction.NONE
        if plan.decision is Decision.GO:
            alternatives = [o for o in _allowed(pt) if o.decision is not Decision.GO]
            pessimistic = min(alternatives, key=lambda o: _cost_at(o, pt, "high"))
            if _cost_at(pt.go_now, pt, "high") > _cost_at(pessimistic, pt, "high"):
                action = SuggestedAction(pessimistic.decision.value)
                concerns.append(
                    f"at the 90% bound ({_pct(risk.high) if risk else '?'}) GO costs "
                    f"{_cost_at(pt.go_now, pt, 'high'):.2f}, more than "
                    f"{pessimistic.decision.value} ({_cost_at(pessimistic, pt, 'high'):.2f})"
                )
        return Answer(Review(concerns=concerns, risk_level=level, suggested_action=action), _USAGE)

    def confirm(self, task: ConfirmTask) -> Answer[Confirmation]:
        """A second check of a production GO, on what the plan did not weigh: no freeze,
        no failure streak on this service in the last 24 hours, and GO still the cheapest
        option."""
        pt, review = task.plan_task, task.review

        def answer(
            confirmed: bool, reason: str, retry_after: datetime | None = None
        ) -> Answer[Confirmation]:
            return Answer(
                Confirmation(confirmed=confirmed, reason=reason, retry_after=retry_after), _USAGE
            )

        if pt.guardrails.forbid_go:
            return answer(False, "a guardrail forbids GO")
        failed = [r for r in pt.recent if r.result not in (None, "success")]
        expected = pt.go_now.risk.mean if pt.go_now.risk else 0.05
        if (
            len(failed) >= STREAK_FAILURES
            and binom_sf(len(failed) - 1, len(pt.recent), expected) < STREAK_SURPRISE
        ):
            return answer(
                False,
                f"{len(failed)} of the {count(len(pt.recent), 'deploy')} of "
                f"{pt.context.service} in the last 24 hours failed, unlikely at its usual "
                f"{_pct(expected)}: something may be broken right now",
                streak_ends(failed),
            )
        explored = task.plan.estimate.exploration if task.plan.estimate else None
        if explored is not None:
            return answer(
                True,
                "re-checked: no freeze, no failure streak; a GO on thin evidence for what "
                f"it teaches (expected saving {explored.value:.2f} on later decisions)",
            )
        cheapest = min(_allowed(pt), key=lambda o: (o.score, o.decision.strictness))
        if cheapest.decision is not Decision.GO:
            return answer(
                False,
                f"re-checked: {cheapest.decision.value} is cheaper ({cheapest.expected_cost:.2f}) "
                f"than GO ({pt.go_now.expected_cost:.2f})",
            )
        return answer(
            True,
            f"re-checked: no freeze, no failure streak on {pt.context.service}, GO is the "
            f"cheapest option ({pt.go_now.expected_cost:.2f}); red team risk "
            f"{review.risk_level.value}",
        )

    def extract(self, task: ExtractTask) -> Answer[list[HeuristicProposal]]:
        from ..stats.mining import propose

        return Answer(propose(task.base_deployed, task.base_failures, task.patterns), _USAGE)
