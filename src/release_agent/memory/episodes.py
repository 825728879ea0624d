"""Episodes as the rest of the system reads them: attributes, decision, outcome, story."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..domain.conditions import BOOL_ATTRIBUTES, KNOWN_ATTRIBUTES
from ..domain.models import Decision
from ..domain.narrative import narrative
from ..reasoners.base import EpisodeSummary

ATTRIBUTES = KNOWN_ATTRIBUTES


def attributes_of(row: sa.Row[Any]) -> dict[str, Any]:
    m = row._mapping
    out = {}
    for name in ATTRIBUTES:
        value = m[name]
        if value is not None:
            out[name] = bool(value) if name in BOOL_ATTRIBUTES else value
    return out


def story_of(row: sa.Row[Any]) -> str:
    m = row._mapping
    summary = m["summary"]
    if not summary:
        context = ", ".join(f"{k}={v}" for k, v in attributes_of(row).items())
        summary = f"Imported episode ({context}). Decision: {m['decision']}."
    return narrative(summary, m["result"], m["outcome_notes"], m["decision"])


def summary_of(row: sa.Row[Any]) -> EpisodeSummary:
    m = row._mapping
    return EpisodeSummary(
        release_id=m["release_id"],
        attributes=attributes_of(row),
        decision=Decision(m["decision"]),
        result=m["result"],
        summary=story_of(row),
    )


def episode_json(row: sa.Row[Any]) -> dict[str, Any]:
    """An episode in the seed's memory shape, with our extra fields."""
    m = row._mapping
    return {
        "release_id": m["release_id"],
        "source": m["source"],
        "context": attributes_of(row),
        "decision": m["decision"],
        "outcome": m["result"],
        "outcome_notes": m["outcome_notes"],
        "timestamp": m["created_at"],
        "deploy_at": m["deploy_at"],
        "reason": m["reason"],
        "summary": story_of(row),
    }
