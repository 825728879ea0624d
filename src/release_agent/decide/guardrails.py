"""Stage 3: guardrails — hard rules from the policy, computed before any reasoner runs.

Inside a freeze the decision is never GO; while a freeze calendar of the environment
cannot be read (and no copy of it is cached) it is NO_GO, since no window can be known
to be open. Nothing downstream can loosen a guardrail:
:func:`clamp` is applied to every proposal, whatever produced it.
"""

from __future__ import annotations

from ..domain.models import Context, Decision
from ..domain.options import Guardrails
from ..domain.policy import Policy
from .trace import Note


def check(context: Context, policy: Policy) -> Guardrails:
    """The guardrails in force for ``context`` (its environment, at its moment)."""
    unknown = policy.unreadable_calendars(context.env)
    hits = policy.active_freezes(context.at, context.env)
    if not hits and not unknown:
        return Guardrails(forbid_go=False)
    reasons = tuple(
        f"freeze {freeze.label()} covers {context.env} until {end.isoformat()}"
        for freeze, end in hits
    ) + tuple(calendar.reason for calendar in unknown)
    if unknown:
        # No moment is known to be open: no window is offered (scheduling), so NO_GO.
        return Guardrails(forbid_go=True, reasons=reasons, open_at=None)
    open_at = policy.next_open(context.at, context.env)
    return Guardrails(
        forbid_go=True,
        reasons=reasons,
        open_at=open_at.astimezone(context.at.tzinfo) if open_at else None,
    )


def clamp(decision: Decision, guardrails: Guardrails) -> Decision:
    """The proposal, made at least as strict as the guardrails require."""
    return Decision.strictest(decision, guardrails.ceiling)


def note(guard: Guardrails) -> Note:
    """The stage's trace entry."""
    return Note(
        "guardrails",
        "; ".join(guard.reasons) if guard.forbid_go else "no freeze in force",
        {
            "forbid_go": guard.forbid_go,
            "reasons": list(guard.reasons),
            "open_at": guard.open_at.isoformat() if guard.open_at else None,
        },
    )
