"""The decision pipeline: runs the stages in order and builds the decision's trace.

    START -> RISK_EVAL (context, guardrails, heuristics, calendar)
          -> SCHEDULING (options for the moment considered)
          -> DECISION (planner, red team)
          -> REFLECT (a production GO is confirmed, or it is not GO)
          -> DONE | ABORTED

Two algorithms, one after the other:

1. **The decision** (:func:`_decide`): the configured reasoner plans the requested
   moment, the red team reviews the plan, and a production GO is reflected on.
2. **The window check** (:func:`_check_window`): a DELAY goes back to SCHEDULING with
   its window, where the built-in reasoner checks that the window is itself a GO; it may
   move on to a later window, at most ``max_reschedules`` times, after which the release
   is NO_GO (ABORTED).

Only the first moment is put to the configured reasoner, so an LLM costs at most three
calls per decision (plan, review, confirm) and none when a guardrail already forbids GO.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain.episodes import EpisodeSummary, summarize
from ..domain.models import (
    AppliedHeuristic,
    Confirmation,
    Context,
    Decision,
    DecisionRecord,
    Heuristic,
    Plan,
    ReleaseRequest,
    Review,
)
from ..domain.options import Guardrails, Option
from ..domain.policy import Policy
from ..domain.state import ReleaseState
from ..domain.words import count
from ..reasoners.base import ConfirmTask, PlanTask, Reasoner, ReviewTask
from ..reasoners.builtin import BuiltinReasoner
from ..stats.risk_model import RiskModel
from . import calendar as calendar_stage
from . import context as context_stage
from . import guardrails as guardrails_stage
from . import heuristics as heuristics_stage
from . import ics as ics_stage
from . import planner, red_team, reflection, scheduling
from .trace import Note, Trace


@dataclass(frozen=True)
class Evidence:
    """What memory contributes to one decision."""

    model: RiskModel
    heuristics: list[Heuristic]
    similar: list[EpisodeSummary]
    recent: list[EpisodeSummary] = field(default_factory=list)
    neighbours: scheduling.Neighbours = field(default=lambda: ((), 0.0))
    """The recent decisions a deploy's lesson would serve (see
    :data:`.scheduling.Neighbours` and reasoners/exploration.py)."""
    calendar: calendar_stage.Calendar = field(default_factory=calendar_stage.Calendar)
    """The change calendar around the release: its clashes at any moment."""


@dataclass(frozen=True)
class Decided:
    """A decision, and the context its outcome will be evidence about: the requested
    moment, or the window for a DELAY."""

    record: DecisionRecord
    deploy_context: Context


@dataclass(frozen=True)
class _Ask:
    """What every stage of one decision shares."""

    request: ReleaseRequest
    policy: Policy
    evidence: Evidence
    reasoner: Reasoner
    builtin: BuiltinReasoner
    on_failure: str
    trace: Trace
    clashes: tuple[str, ...] = ()
    """The clashes at the requested time: the caller's and the calendar's."""
    windows: dict[tuple[datetime, bool], dict[str, Any]] = field(default_factory=dict)
    """The attributes of the windows priced so far (see :func:`.scheduling.options`)."""


@dataclass(frozen=True)
class _Settled:
    decision: Decision
    next_window: datetime | None = None
    deploy: Context | None = None
    """The context the release deploys in, when it is not the requested one."""
    tail: tuple[str, ...] = ()
    """Sentences added to the first plan's reason."""


@dataclass(frozen=True)
class _First:
    plan: Plan
    """The configured reasoner's plan, as it proposed it (before any reflection)."""
    review: Review
    confirmation: Confirmation | None
    settled: _Settled | None
    """The final answer, or None when a DELAY's window is still to be checked."""
    window: datetime | None = None
    """The DELAY's window to check."""
    tail: tuple[str, ...] = ()


def _plan_task(ask: _Ask, moment: datetime, clashes: list[str], guard: Guardrails) -> PlanTask:
    """Price the options at ``moment`` (SCHEDULING) and build the planner's task."""
    settings = ask.policy.settings
    ask.trace.move(ReleaseState.SCHEDULING, f"consider {moment.isoformat()}")
    priced = scheduling.options(
        ask.request,
        moment,
        clashes,
        ask.policy,
        ask.evidence.model,
        guard,
        # Only the first moment explores: a window is checked for being a GO itself.
        ask.evidence.neighbours if moment == ask.request.at else None,
        ask.evidence.calendar,
        ask.windows,
    )
    first = moment == ask.request.at
    ask.trace.add(scheduling.note(priced, moment, ask.evidence.model if first else None))
    return PlanTask(
        context=priced.context,
        notes=ask.request.notes,
        guardrails=guard,
        heuristics=tuple(
            heuristics_stage.applicable(
                priced.context, ask.evidence.heuristics, settings.heuristic_threshold
            )
        ),
        similar=tuple(ask.evidence.similar),
        costs=ask.policy.costs,
        go_now=priced.go_now,
        windows=priced.windows,
        no_go=priced.no_go,
        recent=tuple(ask.evidence.recent),
        explore=settings.explore,
        teaching=priced.teaching,
    )


