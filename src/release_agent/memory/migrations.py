"""Versioned, ordered, transactional, locked migrations.

Each migration is a function of an open connection, applied once, inside the same
transaction as the row that records it: a crash leaves either both or neither. A run of
:func:`migrate` holds the migration lock from the moment it reads which versions are
applied until it commits — the write lock on SQLite (BEGIN IMMEDIATE), an advisory lock
on PostgreSQL — so any number of processes may open a blank database at once: the first
migrates it, the others wait and then find nothing to do.

Append new migrations to MIGRATIONS; never edit one that has shipped. ``m001`` builds
the tables frozen in :mod:`.schema_v1`; a later migration creating a table may build it
from :mod:`.schema` until a migration after it changes that table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

from ..domain.attributes import BY_NAME
from ..domain.models import Decision
from . import ageing, bookings, cells, production, schema, schema_v1
from . import knowledge as snapshots

Migration = Callable[[sa.Connection], None]
WRITE = "release_agent_write"
"""Execution option marking a transaction that will write (SQLite: BEGIN IMMEDIATE)."""
MIGRATION_LOCK = 0x7265_6C6D_6967_7201
"""The PostgreSQL advisory lock key of migrations (an arbitrary, fixed number)."""


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that takes the write lock when it starts, so that it waits for
    another writer (busy_timeout) instead of failing when its read turns into a write."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction holding the migration lock until it ends."""
    with writing(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        yield conn


def m001_initial(conn: sa.Connection) -> None:
    schema_v1.metadata.create_all(
        conn,
        tables=[schema_v1.episodes, schema_v1.heuristics, schema_v1.risk_models],
    )


def m002_lookup_indexes(conn: sa.Connection) -> None:
    """Indexes for what every decision asks: how many decisions there are (learning is
    due every N), and a service's recent deploys (the failure-streak check)."""
    conn.execute(sa.text("CREATE INDEX ix_episodes_source ON episodes (source)"))
    conn.execute(
        sa.text("CREATE INDEX ix_episodes_service_deploy ON episodes (service, deploy_at)")
    )


_TIMES = {
    "schema_migrations": ("applied_at",),
    "episodes": ("created_at", "deploy_at", "next_window", "outcome_at"),
    "heuristics": ("created_at", "last_checked"),
    "risk_models": ("fitted_at",),
}
_DOCUMENTS = {
    "episodes": ("record_json",),
    "heuristics": ("when_json",),
    "risk_models": ("params_json",),
}


def m003_native_types(conn: sa.Connection) -> None:
    """PostgreSQL: times become ``timestamptz`` and JSON documents ``jsonb`` (they were
    ISO text and text). SQLite has neither type; nothing changes there."""
    if conn.dialect.name != "postgresql":
        return
    for table, columns in _TIMES.items():
        changes = ", ".join(
            f"ALTER COLUMN {c} TYPE timestamptz USING {c}::timestamptz" for c in columns
        )
        conn.execute(sa.text(f"ALTER TABLE {table} {changes}"))
    for table, columns in _DOCUMENTS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE jsonb USING {c}::jsonb" for c in columns)
        conn.execute(sa.text(f"ALTER TABLE {table} {changes}"))


def m004_cell_counts(conn: sa.Connection) -> None:
    """Outcome counts per context cell (see :mod:`.cells`), counted from the episodes."""
    add_attribute_columns(conn, "episodes")
    schema.cell_counts.create(conn)
    cells.rebuild_counts(conn)


def m005_knowledge(conn: sa.Connection) -> None:
    """Knowledge snapshots and the learner's lease. A database that has learned already
    gets its first snapshot from its stored fit and active heuristics, so that decisions
    go on using them."""
    schema.knowledge.create(conn)
    schema.learner_lease.create(conn)
    r = schema_v1.risk_models
    latest = conn.execute(
        sa.select(r.c.id, r.c.outcomes_seen).order_by(r.c.id.desc()).limit(1)
    ).first()
    h = schema.heuristics
    active = conn.execute(
        sa.select(sa.func.count()).select_from(h).where(h.c.status == "active")
    ).scalar_one()
    if latest is not None or active:
        snapshots.publish(
            conn,
            "migration",
            model_id=latest.id if latest else None,
            outcomes=int(latest.outcomes_seen) if latest else 0,
        )


def m006_recall_indexes(conn: sa.Connection) -> None:
    """Indexes every decision reads: recall of similar episodes (Store.similar_episodes)
    and the decisions around a moment (Store.recent_contexts)."""
    wanted = ("ix_episodes_recall_service", "ix_episodes_recall_levels", "ix_episodes_deploy")
    for index in schema.episodes.indexes:
        if index.name in wanted:
            index.create(conn)


def m007_refs_overrides_shadow(conn: sa.Connection) -> None:
    """Idempotent refs (``ref``, ``superseded_by``, their indexes), shadow decisions
    (``shadow``) and the audit log of human overrides (``overrides``)."""
    false = "false" if conn.dialect.name == "postgresql" else "0"
    conn.execute(sa.text("ALTER TABLE episodes ADD COLUMN ref VARCHAR(200)"))
    conn.execute(sa.text("ALTER TABLE episodes ADD COLUMN superseded_by VARCHAR(64)"))
    conn.execute(
        sa.text(f"ALTER TABLE episodes ADD COLUMN shadow BOOLEAN NOT NULL DEFAULT {false}")
    )
    for index in schema.episodes.indexes:
        if index.name in ("ix_episodes_ref", "ux_episodes_ref_live"):
            index.create(conn)
    schema.overrides.create(conn)


def m008_bookings(conn: sa.Connection) -> None:
    """The change calendar (see :mod:`.bookings`). The GO and DELAY decisions already
    stored whose slot is still ahead book it now, so that the calendar knows them."""
    schema.bookings.create(conn)
    # The columns as migration 7 left them (times read back as aware datetimes).
    e = schema.episodes
    columns = [
        e.c.release_id,
        e.c.service,
        e.c.env,
        e.c.decision,
        e.c.deploy_at,
        e.c.created_at,
        e.c.ref,
    ]
    conditions = [
        e.c.source == "agent",
        e.c.decision.in_(["GO", "DELAY"]),
        e.c.deploy_at >= datetime.now(UTC),
        e.c.superseded_by.is_(None),
        e.c.shadow.is_(False),
    ]
    for row in conn.execute(sa.select(*columns).where(*conditions)).all():
        m = row._mapping
        bookings.book(
            conn,
            release_id=m["release_id"],
            service=m["service"],
            env=m["env"] or "prod",
            ref=m["ref"],
            decision=Decision(m["decision"]),
            at=m["deploy_at"],
            booked_at=m["created_at"],
        )


def m009_github(conn: sa.Connection) -> None:
    """The GitHub integration: webhook deliveries taken (``github_deliveries``) and the
    deployment reviews still to send (``pending_approvals``)."""
    schema.github_deliveries.create(conn)
    schema.pending_approvals.create(conn)


def m010_teams(conn: sa.Connection) -> None:
    """Teams: a ``team`` column in ``episodes`` and ``cell_counts`` (a registry attribute,
    so it may be there already), everything stored before teams given to the default
    team, the cells re-keyed to say so, and an index for listing a team's decisions."""
    team = "default"  # DEFAULT_TEAM as it was when this migration shipped
    for table in ("episodes", "cell_counts"):
        if "team" not in {c["name"] for c in sa.inspect(conn).get_columns(table)}:
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN team VARCHAR(100)"))
    conn.execute(sa.text("UPDATE episodes SET team = :team WHERE team IS NULL"), {"team": team})
    stored = conn.execute(sa.text("SELECT * FROM cell_counts WHERE team IS NULL")).mappings()
    changes = []
    for row in stored:
        values = {k: cells.plain(k, v) for k, v in row.items() if k in BY_NAME}
        values["team"] = team
        changes.append({"old": row["cell"], "new": cells.cell_key(values)})
    if changes:
        conn.execute(
            sa.text("UPDATE cell_counts SET cell = :new, team = :team WHERE cell = :old"),
            [{**change, "team": team} for change in changes],
        )
    for index in schema.episodes.indexes:
        if index.name == "ix_episodes_team":
            index.create(conn)


def m011_ageing_evidence(conn: sa.Connection) -> None:
    """Weighed counts per cell and the evidence clock (see :mod:`.ageing`), weighed from
    the episodes stored so far."""
    schema.cell_weights.create(conn)
    schema.evidence_clock.create(conn)
    conn.execute(
        schema.evidence_clock.insert().values(
            id=ageing.CLOCK, as_of=None, half_life_days=ageing.DEFAULT_HALF_LIFE_DAYS
        )
    )
    ageing.rebuild(conn, ageing.DEFAULT_HALF_LIFE_DAYS, cells.key_of)


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial", m001_initial),
    (2, "lookup_indexes", m002_lookup_indexes),
    (3, "native_types", m003_native_types),
    (4, "cell_counts", m004_cell_counts),
    (5, "knowledge", m005_knowledge),
    (6, "recall_indexes", m006_recall_indexes),
    (7, "refs_overrides_shadow", m007_refs_overrides_shadow),
    (8, "bookings", m008_bookings),
    (9, "github", m009_github),
    (10, "teams", m010_teams),
    (11, "ageing_evidence", m011_ageing_evidence),
]


