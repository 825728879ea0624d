"""Versioned, ordered, transactional migrations.

Each migration is a function of an open connection, applied once, inside the same
transaction as the row that records it: a crash leaves either both or neither. Append
new migrations to MIGRATIONS; never edit one that has shipped. (``m001`` creates the
first tables from ``schema``; when a later migration changes one of them, freeze the
v1 definition here before changing ``schema``.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from . import schema

Migration = Callable[[sa.Connection], None]
WRITE = "release_agent_write"
"""Execution option marking a transaction that will write (SQLite: BEGIN IMMEDIATE)."""


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that takes the write lock when it starts, so that it waits for
    another writer (busy_timeout) instead of failing when its read turns into a write."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            yield conn


def m001_initial(conn: sa.Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[schema.episodes, schema.heuristics, schema.risk_models],
    )


def m002_lookup_indexes(conn: sa.Connection) -> None:
    """Indexes for what every decision asks: how many decisions there are (learning is
    due every N), and a service's recent deploys (the failure-streak check)."""
    conn.execute(sa.text("CREATE INDEX ix_episodes_source ON episodes (source)"))
    conn.execute(
        sa.text("CREATE INDEX ix_episodes_service_deploy ON episodes (service, deploy_at)")
    )


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial", m001_initial),
    (2, "lookup_indexes", m002_lookup_indexes),
]


def applied_versions(engine: sa.Engine) -> set[int]:
    with writing(engine) as conn:
        schema.schema_migrations.create(conn, checkfirst=True)
        rows = conn.execute(sa.select(schema.schema_migrations.c.version)).scalars()
        return set(rows)


def migrate(engine: sa.Engine) -> list[int]:
    """Apply every pending migration in order; return the versions applied now."""
    done = applied_versions(engine)
    applied = []
    for version, name, function in MIGRATIONS:
        if version in done:
            continue
        with writing(engine) as conn:
            function(conn)
            conn.execute(
                schema.schema_migrations.insert().values(
                    version=version, name=name, applied_at=datetime.now(UTC).isoformat()
                )
            )
        applied.append(version)
    return applied