def _decide(ask: _Ask, guard: Guardrails) -> _First:
    """The configured reasoner's decision on the requested moment."""
    request, trace, builtin = ask.request, ask.trace, ask.builtin
    task = _plan_task(ask, request.at, list(ask.clashes), guard)
    trace.move(ReleaseState.DECISION, "plan")
    floor = ask.policy.settings.llm_floor
    planned = planner.propose(task, ask.reasoner, builtin, ask.on_failure, floor)
    trace.calls.extend(planned.calls)
    trace.add(planner.note(planned))
    plan = first_plan = planned.plan
    # No LLM call where its answer cannot matter: under a freeze, or once the reasoner
    # has failed this decision (a dead server would cost a timeout each).
    reviewer = builtin if guard.forbid_go or planned.failed else ask.reasoner
    review, calls = red_team.review(ReviewTask(task, plan), reviewer, builtin)
    trace.calls.extend(calls)
    trace.add(red_team.note(review, calls))

    def done(settled: _Settled, why: str, confirmation: Confirmation | None = None) -> _First:
        trace.move(ReleaseState.DONE, why)
        return _First(first_plan, review, confirmation, settled)

    if planned.failed and ask.on_failure == "delay":
        settled = _Settled(plan.decision, plan.next_window)
        return done(settled, f"reasoner fault: {plan.decision.value}")
    confirmation = None
    tail: tuple[str, ...] = ()
    if plan.decision is Decision.GO and task.context.production:
        trace.move(ReleaseState.REFLECT, "confirm production GO")
        confirmer = builtin if planned.failed else ask.reasoner
        confirmation, calls = reflection.confirm(
            ConfirmTask(task, plan, review), confirmer, builtin, ask.on_failure
        )
        trace.calls.extend(calls)
        trace.add(reflection.note(confirmation, calls))
        if not confirmation.confirmed:
            fallback = _after_refusal(task, confirmation)
            tail = (f"Reflection did not confirm GO: {confirmation.reason}.",)
            if fallback is None or fallback.at is None:
                return done(
                    _Settled(Decision.NO_GO, tail=tail),
                    "GO not confirmed, no window: NO_GO",
                    confirmation,
                )
            plan = plan.model_copy(update={"decision": Decision.DELAY, "next_window": fallback.at})
    if plan.decision is Decision.GO:
        return done(_Settled(Decision.GO), Decision.GO.value, confirmation)
    if plan.decision is Decision.NO_GO:
        return done(_Settled(Decision.NO_GO, tail=tail), "NO_GO", confirmation)
    if ask.policy.settings.max_reschedules == 0 or plan.next_window is None:
        trace.move(ReleaseState.ABORTED, "no safe window found")
        why = "No window checked out as GO after 0 reschedules: NO_GO."
        return _First(first_plan, review, confirmation, _Settled(Decision.NO_GO, tail=(*tail, why)))
    return _First(first_plan, review, confirmation, None, plan.next_window, tail)


def _after_refusal(task: PlanTask, confirmation: Confirmation) -> Option | None:
    """The window to DELAY to when the reflection did not confirm GO, or None for NO_GO.

    A check that names when it would pass (``retry_after``: a failure streak leaving its
    window) would refuse every window until then again, so the cheapest window after
    that is taken; and none at all when even that costs more than NO_GO: waiting in
    vain first would only add the hours to the same NO_GO. Otherwise the cheapest
    window.
    """
    if confirmation.retry_after is None:
        return task.best_window()
    later = [o for o in task.windows if o.at is not None and o.at > confirmation.retry_after]
    best = min(later, key=lambda o: o.score, default=None)
    if best is None or best.score > task.no_go.expected_cost:
        return None
    return best


