"""Human overrides: who overruled a decision, when, from what to what, and why.

An override changes a decision's final answer; the agent's own answer stays in the
record (``override.agent_decision``) and every override is kept in an append-only audit
log, several per decision if people change their minds. The rules here are pure:
whether a decision may still be overridden, and the checks on who and why. Whether a GO
may open a freeze is the pipeline's guardrails' to say (``decide/override.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import Conflict, InvalidInput
from .models import Decision, DecisionRecord, OverrideView, text_fault

MAX_BY = 100
MAX_REASON = 2000


@dataclass(frozen=True)
class OverrideEntry:
    """One row of the audit log."""

    release_id: str
    at: datetime
    by: str
    from_decision: Decision
    to_decision: Decision
    reason: str
    break_glass: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "at": self.at.isoformat(),
            "by": self.by,
            "from": self.from_decision.value,
            "to": self.to_decision.value,
            "reason": self.reason,
            "break_glass": self.break_glass,
        }


BY_PATTERN = r"^[^\u0000-\u001f\u007f]*[^\u0000-\u0020\u007f][^\u0000-\u001f\u007f]*$"
"""Who: some character other than a space, and no control characters. Written with
explicit ranges only, so that Python and a JSON Schema (ECMA 262) validator agree."""
REASON_PATTERN = r"^[^\u0000]*[^\u0000-\u0020][^\u0000]*$"
"""Why: some character other than white space; no NUL (PostgreSQL cannot store it)."""
_BLANK = "".join(chr(code) for code in range(0x21))
_RULES = {
    "by": (re.compile(BY_PATTERN), MAX_BY, "a name: not blank, without control characters"),
    "reason": (re.compile(REASON_PATTERN), MAX_REASON, "not blank, without NUL"),
}


def checked_text(value: object, field: str) -> str:
    """``value`` as the text of ``field`` (``by`` or ``reason``), its surrounding spaces
    trimmed. Raises InvalidInput naming the field and saying what it must be."""
    pattern, limit, rule = _RULES[field]
    if not isinstance(value, str):
        raise InvalidInput(f"must be text: {rule}", field=field)
    if len(value) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    if not pattern.fullmatch(value):
        raise InvalidInput(f"must be {rule}", field=field)
    fault = text_fault(value)
    if fault:
        raise InvalidInput(fault, field=field)
    # Only what the pattern counts as blank: the rest of the text stays as it is.
    return value.strip(_BLANK)


def decision_of(value: object) -> Decision:
    """A decision given as text in any case. Raises InvalidInput listing the choices."""
    allowed = [d.value for d in Decision]
    if isinstance(value, Decision):
        return value
    if isinstance(value, str) and value.strip().upper() in allowed:
        return Decision(value.strip().upper())
    raise InvalidInput(f"{value!r} is not a decision", field="decision", allowed=allowed)


def refusal(record: DecisionRecord, to: Decision) -> Conflict | None:
    """Why ``record`` may not be overridden to ``to`` now, or None when it may."""
    rid = record.release_id
    if record.superseded_by is not None:
        return Conflict(
            f"decision {rid} was superseded by {record.superseded_by}; override that one",
            field="release_id",
        )
    if record.outcome is not None:
        return Conflict(
            f"decision {rid} already has outcome {record.outcome.result.value}: a "
            "decision whose outcome is known cannot be overridden any more",
            field="release_id",
        )
    if record.decision is to:
        return Conflict(f"decision {rid} is {to.value} already", field="decision")
    return None


def overridden(
    record: DecisionRecord,
    to: Decision,
    by: str,
    reason: str,
    at: datetime,
    break_glass: bool,
) -> tuple[DecisionRecord, OverrideEntry]:
    """The record with the override applied (its ``decision`` the human's, the agent's
    kept in ``override``) and the audit entry. A GO or NO_GO has no window; a DELAY keeps
    the agent's window when the agent said DELAY."""
    first = record.override
    agent_decision = first.agent_decision if first else record.decision
    agent_window = first.agent_next_window if first else record.next_window
    view = OverrideView(
        by=by,
        reason=reason,
        at=at,
        agent_decision=agent_decision,
        decision=to,
        break_glass=break_glass,
        agent_next_window=agent_window,
    )
    window = agent_window if to is Decision.DELAY and agent_decision is Decision.DELAY else None
    changed = record.model_copy(update={"decision": to, "next_window": window, "override": view})
    entry = OverrideEntry(
        release_id=record.release_id,
        at=at,
        by=by,
        from_decision=record.decision,
        to_decision=to,
        reason=reason,
        break_glass=break_glass,
    )
    return changed, entry
