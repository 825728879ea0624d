"""One learner at a time, across every process that shares the database.

- PostgreSQL: a session advisory lock, held by a connection of its own for the whole
  run; the server releases it if the process dies.
- SQLite (and any other database): a lease row in ``learner_lease`` naming its holder
  and when it expires. A thread renews it while the run goes on; a process that died
  stops renewing it, and another learner may take it once it expires.

A learner that cannot have the lock within ``wait`` seconds raises :class:`LearnerBusy`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from ..domain.errors import Conflict
from . import schema
from .migrations import writing

LEARNER = "learner"
ADVISORY_KEY = 0x7265_6C65_6C72_6E01  # "relelrn" + 1: an arbitrary, fixed 63-bit number
LEASE_SECONDS = 60.0
POLL_SECONDS = 0.2


class LearnerBusy(Conflict):
    """Another learner holds the lock; nothing was learned."""

    def __init__(self, holder: str | None = None) -> None:
        by = f" ({holder})" if holder else ""
        super().__init__(
            f"another learning run is in progress{by}; nothing was done. Try again when "
            "it ends (one learner runs at a time per database)",
            field="learn",
        )


def holder_name() -> str:
    """Who holds a lease: host, process and a random tag (one per lock taken)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def learner_lock(
    engine: sa.Engine, wait: float = 0.0, lease_seconds: float = LEASE_SECONDS
) -> Iterator[str]:
    """Hold the learner lock for the block; yields the holder's name. Raises LearnerBusy
    when another learner holds it for more than ``wait`` seconds."""
    holder = holder_name()
    deadline = time.monotonic() + max(0.0, wait)
    if engine.dialect.name == "postgresql":
        with _advisory(engine, deadline):
            yield holder
        return
    while not _take_lease(engine, holder, lease_seconds):
        if time.monotonic() >= deadline:
            raise LearnerBusy(_lease_holder(engine))
        time.sleep(POLL_SECONDS)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew_until,
        args=(engine, holder, lease_seconds, stop),
        name="release-agent-lease",
        daemon=True,
    )
    renewer.start()
    try:
        yield holder
    finally:
        stop.set()
        renewer.join()
        _release_lease(engine, holder)


@contextmanager
def _advisory(engine: sa.Engine, deadline: float) -> Iterator[None]:
    conn = engine.connect()
    try:
        while True:
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar()
            # End the transaction the query opened: the session keeps the lock, and the
            # connection does not sit idle inside a transaction for the whole run.
            conn.commit()
            if got:
                break
            if time.monotonic() >= deadline:
                raise LearnerBusy()
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                conn.commit()
            except sa.exc.SQLAlchemyError:
                # A broken connection: the server dropped the session and its lock; make
                # sure the pool does not hand the connection out again.
                conn.invalidate()
    finally:
        conn.close()


def _take_lease(engine: sa.Engine, holder: str, seconds: float) -> bool:
    lease = schema.learner_lease
    now = datetime.now(UTC)
    with writing(engine) as conn:
        current = conn.execute(
            sa.select(lease.c.holder, lease.c.expires_at).where(lease.c.name == LEARNER)
        ).first()
        if current is not None and current.holder != holder and current.expires_at > now:
            return False
        conn.execute(lease.delete().where(lease.c.name == LEARNER))
        conn.execute(
            lease.insert().values(
                name=LEARNER, holder=holder, expires_at=now + timedelta(seconds=seconds)
            )
        )
    return True


def _lease_holder(engine: sa.Engine) -> str | None:
    lease = schema.learner_lease
    with engine.connect() as conn:
        value = conn.execute(sa.select(lease.c.holder).where(lease.c.name == LEARNER)).scalar()
    return None if value is None else str(value)


def _renew_until(engine: sa.Engine, holder: str, seconds: float, stop: threading.Event) -> None:
    lease = schema.learner_lease
    while not stop.wait(seconds / 3):
        try:
            with writing(engine) as conn:
                conn.execute(
                    lease.update()
                    .where(lease.c.name == LEARNER, lease.c.holder == holder)
                    .values(expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
                )
        except sa.exc.SQLAlchemyError:
            # The run itself will meet the failing database; try again next time.
            continue


def _release_lease(engine: sa.Engine, holder: str) -> None:
    lease = schema.learner_lease
    with writing(engine) as conn:
        conn.execute(lease.delete().where(lease.c.name == LEARNER, lease.c.holder == holder))