def _check_window(ask: _Ask, window: datetime, tail: tuple[str, ...]) -> _Settled:
    """The built-in check that a DELAY's window is itself a GO, moving on to later
    windows at most ``max_reschedules`` times."""
    request, trace, builtin = ask.request, ask.trace, ask.builtin
    settings = ask.policy.settings
    moment, reschedules = window, 1
    while True:
        booked = _booked_at(ask, moment)
        slot = context_stage.evaluate(request, settings, at=moment, clashes=booked)
        guard = guardrails_stage.check(slot, ask.policy)
        task = _plan_task(ask, moment, booked, guard)
        trace.move(ReleaseState.DECISION, "check the window")
        planned = planner.propose(task, builtin, builtin, ask.on_failure)
        trace.calls.extend(planned.calls)
        trace.add(planner.note(planned))
        plan = planned.plan
        if planned.failed and ask.on_failure == "delay":
            trace.move(ReleaseState.DONE, f"reasoner fault: {plan.decision.value}")
            return _Settled(plan.decision, plan.next_window, tail=tail)
        if plan.decision is Decision.GO:
            trace.move(ReleaseState.DONE, Decision.DELAY.value)
            checked = f"The window {moment.isoformat()} was checked: GO then."
            return _Settled(Decision.DELAY, moment, task.context, (*tail, checked))
        if plan.decision is Decision.NO_GO:
            trace.move(ReleaseState.DONE, "NO_GO")
            return _Settled(Decision.NO_GO, tail=(*tail, f"At {moment.isoformat()}: {plan.reason}"))
        if reschedules >= settings.max_reschedules or plan.next_window is None:
            trace.move(ReleaseState.ABORTED, "no safe window found")
            why = f"No window checked out as GO after {count(reschedules, 'reschedule')}: NO_GO."
            return _Settled(Decision.NO_GO, tail=(*tail, why))
        reschedules += 1
        moment = plan.next_window


def _booked_at(ask: _Ask, moment: datetime) -> list[str]:
    """The clashes the calendar shows at a later window (the caller's name the requested
    time only)."""
    return [clash.service for clash in ask.evidence.calendar.clashes_at(moment)]


def _applied(heuristics: list[Heuristic], plan: Plan) -> list[AppliedHeuristic]:
    out = []
    for h in heuristics:
        hid = h.id if h.id is not None else -1
        why_not = plan.deviations.get(hid)
        followed = hid in plan.followed_heuristics or (
            why_not is None and h.recommendation is plan.decision
        )
        if not followed and why_not is None:
            why_not = f"the planner decided {plan.decision.value} and gave no reason"
        out.append(
            AppliedHeuristic(
                id=h.id,
                when=h.when,
                recommendation=h.recommendation,
                confidence=h.confidence,
                followed=followed,
                why_not=None if followed else why_not,
            )
        )
    return out


def _join_reason(reason: str, tail: tuple[str, ...]) -> str:
    if not tail:
        return reason
    return " ".join([reason if reason.endswith(".") else reason + ".", *tail])


def run(
    request: ReleaseRequest,
    policy: Policy,
    evidence: Evidence,
    reasoner: Reasoner,
    builtin: BuiltinReasoner | None = None,
    on_failure: str = "delay",
    now: datetime | None = None,
) -> Decided:
    """Decide on ``request``. Never returns GO when a guardrail forbids it or a reasoner
    failed; raises only for faults of release-agent itself."""
    policy = ics_stage.resolve(policy)  # the freeze calendars given by URL, read now
    found = evidence.calendar.clashes_at(request.at)
    clashes = calendar_stage.merged(request.clashes, found)
    ask = _Ask(
        request,
        policy,
        evidence,
        reasoner,
        builtin or BuiltinReasoner(),
        on_failure,
        Trace(),
        tuple(clashes),
    )
    trace, settings = ask.trace, policy.settings
    trace.move(ReleaseState.RISK_EVAL, "evaluate context, guardrails and heuristics")
    context = context_stage.evaluate(request, settings, clashes=clashes)
    trace.add(context_stage.note(context))
    warned = context_stage.warnings(request, policy)
    if warned:
        trace.add(context_stage.warnings_note(warned))
    guard = guardrails_stage.check(context, policy)
    trace.add(guardrails_stage.note(guard))
    applicable = heuristics_stage.applicable(
        context, evidence.heuristics, settings.heuristic_threshold
    )
    trace.add(heuristics_stage.note(applicable, settings.heuristic_threshold))
    trace.add(calendar_stage.note(request.clashes, found, evidence.calendar))

    first = _decide(ask, guard)
    settled = first.settled
    if settled is None:
        assert first.window is not None
        settled = _check_window(ask, first.window, first.tail)
    deploy = settled.deploy or context
    if settled.decision is Decision.DELAY and settled.next_window and settled.deploy is None:
        booked = _booked_at(ask, settled.next_window)
        deploy = context_stage.evaluate(request, settings, at=settled.next_window, clashes=booked)

    trace.add(
        Note("decision", f"final {settled.decision.value}", {"decision": settled.decision.value})
    )
    record = DecisionRecord(
        release_id=str(uuid.uuid4()),
        created_at=now or datetime.now(UTC),
        request=request,
        context=context,
        decision=settled.decision,
        reason=_join_reason(first.plan.reason, settled.tail),
        confidence=first.plan.confidence,
        next_window=settled.next_window if settled.decision is Decision.DELAY else None,
        heuristics_applied=_applied(applicable, first.plan),
        red_team=first.review,
        reflection=first.confirmation,
        guardrails=list(guard.reasons),
        states=trace.machine.states(),
        trace=trace.entries,
        reasoner_calls=trace.calls,
        warnings=warned,
    )
    record.summary = summarize(record, first.plan.decision.value, first.plan.reason)
    return Decided(record, deploy)
