"""GitHub webhook deliveries taken and deployment reviews still to send (migration 9).

    if take_delivery(conn, delivery_id, "deployment_protection_rule", now):  # first time
        add_pending(conn, NewApproval(...), now)        # in the same transaction
    for row in claim_due(store, now, lease):            # rows this process now holds
        ... decide, tell GitHub ...
        finish(store, row.id, release_id)               # or reschedule / retry_later / give_up

A delivery id is taken at most once (insert-or-ignore under the table's primary key), so
a redelivered webhook does nothing, whichever process or server receives it. A pending
row is claimed with a lease (a conditional UPDATE that only one writer can win), so two
servers over one database never both send its review; a claim left by a process that
died runs out and the row is taken up again. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from . import schema
from .store import Store

PENDING, DONE, FAILED = "pending", "done", "failed"
STATUSES = (PENDING, DONE, FAILED)
MAX_ERROR = 500


@dataclass(frozen=True)
class NewApproval:
    """A deployment review to send: what a protection-rule event asks."""

    delivery_id: str
    ref: str
    repository: str
    environment: str
    installation_id: int | None
    callback_url: str
    request_json: str
    """The release request, as JSON, without its time (taken when it is decided)."""


@dataclass(frozen=True)
class PendingApproval:
    """A stored review and where it stands."""

    id: int
    delivery_id: str
    ref: str
    repository: str
    environment: str
    installation_id: int | None
    callback_url: str
    request_json: str
    delays: int
    """How many times the release was delayed already: the next decision asks with it."""
    due_at: datetime
    status: str
    release_id: str | None
    """The newest decision made for it, if any."""
    attempts: int
    """Failed attempts to decide or tell GitHub since the last success."""


def _row(row: Any) -> PendingApproval:
    m = row._mapping
    return PendingApproval(
        id=int(m["id"]),
        delivery_id=m["delivery_id"],
        ref=m["ref"],
        repository=m["repository"],
        environment=m["environment"],
        installation_id=m["installation_id"],
        callback_url=m["callback_url"],
        request_json=m["request_json"],
        delays=int(m["delays"]),
        due_at=m["due_at"],
        status=m["status"],
        release_id=m["release_id"],
        attempts=int(m["attempts"]),
    )


def take_delivery(conn: sa.Connection, delivery_id: str, event: str, at: datetime) -> bool:
    """Record ``delivery_id`` inside the caller's transaction; True when it is new, False
    when it was taken before (then nothing is written)."""
    table = schema.github_deliveries
    values = {"delivery_id": delivery_id, "event": event, "received_at": at}
    statement: Any
    if conn.dialect.name == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif conn.dialect.name == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - the store speaks SQLite and PostgreSQL only
        raise NotImplementedError(conn.dialect.name)
    # RETURNING says whether a row was written (rowcount is not reliable for an upsert
    # on every driver).
    return conn.execute(statement.returning(table.c.delivery_id)).first() is not None


def delivery_taken(store: Store, delivery_id: str) -> bool:
    table = schema.github_deliveries
    with store.reading() as conn:
        found = conn.execute(
            sa.select(table.c.delivery_id).where(table.c.delivery_id == delivery_id)
        ).first()
    return found is not None


def add_pending(conn: sa.Connection, new: NewApproval, now: datetime) -> None:
    """Store ``new`` inside the caller's transaction, due at once."""
    conn.execute(
        schema.pending_approvals.insert().values(
            delivery_id=new.delivery_id,
            ref=new.ref,
            repository=new.repository,
            environment=new.environment,
            installation_id=new.installation_id,
            callback_url=new.callback_url,
            request_json=new.request_json,
            delays=0,
            due_at=now,
            status=PENDING,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )


def claim_due(
    store: Store, now: datetime, lease: timedelta, limit: int = 20
) -> list[PendingApproval]:
    """The pending rows due at ``now`` that this caller now holds until ``now + lease``
    (rows another process holds are left to it), oldest due first."""
    p = schema.pending_approvals
    free = sa.or_(p.c.lease_until.is_(None), p.c.lease_until < now)
    due = (
        sa.select(p.c.id)
        .where(p.c.status == PENDING, p.c.due_at <= now, free)
        .order_by(p.c.due_at, p.c.id)
        .limit(limit)
    )
    claimed = []
    with store.transaction() as conn:
        for row_id in list(conn.execute(due).scalars()):
            won = conn.execute(
                p.update()
                .where(p.c.id == row_id, p.c.status == PENDING, free)
                .values(lease_until=now + lease, updated_at=now)
            ).rowcount
            if won == 1:
                claimed.append(row_id)
        if not claimed:
            return []
        rows = conn.execute(sa.select(p).where(p.c.id.in_(claimed))).all()
    by_id = {int(r.id): _row(r) for r in rows}
    return [by_id[i] for i in claimed]


def _update(store: Store, row_id: int, now: datetime, **values: Any) -> None:
    p = schema.pending_approvals
    with store.transaction() as conn:
        conn.execute(
            p.update().where(p.c.id == row_id).values(updated_at=now, lease_until=None, **values)
        )


def finish(store: Store, row_id: int, release_id: str | None, now: datetime) -> None:
    """GitHub was told approved or rejected: nothing more to send."""
    _update(store, row_id, now, status=DONE, release_id=release_id, attempts=0, last_error=None)


def reschedule(
    store: Store, row_id: int, due_at: datetime, delays: int, release_id: str, now: datetime
) -> None:
    """A DELAY: ask again at ``due_at`` with ``delays`` delays behind the release."""
    _update(
        store,
        row_id,
        now,
        status=PENDING,
        due_at=due_at,
        delays=delays,
        release_id=release_id,
        attempts=0,
        last_error=None,
    )


def retry_later(
    store: Store, row_id: int, due_at: datetime, attempts: int, error: str, now: datetime
) -> None:
    """An attempt failed: try again at ``due_at`` (``attempts`` failed so far)."""
    _update(store, row_id, now, due_at=due_at, attempts=attempts, last_error=error[:MAX_ERROR])


def give_up(store: Store, row_id: int, attempts: int, error: str, now: datetime) -> None:
    """Too many attempts failed: the row is kept, marked failed, with the last error."""
    _update(store, row_id, now, status=FAILED, attempts=attempts, last_error=error[:MAX_ERROR])


def count_pending(store: Store) -> int:
    """How many reviews are still to send (due now or waiting for a window)."""
    p = schema.pending_approvals
    with store.reading() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(p).where(p.c.status == PENDING)
            ).scalar_one()
        )


