"""The change calendar in the store: booking, freeing and reading slots.

Every function takes an open connection, so that a booking is written in the same
transaction as the decision that makes it (:meth:`.store.Store.save_decision`) and a
freed booking in the same transaction as what frees it. Reads go through the partial
indexes on open bookings (``ix_bookings_open_env``, ``ix_bookings_open``): a decision
reads the few bookings around its moment whatever the size of the history.

A booking is written under a lock of its environment (:func:`lock_env`), after reading
again what could clash with it (:func:`check_slot`): two decisions in one environment
cannot both take a slot that each read as free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..domain.calendar import BOOKED, Booking, FreedReason, SlotGuard, SlotTaken
from ..domain.models import Decision, DecisionRecord, Result, canonical_env
from . import schema

MAX_LISTED = 10_000
"""The most bookings one listing returns."""


def _booking(row: Any) -> Booking:
    # Rows the store wrote itself: built without validating again (a decision may read
    # hundreds of bookings around its moment).
    m = row._mapping
    return Booking.model_construct(
        release_id=m["release_id"],
        service=m["service"],
        env=m["env"],
        ref=m["ref"],
        decision=Decision(m["decision"]),
        at=m["starts_at"],
        booked_at=m["booked_at"],
    )


def book(
    conn: sa.Connection,
    *,
    release_id: str,
    service: str,
    env: str,
    ref: str | None,
    decision: Decision,
    at: datetime,
    booked_at: datetime,
) -> bool:
    """Book the slot at ``at`` for a GO or a DELAY; any other decision books nothing.
    Returns whether a booking was written."""
    if decision not in BOOKED:
        return False
    conn.execute(
        schema.bookings.insert().values(
            release_id=release_id,
            service=service,
            env=canonical_env(env),
            ref=ref,
            decision=decision.value,
            starts_at=at,
            booked_at=booked_at,
        )
    )
    return True


def free(
    conn: sa.Connection,
    release_ids: Iterable[str],
    reason: FreedReason,
    *,
    by: str | None = None,
    at: datetime | None = None,
) -> int:
    """Free the open bookings of ``release_ids``; returns how many were freed (a
    release without an open booking is no error: it had none, or it is freed already)."""
    ids = sorted(set(release_ids))
    if not ids:
        return 0
    b = schema.bookings
    result = conn.execute(
        b.update()
        .where(b.c.release_id.in_(ids), b.c.freed_at.is_(None))
        .values(freed_at=at or datetime.now(UTC), freed_reason=reason.value, freed_by=by)
    )
    return int(result.rowcount or 0)


def around(conn: sa.Connection, env: str, start: datetime, end: datetime) -> list[Booking]:
    """The open bookings of ``env`` with ``start <= at <= end``, earliest first."""
    b = schema.bookings
    query = (
        sa.select(b)
        .where(b.c.env == canonical_env(env), b.c.freed_at.is_(None))
        .where(b.c.starts_at >= start, b.c.starts_at <= end)
        .order_by(b.c.starts_at, b.c.id)
    )
    return [_booking(row) for row in conn.execute(query)]


def listing(
    conn: sa.Connection,
    start: datetime | None,
    end: datetime | None,
    env: str | None = None,
    limit: int = MAX_LISTED,
    team: str | None = None,
) -> list[Booking]:
    """The open bookings with ``start <= at < end`` (either bound may be open), of
    ``env`` or of every environment, of ``team``'s decisions (read from their
    episodes) or of every team's, earliest first, at most ``limit``."""
    b = schema.bookings
    query = sa.select(b).where(b.c.freed_at.is_(None))
    if env is not None:
        query = query.where(b.c.env == canonical_env(env))
    if team is not None:
        e = schema.episodes
        query = query.where(b.c.release_id.in_(sa.select(e.c.release_id).where(e.c.team == team)))
    if start is not None:
        query = query.where(b.c.starts_at >= start)
    if end is not None:
        query = query.where(b.c.starts_at < end)
    query = query.order_by(b.c.starts_at, b.c.id).limit(limit)
    return [_booking(row) for row in conn.execute(query)]


def of_release(conn: sa.Connection, release_id: str) -> Booking | None:
    """The open booking of one release, if it has one."""
    b = schema.bookings
    row = conn.execute(
        sa.select(b).where(b.c.release_id == release_id, b.c.freed_at.is_(None))
    ).first()
    return None if row is None else _booking(row)


