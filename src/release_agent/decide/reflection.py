"""Stage 7: reflection — a production GO must be confirmed by a second check.

Not confirmed means not GO. A fault in the configured reasoner means not confirmed
(fail closed), or with ``on_failure="builtin"`` the built-in check decides.
"""

from __future__ import annotations

from ..domain.models import Confirmation, ReasonerCall
from ..reasoners.base import ConfirmTask, Reasoner
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.calls import builtin as builtin_call
from ..reasoners.calls import invoke, with_fallback
from .trace import Note


def confirm(
    task: ConfirmTask, reasoner: Reasoner, builtin: BuiltinReasoner, on_failure: str = "delay"
) -> tuple[Confirmation, list[ReasonerCall]]:
    value, call, error = invoke(reasoner, "confirm", task)
    if error is None and isinstance(value, Confirmation):
        return value, [call]
    if on_failure == "builtin" and reasoner.name != builtin.name:
        fallback, fallback_call = builtin_call(builtin, "confirm", task, Confirmation)
        return fallback, [with_fallback(call, "builtin"), fallback_call]
    failed = Confirmation(
        confirmed=False,
        reason=f"{reasoner.name} could not confirm ({call.error}); failing closed",
    )
    return failed, [with_fallback(call, "fail-closed")]


def note(confirmation: Confirmation, calls: list[ReasonerCall]) -> Note:
    """The stage's trace entry."""
    return Note(
        "reflection",
        ("confirmed: " if confirmation.confirmed else "not confirmed: ") + confirmation.reason,
        {"reasoner": calls[-1].reasoner, "confirmation": confirmation.model_dump(mode="json")},
    )
