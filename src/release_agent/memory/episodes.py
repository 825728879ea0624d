"""Rows of the episodes table as domain objects: the store returns nothing else."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..domain.conditions import BOOL_ATTRIBUTES, KNOWN_ATTRIBUTES
from ..domain.episodes import Episode
from ..domain.models import Decision


def attributes_of(row: sa.Row[Any]) -> dict[str, Any]:
    m = row._mapping
    out = {}
    for name in KNOWN_ATTRIBUTES:
        value = m[name]
        if value is not None:
            out[name] = bool(value) if name in BOOL_ATTRIBUTES else value
    return out


def episode_of(row: sa.Row[Any]) -> Episode:
    m = row._mapping
    return Episode(
        release_id=m["release_id"],
        source=m["source"],
        attributes=attributes_of(row),
        decision=Decision(m["decision"]),
        result=m["result"],
        outcome_notes=m["outcome_notes"],
        created_at=m["created_at"],
        deploy_at=m["deploy_at"],
        reason=m["reason"],
        summary=m["summary"] or "",
    )