def add_attribute_columns(conn: sa.Connection, table: str = "episodes") -> list[str]:
    """Add the column of every registered context attribute that ``table`` (episodes or
    cell_counts) lacks, nullable, so rows stored before simply do not know it: a new
    attribute in the registry needs no migration of its own. Returns the columns added."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    added = []
    for column in schema.attribute_columns():
        if column.name not in present:
            kind = column.type.compile(dialect=conn.dialect)
            name = conn.dialect.identifier_preparer.quote(column.name)
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))
            added.append(column.name)
    return added


def _versions(conn: sa.Connection) -> set[int]:
    schema_v1.schema_migrations.create(conn, checkfirst=True)
    return set(conn.execute(sa.select(schema_v1.schema_migrations.c.version)).scalars())


def applied_versions(engine: sa.Engine) -> set[int]:
    with locked(engine) as conn:
        return _versions(conn)


def migrate(engine: sa.Engine) -> list[int]:
    """Apply every pending migration in order, then add the columns of new attributes;
    return the versions applied now. One transaction under the migration lock: a failing
    migration leaves none of this run's changes."""
    applied = []
    with locked(engine) as conn:
        done = _versions(conn)
        for version, name, function in MIGRATIONS:
            if version in done:
                continue
            function(conn)
            # An untyped ISO text: the column is text until m003 and timestamptz after
            # it, which reads the same text.
            conn.execute(
                sa.text(
                    "INSERT INTO schema_migrations (version, name, applied_at) "
                    "VALUES (:version, :name, :applied_at)"
                ),
                {"version": version, "name": name, "applied_at": datetime.now(UTC).isoformat()},
            )
            applied.append(version)
        added = add_attribute_columns(conn, "episodes")
        add_attribute_columns(conn, "cell_counts")
        if "production" in added:  # the stored episodes are classified once (see there)
            production.backfill(conn)
    return applied
