"""Stage 6: the red team — an advisory, adversarial review of the plan.

A fault in the configured reasoner falls back to the built-in review.
"""

from __future__ import annotations

from ..domain.models import ReasonerCall, Review
from ..reasoners.base import Reasoner, ReviewTask
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.calls import builtin as builtin_call
from ..reasoners.calls import invoke, with_fallback
from .trace import Note


def review(
    task: ReviewTask, reasoner: Reasoner, builtin: BuiltinReasoner
) -> tuple[Review, list[ReasonerCall]]:
    value, call, error = invoke(reasoner, "review", task)
    if error is None and isinstance(value, Review):
        return value, [call]
    fallback, fallback_call = builtin_call(builtin, "review", task, Review)
    return fallback, [with_fallback(call, "builtin"), fallback_call]


def note(found: Review, calls: list[ReasonerCall]) -> Note:
    """The stage's trace entry."""
    return Note(
        "red_team",
        f"{found.risk_level.value} risk, suggests {found.suggested_action.value}",
        {"reasoner": calls[-1].reasoner, "review": found.model_dump(mode="json")},
    )