def next_due(store: Store, now: datetime) -> datetime | None:
    """When the earliest pending review can next be claimed: its due time, or the end of
    the lease another process holds on it (None when none is pending)."""
    p = schema.pending_approvals
    ready = sa.case((p.c.lease_until > now, p.c.lease_until), else_=p.c.due_at)
    with store.reading() as conn:
        value = conn.execute(sa.select(sa.func.min(ready)).where(p.c.status == PENDING)).scalar()
    if value is None:
        return None
    # min() over a typed column comes back untyped on SQLite: read it as the column does.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment


def waiting(store: Store, now: datetime) -> list[PendingApproval]:
    """The pending rows that wait for a later time (a DELAY's window, or a retry)."""
    p = schema.pending_approvals
    with store.reading() as conn:
        query = sa.select(p).where(p.c.status == PENDING, p.c.due_at > now).order_by(p.c.id)
        return [_row(r) for r in conn.execute(query).all()]


def get(store: Store, row_id: int) -> PendingApproval:
    p = schema.pending_approvals
    with store.reading() as conn:
        row = conn.execute(sa.select(p).where(p.c.id == row_id)).one()
    return _row(row)


def list_all(store: Store) -> list[PendingApproval]:
    p = schema.pending_approvals
    with store.reading() as conn:
        return [_row(r) for r in conn.execute(sa.select(p).order_by(p.c.id)).all()]
