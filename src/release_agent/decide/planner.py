"""Stage 5: the planner — a reasoner proposes GO / NO_GO / DELAY for one moment.

Whatever the reasoner says, the proposal that leaves this stage is within the
guardrails, and a DELAY names a window the scheduler offered. A reasoner fault never
yields GO: by default it yields DELAY (retry later) — or NO_GO where the built-in
reasoner would say so — and with ``on_failure="builtin"`` the built-in proposal.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.models import Decision, Plan, ReasonerCall
from ..reasoners.base import PlanTask, Reasoner
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.calls import builtin as builtin_call
from ..reasoners.calls import invoke, with_fallback
from .guardrails import clamp

ON_FAILURE = ("delay", "builtin")


@dataclass(frozen=True)
class Planned:
    plan: Plan
    calls: list[ReasonerCall]
    notes: list[str]
    builtin_plan: Plan | None = None
    failed: bool = False


def _snap_window(plan: Plan, task: PlanTask) -> tuple[Plan, str | None]:
    """Make a DELAY point at an offered window: the first one at or after the proposed
    time, or the cheapest if the proposal names none or one past the horizon."""
    if plan.decision is not Decision.DELAY:
        return plan, None
    offered = [o.at for o in task.windows if o.at is not None]
    if plan.next_window is not None and plan.next_window in offered:
        return plan, None
    later = [t for t in offered if plan.next_window is not None and t >= plan.next_window]
    if later:
        chosen = min(later)
    else:
        best = task.best_window()
        if best is None or best.at is None:
            return plan.model_copy(
                update={
                    "decision": Decision.NO_GO,
                    "next_window": None,
                    "reason": plan.reason + " (no window within the horizon: NO_GO)",
                }
            ), "no window is open within the horizon, so DELAY became NO_GO"
        chosen = best.at
    note = (
        f"proposed window {plan.next_window.isoformat() if plan.next_window else 'none'} "
        f"moved to {chosen.isoformat()}, the first open window the scheduler offers"
    )
    return plan.model_copy(update={"next_window": chosen}), note


def _within_guardrails(plan: Plan, task: PlanTask) -> tuple[Plan, str | None]:
    allowed = clamp(plan.decision, task.guardrails)
    if allowed is plan.decision:
        return plan, None
    tightened = plan.model_copy(
        update={
            "decision": allowed,
            "reason": f"{plan.reason} [guardrail: {'; '.join(task.guardrails.reasons)}]",
        }
    )
    return tightened, f"guardrail turned {plan.decision.value} into {allowed.value}"


def finalize(plan: Plan, task: PlanTask) -> tuple[Plan, list[str]]:
    notes = []
    plan, note = _within_guardrails(plan, task)
    if note:
        notes.append(note)
    plan, note = _snap_window(plan, task)
    if note:
        notes.append(note)
    return plan, notes


def propose(
    task: PlanTask, reasoner: Reasoner, builtin: BuiltinReasoner, on_failure: str = "delay"
) -> Planned:
    """The plan for ``task``. With the guardrails forbidding GO, only the built-in
    reasoner is asked: no LLM call is spent on a question whose answer is fixed."""
    if reasoner.name == builtin.name or task.guardrails.forbid_go:
        own, call = builtin_call(builtin, "plan", task, Plan)
        plan, notes = finalize(own, task)
        return Planned(plan, [call], notes)
    value, call, error = invoke(reasoner, "plan", task)
    if error is None and isinstance(value, Plan):
        plan, notes = finalize(value, task)
        return Planned(plan, [call], notes)
    fallback, fallback_call = builtin_call(builtin, "plan", task, Plan)
    fallback, _ = finalize(fallback, task)
    failure = f"{reasoner.name} failed to plan ({call.error or 'no answer'})"
    if on_failure == "builtin":
        plan = fallback.model_copy(update={"reason": f"{failure}; built-in: {fallback.reason}"})
        return Planned(
            plan,
            [with_fallback(call, "builtin"), fallback_call],
            [f"{failure}; took the built-in plan ({fallback.decision.value})"],
            fallback,
            failed=True,
        )
    decision = Decision.strictest(Decision.DELAY, fallback.decision)
    first = next((o.at for o in task.windows if o.at is not None), None)
    if decision is Decision.DELAY and first is None:
        decision = Decision.NO_GO
    plan = Plan(
        decision=decision,
        reason=(
            f"{failure}; failing closed: {decision.value}"
            + (" (retry later)" if decision is Decision.DELAY else "")
            + f". The built-in reasoner would have decided {fallback.decision.value}."
        ),
        confidence=0.0,
        next_window=first if decision is Decision.DELAY else None,
    )
    return Planned(
        plan,
        [with_fallback(call, "fail-closed"), fallback_call],
        [f"{failure}; failed closed with {decision.value}"],
        fallback,
        failed=True,
    )
