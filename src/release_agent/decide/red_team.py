"""Stage 6: the red team — an advisory, adversarial review of the plan.

A fault in the configured reasoner falls back to the built-in review.
"""

from __future__ import annotations

from ..domain.models import ReasonerCall, Review
from ..reasoners.base import Reasoner, ReviewTask
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.calls import builtin as builtin_call
from ..reasoners.calls import invoke, with_fallback


def review(
    task: ReviewTask, reasoner: Reasoner, builtin: BuiltinReasoner
) -> tuple[Review, list[ReasonerCall]]:
    value, call, error = invoke(reasoner, "review", task)
    if error is None and isinstance(value, Review):
        return value, [call]
    fallback, fallback_call = builtin_call(builtin, "review", task, Review)
    return fallback, [with_fallback(call, "builtin"), fallback_call]
