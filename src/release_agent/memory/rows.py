"""Decision records and heuristics to table rows and back: the store returns domain
objects, never rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..domain.conditions import canonical_key
from ..domain.errors import NotFound
from ..domain.models import (
    Context,
    Decision,
    DecisionRecord,
    Heuristic,
    OutcomeRecord,
    Result,
)


def episode_row(record: DecisionRecord, deploy: Context) -> dict[str, Any]:
    """The episodes row of a decision about to be stored (no outcome yet)."""
    return {
        "release_id": record.release_id,
        "created_at": record.created_at,
        "source": "agent",
        **deploy.attributes(),
        "deploy_at": deploy.at,
        "decision": record.decision.value,
        "reason": record.reason,
        "confidence": record.confidence,
        "next_window": record.next_window,
        "summary": record.summary,
        "record_json": record.model_dump_json(exclude={"outcome", "superseded_by"}),
        "ref": record.request.ref,
        "shadow": record.shadow,
    }


def record_from_row(row: sa.Row[Any]) -> DecisionRecord:
    """The decision record of an agent's episode, with its outcome if one is recorded.
    Raises NotFound for an imported episode, which has no record."""
    m = row._mapping
    if m["source"] != "agent":
        raise NotFound(
            f"{m['release_id']} is an imported episode, not a decision record", field="release_id"
        )
    record = DecisionRecord.model_validate_json(m["record_json"])
    record.superseded_by = m.get("superseded_by")
    if m["result"] is not None:
        record.outcome = OutcomeRecord(
            result=Result(m["result"]), notes=m["outcome_notes"], recorded_at=m["outcome_at"]
        )
    return record


def heuristic_row(h: Heuristic) -> dict[str, Any]:
    return {
        "when_json": json.dumps(h.when, sort_keys=True),
        "when_key": canonical_key(h.when),
        "recommendation": h.recommendation.value,
        "confidence": h.confidence,
        "support": h.support,
        "failures": h.failures,
        "successes": h.successes,
        "provenance": h.provenance.value,
        "status": h.status.value,
        "reason": h.reason,
        "created_at": h.created_at or datetime.now(UTC),
        "last_checked": h.last_checked,
    }


def heuristic_from_row(row: sa.Row[Any]) -> Heuristic:
    m = row._mapping
    return Heuristic(
        id=m["id"],
        when=json.loads(m["when_json"]),
        recommendation=Decision(m["recommendation"]),
        confidence=m["confidence"],
        support=m["support"],
        failures=m["failures"],
        successes=m["successes"],
        provenance=m["provenance"],
        status=m["status"],
        reason=m["reason"],
        created_at=m["created_at"],
        last_checked=m["last_checked"],
    )
