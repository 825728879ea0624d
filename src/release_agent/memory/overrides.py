"""The audit log of human overrides, and the episode row an override changes.

The ``overrides`` table is append-only: rows are inserted, never updated or deleted.
The episode keeps the current state: its ``decision`` column and record are the final
answer, and its context columns are those of the moment the release would now deploy
(the requested time for a GO), so that an outcome recorded after an override counts in
the right cell and teaches like any deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ..domain.errors import NotFound
from ..domain.models import Context, Decision, DecisionRecord
from ..domain.overrides import OverrideEntry
from . import schema
from .rows import record_from_row

Change = Callable[[DecisionRecord], tuple[DecisionRecord, Context, OverrideEntry]]
"""Given the stored record, the overridden record, its deploy context and the entry."""


def apply(conn: sa.Connection, release_id: str, change: Change) -> DecisionRecord:
    """Inside the caller's write transaction: read the decision ``release_id`` (locked on
    PostgreSQL, so that two overrides or an override and an outcome take turns), let
    ``change`` decide (it raises to refuse), then write the episode and append the audit
    entry. Returns the new record."""
    e = schema.episodes
    row = conn.execute(sa.select(e).where(e.c.release_id == release_id).with_for_update()).first()
    if row is None or row.source != "agent":
        raise NotFound(f"no decision with id {release_id!r}", field="release_id")
    record, deploy, entry = change(record_from_row(row))
    conn.execute(
        e.update()
        .where(e.c.id == row.id)
        .values(
            **deploy.attributes(),
            deploy_at=deploy.at,
            decision=record.decision.value,
            next_window=record.next_window,
            record_json=record.model_dump_json(exclude={"outcome", "superseded_by"}),
        )
    )
    conn.execute(schema.overrides.insert().values(**_row(entry)))
    return record


def _row(entry: OverrideEntry) -> dict[str, Any]:
    return {
        "release_id": entry.release_id,
        "at": entry.at,
        "by": entry.by,
        "from_decision": entry.from_decision.value,
        "to_decision": entry.to_decision.value,
        "reason": entry.reason,
        "break_glass": entry.break_glass,
    }


def history(
    conn: sa.Connection, release_id: str | None = None, *, team: str | None = None
) -> list[OverrideEntry]:
    """The audit log, oldest first: of one decision, or of all; ``team``: only of that
    team's decisions (the team of their episodes)."""
    o = schema.overrides
    query = sa.select(o).order_by(o.c.id)
    if release_id is not None:
        query = query.where(o.c.release_id == release_id)
    if team is not None:
        e = schema.episodes
        query = query.where(o.c.release_id.in_(sa.select(e.c.release_id).where(e.c.team == team)))
    return [
        OverrideEntry(
            release_id=row.release_id,
            at=row.at,
            by=row.by,
            from_decision=Decision(row.from_decision),
            to_decision=Decision(row.to_decision),
            reason=row.reason,
            break_glass=bool(row.break_glass),
        )
        for row in conn.execute(query)
    ]