def lock_key(env: str) -> int:
    """The PostgreSQL advisory lock key of an environment's calendar: a stable signed
    64-bit hash of its canonical name (the same in every process and release)."""
    digest = hashlib.blake2b(
        f"release-agent:calendar:{canonical_env(env)}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_env(conn: sa.Connection, env: str) -> None:
    """Hold the calendar of ``env`` until the caller's transaction ends: a writer of a
    booking in the same environment waits for it. PostgreSQL: a transaction-scoped
    advisory lock. SQLite: nothing to take, since a write transaction begins with
    ``BEGIN IMMEDIATE`` (:func:`.migrations.writing`) and so excludes every other writer
    from its start."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(env)})


def check_slot(conn: sa.Connection, env: str, at: datetime, guard: SlotGuard) -> None:
    """Under the environment's lock (taken here), read the open bookings that could
    clash with a release at ``at`` and raise SlotTaken when one clashes that the
    decision did not see."""
    lock_env(conn, env)
    fresh = around(conn, env, at - guard.reach, at + guard.reach)
    taken = guard.taken(at, fresh)
    if taken:
        raise SlotTaken(taken)


def on_decision(
    conn: sa.Connection,
    record: DecisionRecord,
    deploy_at: datetime,
    *,
    frees: Iterable[str] = (),
    book: bool = True,
    guard: SlotGuard | None = None,
) -> None:
    """What a decision being stored does to the calendar, inside its transaction: free
    the bookings it supersedes (``frees``, and every open booking of its ref), then book
    its slot at ``deploy_at`` if it is a GO or a DELAY and not a shadow decision.

    With ``guard`` (what the decision saw of the calendar), a decision that books first
    checks its slot under the environment's lock (:func:`check_slot`): SlotTaken when a
    clashing booking appeared since it read the calendar."""
    books = book and not record.shadow and record.decision in BOOKED
    if books and guard is not None:
        check_slot(conn, record.request.env, deploy_at, guard)
    superseded = set(frees)
    ref = record.request.ref
    if ref is not None:
        b = schema.bookings
        superseded |= set(
            conn.execute(
                sa.select(b.c.release_id).where(b.c.ref == ref, b.c.freed_at.is_(None))
            ).scalars()
        )
    free(conn, superseded, FreedReason.superseded, by=record.release_id, at=record.created_at)
    if books:
        _book_record(conn, record, deploy_at)


def _book_record(conn: sa.Connection, record: DecisionRecord, at: datetime) -> bool:
    request = record.request
    return book(
        conn,
        release_id=record.release_id,
        service=request.service,
        env=request.env,
        ref=request.ref,
        decision=record.decision,
        at=at,
        booked_at=record.created_at,
    )


def on_outcome(conn: sa.Connection, release_id: str, result: Result, at: datetime) -> None:
    """What an outcome does to the calendar, inside its transaction: ``not_deployed``
    frees the release's slot; a real outcome (the release went out after all, replacing
    a ``not_deployed``, or after ``calendar cancel``) takes back the slot that was freed
    as not deployed. Any other booking is left as it is."""
    if not result.deployed:
        free(conn, [release_id], FreedReason.not_deployed, at=at)
        return
    b = schema.bookings
    conn.execute(
        b.update()
        .where(b.c.release_id == release_id, b.c.freed_reason == FreedReason.not_deployed.value)
        .values(freed_at=None, freed_reason=None, freed_by=None)
    )


def on_override(conn: sa.Connection, record: DecisionRecord) -> None:
    """A human override changed ``record``'s decision: its slot follows the new one. A
    NO_GO frees it; a GO books the requested time, a DELAY its window (a shadow
    decision books nothing)."""
    at = record.next_window if record.decision is Decision.DELAY else record.request.at
    # In turn with the decisions of the environment checking their slots (check_slot).
    lock_env(conn, record.request.env)
    if record.shadow or record.decision not in BOOKED or at is None:
        free(conn, [record.release_id], FreedReason.overridden)
        return
    b = schema.bookings
    reopened = conn.execute(
        b.update()
        .where(b.c.release_id == record.release_id)
        .values(
            decision=record.decision.value,
            starts_at=at,
            freed_at=None,
            freed_reason=None,
            freed_by=None,
        )
    )
    if not reopened.rowcount:
        _book_record(conn, record, at)
