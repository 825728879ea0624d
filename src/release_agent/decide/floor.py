"""The evidence floor: no model output goes below what the evidence already shows.

A language model may make any decision stricter, never looser than the evidence allows.
The policy's ``llm_floor`` says how far it may go:

- ``evidence`` (the default): a model may not turn into GO a release for which, even at
  the built-in model's *optimistic* estimate (the 10% bound of its failure risk), GO
  costs more than NO_GO or the best DELAY at their expected costs. It then gets the
  cheaper of those two instead.
- ``strict``: never looser than the built-in reasoner's own decision.
- ``off``: only the guardrails hold (a freeze still forbids GO whatever the model says).

When the floor overrules a model, its plan says so and the trace keeps the model's.
"""

from __future__ import annotations

from ..domain.models import FLOORS, Decision, Plan
from ..reasoners.base import PlanTask

__all__ = ["FLOORS", "apply"]


def _optimistic_go_cost(task: PlanTask) -> float:
    risk = task.go_now.risk
    if risk is None:
        return task.go_now.expected_cost
    failure_cost = task.costs.failure_cost(
        task.context.service_criticality, task.context.production
    )
    return risk.low * failure_cost


def apply(plan: Plan, task: PlanTask, builtin: Plan, mode: str) -> tuple[Plan, str | None]:
    """``plan`` held to the floor ``mode`` (see the module docstring); ``builtin`` is the
    built-in reasoner's plan for the same task. Returns the plan and, when the floor
    changed it, why."""
    if mode == "off" or (plan.decision is not Decision.GO and mode == "evidence"):
        return plan, None
    if mode == "strict":
        if plan.decision.strictness >= builtin.decision.strictness:
            return plan, None
        floor = builtin
        why = (
            f"the model's {plan.decision.value} is looser than the built-in "
            f"{builtin.decision.value}; the policy's llm_floor is strict"
        )
    else:
        optimistic = _optimistic_go_cost(task)
        best = task.best_window()
        cheaper = min(
            [task.no_go, *([best] if best is not None and best.at is not None else [])],
            key=lambda o: o.expected_cost,
        )
        if optimistic <= cheaper.expected_cost:
            return plan, None
        floor = Plan(
            decision=cheaper.decision,
            reason=plan.reason,
            confidence=plan.confidence,
            next_window=cheaper.at if cheaper.decision is Decision.DELAY else None,
        )
        why = (
            f"even at the optimistic failure risk ({100 * task.go_now.risk.low:.1f}%) GO "
            f"costs {optimistic:.2f}, more than {cheaper.decision.value} "
            f"({cheaper.expected_cost:.2f})"
            if task.go_now.risk is not None
            else f"GO costs more than {cheaper.decision.value}"
        )
    held = plan.model_copy(
        update={
            "decision": floor.decision,
            "next_window": floor.next_window,
            "reason": f"{plan.reason} [evidence floor: {why}; {floor.decision.value}]",
        }
    )
    return held, f"evidence floor turned {plan.decision.value} into {floor.decision.value}: {why}"
