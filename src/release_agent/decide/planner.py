"""Stage 5: the planner — a reasoner proposes GO / NO_GO / DELAY for one moment.

Whatever the reasoner says, the proposal that leaves this stage is within the
guardrails, and a DELAY names a window the scheduler offered. A reasoner fault never
yields GO: by default it yields DELAY (retry later) — or NO_GO where the built-in
reasoner would say so — and with ``on_failure="builtin"`` the built-in proposal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..domain.models import ON_FAILURE, Decision, Plan, ReasonerCall
from ..reasoners.base import PlanTask, Reasoner
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.calls import builtin as builtin_call
from ..reasoners.calls import invoke, with_fallback
from . import floor as floors
from .guardrails import clamp
from .trace import Note

__all__ = ["ON_FAILURE", "Planned", "finalize", "note", "propose"]


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


def _priced(plan: Plan, task: PlanTask) -> tuple[Plan, str | None]:
    """No GO on costs that are not finite numbers: a NaN compares false with everything,
    so an option priced with one could look like the cheapest."""
    numbers = [task.go_now.expected_cost, task.no_go.expected_cost]
    numbers += [o.expected_cost for o in task.windows]
    numbers += [o.risk.mean for o in (task.go_now, *task.windows) if o.risk is not None]
    if plan.decision is not Decision.GO or all(math.isfinite(x) for x in numbers):
        return plan, None
    refused = plan.model_copy(
        update={
            "decision": Decision.NO_GO,
            "next_window": None,
            "confidence": 0.0,
            "reason": plan.reason + " [not GO: the options' costs are not finite numbers; "
            "check the policy's [costs]]",
        }
    )
    return refused, "costs that are not finite numbers turned GO into NO_GO"


def finalize(plan: Plan, task: PlanTask) -> tuple[Plan, list[str]]:
    """The plan made safe: never GO on costs that are not numbers, within the
    guardrails, and a DELAY pointing at an offered window."""
    notes = []
    plan, note = _priced(plan, task)
    if note:
        notes.append(note)
    plan, note = _within_guardrails(plan, task)
    if note:
        notes.append(note)
    plan, note = _snap_window(plan, task)
    if note:
        notes.append(note)
    return plan, notes


def propose(
    task: PlanTask,
    reasoner: Reasoner,
    builtin: BuiltinReasoner,
    on_failure: str = "delay",
    floor: str = "evidence",
) -> Planned:
    """The plan for ``task``. With the guardrails forbidding GO, only the built-in
    reasoner is asked: no LLM call is spent on a question whose answer is fixed. Another
    reasoner's plan is held to the evidence ``floor`` (decide/floor.py)."""
    if reasoner.name == builtin.name or task.guardrails.forbid_go:
        own, call = builtin_call(builtin, "plan", task, Plan)
        plan, notes = finalize(own, task)
        return Planned(plan, [call], notes)
    value, call, error = invoke(reasoner, "plan", task)
    if error is None and isinstance(value, Plan):
        plan, notes = finalize(value, task)
        own, own_call = builtin_call(builtin, "plan", task, Plan)
        own, _ = finalize(own, task)
        held, why = floors.apply(plan, task, own, floor)
        if why is None:
            return Planned(plan, [call], notes)
        held, more = finalize(held, task)
        return Planned(held, [call, own_call], [*notes, why, *more], own)
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


def note(planned: Planned) -> Note:
    """The stage's trace entry."""
    plan = planned.plan
    return Note(
        "planner",
        plan.reason
        if plan.reason.startswith(plan.decision.value)
        else f"{plan.decision.value}: {plan.reason}",
        {
            "reasoner": planned.calls[0].reasoner,
            "plan": plan.model_dump(mode="json"),
            "notes": planned.notes,
            "builtin_plan": planned.builtin_plan.model_dump(mode="json")
            if planned.builtin_plan
            else None,
        },
    )
