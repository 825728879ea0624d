"""A human override of a stored decision: the rules of ``domain/overrides.py`` with the
policy's guardrails.

An override to GO cannot open a freeze: when the guardrails forbid GO at the requested
time, it is refused unless the policy says ``[decision] allow_freeze_override = true``,
and then it is recorded as break-glass. The release deploys at the requested time on a
GO (or a NO_GO, which does not deploy), at the agent's window on a DELAY when the agent
gave one: that is the context an outcome recorded afterwards is evidence about.
"""

from __future__ import annotations

from datetime import datetime

from ..domain.errors import Conflict
from ..domain.models import Context, Decision, DecisionRecord
from ..domain.overrides import OverrideEntry, overridden, refusal
from ..domain.policy import Policy
from . import context as context_stage
from . import guardrails


def override(
    record: DecisionRecord,
    to: Decision,
    by: str,
    reason: str,
    policy: Policy,
    at: datetime,
) -> tuple[DecisionRecord, Context, OverrideEntry]:
    """The record overridden to ``to`` by ``by`` for ``reason`` at ``at``, the context it
    now deploys in, and the audit entry. Raises Conflict when it may not be overridden
    (superseded, an outcome recorded, already ``to``, or a GO into a freeze without
    break-glass)."""
    refused = refusal(record, to)
    if refused is not None:
        raise refused
    break_glass = False
    if to is Decision.GO:
        guard = guardrails.check(record.context, policy)
        if guard.forbid_go:
            if not policy.settings.allow_freeze_override:
                raise Conflict(
                    f"an override cannot open a freeze: {'; '.join(guard.reasons)}. A team "
                    "that allows break-glass overrides sets allow_freeze_override = true in "
                    "the policy's [decision] table",
                    field="decision",
                )
            break_glass = True
    changed, entry = overridden(record, to, by, reason, at, break_glass)
    deploy = record.context
    if changed.decision is Decision.DELAY and changed.next_window is not None:
        deploy = context_stage.evaluate(
            record.request, policy.settings, at=changed.next_window, clashes=[]
        )
    return changed, deploy, entry
