"""Stored knowledge snapshots (see :mod:`release_agent.stats.knowledge`).

A snapshot is a ``knowledge`` row: its version, the ``risk_models`` row of its fit (none
for the priors) and the active heuristics as JSON, copied when it is published so that
later changes to the heuristics table do not change it. Reading the newest version is one
indexed lookup, so a decision checks it every time and loads a snapshot only when a new
one was published. The newest :data:`KEEP` snapshots are kept, with their fits; a
decision record keeps the number of the one it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter

from ..domain.models import Heuristic, HeuristicStatus
from ..stats.knowledge import Knowledge, prior
from ..stats.risk_model import RiskModel
from . import schema

KEEP = 16
"""Snapshots kept; older ones (and fits no kept snapshot uses) are deleted."""

_HEURISTICS = TypeAdapter(list[Heuristic])


class _Same:
    """Marker: publish with the newest snapshot's fit."""


SAME_MODEL = _Same()


def save_model(conn: sa.Connection, model: RiskModel, outcomes: int) -> int:
    """Store a fitted model; returns its id."""
    result = conn.execute(
        schema.risk_models.insert().values(
            fitted_at=datetime.now(UTC), outcomes_seen=outcomes, params_json=model.to_json()
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def active_heuristics_json(conn: sa.Connection) -> str:
    """The active heuristics as the snapshot keeps them, in the store's listing order."""
    from .store import heuristic_from_row

    h = schema.heuristics
    rows = conn.execute(
        sa.select(h)
        .where(h.c.status == HeuristicStatus.active.value)
        .order_by(h.c.confidence.desc(), h.c.id)
    ).all()
    return _HEURISTICS.dump_json([heuristic_from_row(row) for row in rows]).decode()


def newest(conn: sa.Connection) -> sa.Row[Any, Any, Any] | None:
    """(version, model_id, outcomes) of the newest snapshot, or None."""
    k = schema.knowledge
    return conn.execute(
        sa.select(k.c.version, k.c.model_id, k.c.outcomes).order_by(k.c.version.desc()).limit(1)
    ).first()


def publish(
    conn: sa.Connection,
    source: str,
    model_id: int | _Same | None = SAME_MODEL,
    outcomes: int | None = None,
) -> int:
    """Publish a snapshot of the active heuristics (as they are in this transaction) with
    the fit ``model_id`` (SAME_MODEL: the newest snapshot's); returns its version. Runs
    inside the caller's transaction, so it is published with the writes it reflects."""
    if isinstance(model_id, _Same) or outcomes is None:
        latest = newest(conn)
        if isinstance(model_id, _Same):
            model_id = latest.model_id if latest else None
        if outcomes is None:
            outcomes = latest.outcomes if latest else 0
    k = schema.knowledge
    result = conn.execute(
        k.insert().values(
            created_at=datetime.now(UTC),
            source=source,
            outcomes=outcomes,
            model_id=model_id,
            heuristics_json=active_heuristics_json(conn),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    version = int(key[0])
    _prune(conn, version)
    return version


def _prune(conn: sa.Connection, version: int) -> None:
    k, r = schema.knowledge, schema.risk_models
    conn.execute(k.delete().where(k.c.version <= version - KEEP))
    used = sa.select(k.c.model_id).where(k.c.model_id.is_not(None))
    conn.execute(r.delete().where(r.c.id.not_in(used)))


def load(conn: sa.Connection, known: Knowledge | None = None) -> Knowledge:
    """The newest snapshot: ``known`` itself when it is the newest, the priors when none
    was published. A new snapshot's fit is read only when it is not ``known``'s."""
    head = newest(conn)
    if head is None:
        return known if known is not None and known.version == 0 else prior()
    if known is not None and known.version == head.version:
        return known
    fits = {known.model_id: known.model} if known is not None and known.model_id else {}
    return at(conn, int(head.version), fits)


def at(conn: sa.Connection, version: int, fits: Mapping[int, RiskModel]) -> Knowledge:
    """The snapshot ``version`` (it must exist); its fit is taken from ``fits`` (by
    ``risk_models`` id) when it is there, else read and parsed."""
    k = schema.knowledge
    row = conn.execute(
        sa.select(k.c.created_at, k.c.outcomes, k.c.model_id, k.c.heuristics_json).where(
            k.c.version == version
        )
    ).one()
    model_id = None if row.model_id is None else int(row.model_id)
    if model_id is None:
        model = prior().model
    elif model_id in fits:
        model = fits[model_id]
    else:
        r = schema.risk_models
        params = conn.execute(sa.select(r.c.params_json).where(r.c.id == model_id)).scalar_one()
        model = RiskModel.from_json(params)
    return Knowledge(
        version=version,
        model=model,
        heuristics=tuple(_HEURISTICS.validate_json(row.heuristics_json)),
        outcomes=int(row.outcomes),
        model_id=model_id,
        created_at=row.created_at,
    )
