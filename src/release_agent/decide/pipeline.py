"""The decision pipeline: runs the stages in order and builds the decision's trace.

    START -> RISK_EVAL (context, guardrails, heuristics)
          -> SCHEDULING (options for the moment considered)
          -> DECISION (planner, red team)
          -> REFLECT (a production GO is confirmed, or it is not GO)
          -> DONE | ABORTED

A DELAY goes back to SCHEDULING with the proposed window, where the built-in reasoner
checks that the window is itself a GO; it may move on to a later window, at most
``max_reschedules`` times, after which the release is NO_GO (ABORTED). Only the first
moment is put to the configured reasoner, so an LLM costs at most three calls per
decision (plan, review, confirm) and none when a guardrail already forbids GO.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain import episodes as memory_stage
from ..domain.conditions import describe
from ..domain.episodes import EpisodeSummary
from ..domain.models import (
    AppliedHeuristic,
    Confirmation,
    Context,
    Decision,
    DecisionRecord,
    Heuristic,
    Plan,
    ReasonerCall,
    ReleaseRequest,
    Review,
    TraceEntry,
)
from ..domain.policy import Policy
from ..domain.state import ReleaseState, ReleaseStateMachine
from ..reasoners.base import ConfirmTask, PlanTask, Reasoner, ReviewTask
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.exploration import seed_of
from ..stats.risk_model import RiskModel
from . import context as context_stage
from . import guardrails as guardrails_stage
from . import heuristics as heuristics_stage
from . import planner, red_team, reflection, scheduling


@dataclass(frozen=True)
class Evidence:
    """What memory contributes to one decision."""

    model: RiskModel
    heuristics: list[Heuristic]
    similar: list[EpisodeSummary]
    recent: list[EpisodeSummary] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    record: DecisionRecord
    deploy_context: Context


class _Trace:
    def __init__(self, machine: ReleaseStateMachine) -> None:
        self.machine = machine
        self.entries: list[TraceEntry] = []
        self.calls: list[ReasonerCall] = []

    def add(self, stage: str, summary: str, **detail: Any) -> None:
        self.entries.append(
            TraceEntry(stage=stage, state=self.machine.state.value, summary=summary, detail=detail)
        )


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


def _join_reason(reason: str, tail: list[str]) -> str:
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
) -> Outcome:
    """Decide on ``request``. Never returns GO when a guardrail forbids it or a reasoner
    failed; raises only for faults of release-agent itself."""
    builtin = builtin or BuiltinReasoner()
    settings = policy.settings
    machine = ReleaseStateMachine()
    trace = _Trace(machine)

    machine.move(ReleaseState.RISK_EVAL, "evaluate context, guardrails and heuristics")
    context = context_stage.evaluate(request, settings)
    trace.add(
        "context",
        f"{context.day_of_week.value} {context.hour_of_day:02d}h local, "
        f"{context.feature_risk.value} risk, {context.service_criticality.value} criticality"
        + (", clash" if context.clash else ""),
        **context.model_dump(mode="json"),
    )
    guard = guardrails_stage.check(context, policy)
    trace.add(
        "guardrails",
        "; ".join(guard.reasons) if guard.forbid_go else "no freeze in force",
        forbid_go=guard.forbid_go,
        reasons=list(guard.reasons),
        open_at=guard.open_at.isoformat() if guard.open_at else None,
    )
    applicable = heuristics_stage.applicable(
        context, evidence.heuristics, settings.heuristic_threshold
    )
    trace.add(
        "heuristics",
        f"{len(applicable)} applicable (threshold {settings.heuristic_threshold})",
        applicable=[
            {
                "id": h.id,
                "when": describe(h.when),
                "recommendation": h.recommendation.value,
                "confidence": h.confidence,
            }
            for h in applicable
        ],
    )

    moment, clashes, reschedules = request.at, list(request.clashes), 0
    first_plan: Plan | None = None
    review: Review | None = None
    confirmation: Confirmation | None = None
    decision: Decision
    reason_tail: list[str] = []
    next_window: datetime | None = None
    deploy: Context = context
    while True:
        machine.move(ReleaseState.SCHEDULING, f"consider {moment.isoformat()}")
        slot_guard = (
            guard
            if reschedules == 0
            else guardrails_stage.check(
                context_stage.evaluate(request, settings, at=moment, clashes=clashes), policy
            )
        )
        options = scheduling.options(request, moment, clashes, policy, evidence.model, slot_guard)
        best = min(options.windows, key=lambda o: o.score, default=None)
        trace.add(
            "scheduling",
            f"GO now {options.go_now.expected_cost:.2f}, best window "
            + (f"{best.at.isoformat()} {best.expected_cost:.2f}" if best and best.at else "none")
            + f", NO_GO {options.no_go.expected_cost:.2f}",
            moment=moment.isoformat(),
            go_now=options.go_now.to_dict(),
            best_window=best.to_dict() if best else None,
            windows=len(options.windows),
            no_go=options.no_go.to_dict(),
        )
        at_slot = (
            applicable
            if reschedules == 0
            else heuristics_stage.applicable(
                options.context, evidence.heuristics, settings.heuristic_threshold
            )
        )
        task = PlanTask(
            context=options.context,
            notes=request.notes,
            guardrails=slot_guard,
            heuristics=tuple(at_slot),
            similar=tuple(evidence.similar),
            costs=policy.costs,
            go_now=options.go_now,
            windows=options.windows,
            no_go=options.no_go,
            recent=tuple(evidence.recent),
            explore_seed=seed_of(request) if settings.explore else None,
        )
        machine.move(ReleaseState.DECISION, "plan" if reschedules == 0 else "check the window")
        planned = planner.propose(
            task, reasoner if reschedules == 0 else builtin, builtin, on_failure
        )
        trace.calls.extend(planned.calls)
        plan = planned.plan
        trace.add(
            "planner",
            plan.reason
            if plan.reason.startswith(plan.decision.value)
            else f"{plan.decision.value}: {plan.reason}",
            reasoner=planned.calls[0].reasoner,
            plan=plan.model_dump(mode="json"),
            notes=planned.notes,
            builtin_plan=planned.builtin_plan.model_dump(mode="json")
            if planned.builtin_plan
            else None,
        )
        if reschedules == 0:
            first_plan = plan
            # No LLM call where its answer cannot matter: under a freeze, or once the
            # reasoner has failed this decision (a dead server would cost a timeout each).
            reviewer = builtin if slot_guard.forbid_go or planned.failed else reasoner
            review, calls = red_team.review(ReviewTask(task, plan), reviewer, builtin)
            trace.calls.extend(calls)
            trace.add(
                "red_team",
                f"{review.risk_level.value} risk, suggests {review.suggested_action.value}",
                reasoner=calls[-1].reasoner,
                review=review.model_dump(mode="json"),
            )
        if planned.failed and on_failure == "delay":
            decision, next_window = plan.decision, plan.next_window
            machine.move(ReleaseState.DONE, f"reasoner fault: {decision.value}")
            break
        if plan.decision is Decision.GO and reschedules == 0 and options.context.production:
            machine.move(ReleaseState.REFLECT, "confirm production GO")
            assert review is not None
            confirmer = builtin if planned.failed else reasoner
            confirmation, calls = reflection.confirm(
                ConfirmTask(task, plan, review), confirmer, builtin, on_failure
            )
            trace.calls.extend(calls)
            trace.add(
                "reflection",
                ("confirmed: " if confirmation.confirmed else "not confirmed: ")
                + confirmation.reason,
                reasoner=calls[-1].reasoner,
                confirmation=confirmation.model_dump(mode="json"),
            )
            if not confirmation.confirmed:
                fallback = task.best_window()
                reason_tail.append(f"Reflection did not confirm GO: {confirmation.reason}.")
                if fallback is None or fallback.at is None:
                    decision = Decision.NO_GO
                    machine.move(ReleaseState.DONE, "GO not confirmed, no window: NO_GO")
                    break
                plan = plan.model_copy(
                    update={"decision": Decision.DELAY, "next_window": fallback.at}
                )
        if plan.decision is Decision.GO:
            if reschedules == 0:
                decision = Decision.GO
            else:
                decision, next_window, deploy = Decision.DELAY, moment, options.context
                reason_tail.append(f"The window {moment.isoformat()} was checked: GO then.")
            machine.move(ReleaseState.DONE, decision.value)
            break
        if plan.decision is Decision.NO_GO:
            decision = Decision.NO_GO
            if reschedules:
                reason_tail.append(f"At {moment.isoformat()}: {plan.reason}")
            machine.move(ReleaseState.DONE, "NO_GO")
            break
        if reschedules >= settings.max_reschedules or plan.next_window is None:
            decision = Decision.NO_GO
            reason_tail.append(
                f"No window checked out as GO after {reschedules} reschedules: NO_GO."
            )
            machine.move(ReleaseState.ABORTED, "no safe window found")
            break
        reschedules += 1
        moment, clashes = plan.next_window, []
    if decision is Decision.DELAY and next_window is not None and deploy is context:
        deploy = context_stage.evaluate(request, settings, at=next_window, clashes=[])

    assert first_plan is not None
    trace.add("decision", f"final {decision.value}", decision=decision.value)
    record = DecisionRecord(
        release_id=str(uuid.uuid4()),
        created_at=now or datetime.now(UTC),
        request=request,
        context=context,
        decision=decision,
        reason=_join_reason(first_plan.reason, reason_tail),
        confidence=first_plan.confidence,
        next_window=next_window if decision is Decision.DELAY else None,
        heuristics_applied=_applied(applicable, first_plan),
        red_team=review,
        reflection=confirmation,
        guardrails=list(guard.reasons),
        states=machine.states(),
        trace=trace.entries,
        reasoner_calls=trace.calls,
    )
    record.summary = memory_stage.summarize(record, first_plan.decision.value, first_plan.reason)
    return Outcome(record, deploy)
