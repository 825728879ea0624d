"""The tables, as SQLAlchemy Core objects, in their current (latest migration) shape.

Episodes hold one decision each. The context columns describe the moment the release
would deploy: the requested time for GO and NO_GO, the next window for a DELAY; that is
the context an outcome recorded against the decision is evidence about. Times and JSON
documents have native types on PostgreSQL and are text on SQLite (see :mod:`.types`).

``cell_counts`` holds the outcomes counted per context cell, kept in step with the
episodes in the transaction that writes an outcome (see :mod:`.cells`); ``knowledge``
holds the published snapshots decisions read (see :mod:`.knowledge`); ``learner_lease``
lets one learner at a time run on SQLite (see :mod:`.lease`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..domain.attributes import ATTRIBUTES, Attribute, Kind
from .types import JsonText, Moment

metadata = sa.MetaData()

_COLUMN_TYPES: dict[Kind, sa.types.TypeEngine[Any]] = {
    Kind.text: sa.String(100),
    Kind.enum: sa.String(8),
    Kind.hour: sa.Integer(),
    Kind.flag: sa.Boolean(),
}


def attribute_column(attribute: Attribute) -> sa.Column[Any]:
    """The episodes column of a context attribute, from its kind (nullable: imported
    episodes may not know it)."""
    return sa.Column(attribute.name, _COLUMN_TYPES[attribute.kind])


def attribute_columns() -> list[sa.Column[Any]]:
    return [attribute_column(a) for a in ATTRIBUTES]


RECALLED = sa.text("result IS NOT NULL")
"""The episodes recall reads: deploys with an outcome (the partial indexes' condition)."""
LIVE_REF = sa.text("ref IS NOT NULL AND superseded_by IS NULL")
"""The episodes that answer for their ref: not superseded."""

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("applied_at", Moment(), nullable=False),
)

episodes = sa.Table(
    "episodes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Moment(), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    *attribute_columns(),
    sa.Column("deploy_at", Moment()),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("confidence", sa.Float),
    sa.Column("next_window", Moment()),
    sa.Column("summary", sa.Text),
    sa.Column("record_json", JsonText(), nullable=False),
    sa.Column("result", sa.String(16)),
    sa.Column("failed", sa.Integer),
    sa.Column("outcome_notes", sa.Text),
    sa.Column("outcome_at", Moment()),
    # Migration 7: the caller's idempotency key, the decision that replaced this one,
    # advice only (see memory/refs.py).
    sa.Column("ref", sa.String(200)),
    sa.Column("superseded_by", sa.String(64)),
    sa.Column("shadow", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_episodes_service", "service"),
    sa.Index("ix_episodes_decision", "decision"),
    sa.Index("ix_episodes_result", "result"),
    sa.Index("ix_episodes_source", "source"),
    sa.Index("ix_episodes_service_deploy", "service", "deploy_at"),
    # What the decisions around a moment are (Store.recent_contexts): a range of deploy
    # times, read in order.
    sa.Index("ix_episodes_deploy", "deploy_at"),
    # Recall of similar episodes: the newest deploys with an outcome of a service, and of
    # a feature risk and criticality, each read from its own index (see Store.similar).
    sa.Index(
        "ix_episodes_recall_service",
        "service",
        "id",
        sqlite_where=RECALLED,
        postgresql_where=RECALLED,
    ),
    sa.Index(
        "ix_episodes_recall_levels",
        "feature_risk",
        "service_criticality",
        "id",
        sqlite_where=RECALLED,
        postgresql_where=RECALLED,
    ),
    sa.Index("ix_episodes_ref", "ref"),
    sa.Index("ix_episodes_team", "team", "id"),
    # One live (not superseded) decision per ref: two processes deciding the same ref at
    # once cannot both store one.
    sa.Index(
        "ux_episodes_ref_live",
        "ref",
        unique=True,
        sqlite_where=LIVE_REF,
        postgresql_where=LIVE_REF,
    ),
)

overrides = sa.Table(
    "overrides",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.String(64), nullable=False),
    sa.Column("at", Moment(), nullable=False),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("from_decision", sa.String(8), nullable=False),
    sa.Column("to_decision", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("break_glass", sa.Boolean, nullable=False),
    sa.Index("ix_overrides_release", "release_id", "id"),
)
"""The audit log of human overrides, append-only: the store inserts rows and never
updates or deletes one (see :mod:`.overrides`)."""

heuristics = sa.Table(
    "heuristics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("when_json", JsonText(), nullable=False),
    sa.Column("when_key", sa.String(500), nullable=False),
    sa.Column("recommendation", sa.String(8), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("support", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("successes", sa.Integer, nullable=False, default=0),
    sa.Column("provenance", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", Moment(), nullable=False),
    sa.Column("last_checked", Moment()),
    sa.Index("ix_heuristics_status", "status"),
    sa.Index("ix_heuristics_when_key", "when_key"),
)

risk_models = sa.Table(
    "risk_models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fitted_at", Moment(), nullable=False),
    sa.Column("outcomes_seen", sa.Integer, nullable=False),
    sa.Column("params_json", JsonText(), nullable=False),
)


cell_counts = sa.Table(
    "cell_counts",
    metadata,
    sa.Column("cell", sa.String(64), primary_key=True),
    *attribute_columns(),
    sa.Column("deployed", sa.Integer, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
)
"""Deploys with an outcome and their failures per context cell (one row per distinct
combination of the attribute values; ``cell`` is a digest of them, since a unique key
over nullable columns would not tell two missing values apart)."""

cell_weights = sa.Table(
    "cell_weights",
    metadata,
    sa.Column("cell", sa.String(64), primary_key=True),
    sa.Column("deployed", sa.Float, nullable=False),
    sa.Column("failures", sa.Float, nullable=False),
)
"""The same counts as ``cell_counts``, each deploy weighing ``2 ** (-age / half-life)``
at the evidence clock's ``as_of`` (see :mod:`.cells`)."""

evidence_clock = sa.Table(
    "evidence_clock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("as_of", Moment()),
    sa.Column("half_life_days", sa.Float, nullable=False),
)
"""One row (id 1): the moment ``cell_weights`` are weighed at, and the half-life."""

knowledge = sa.Table(
    "knowledge",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", Moment(), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("outcomes", sa.Integer, nullable=False),
    sa.Column("model_id", sa.Integer),
    sa.Column("heuristics_json", JsonText(), nullable=False),
    sqlite_autoincrement=True,
)
"""Published knowledge snapshots, newest last: the risk model (a ``risk_models`` row, or
none for the priors) and the active heuristics, as a decision reads them."""

learner_lease = sa.Table(
    "learner_lease",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("holder", sa.String(100), nullable=False),
    sa.Column("expires_at", Moment(), nullable=False),
)

OPEN_BOOKING = sa.text("freed_at IS NULL")
"""The bookings the calendar shows: not freed (the partial indexes' condition)."""

bookings = sa.Table(
    "bookings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.String(64), nullable=False, unique=True),
    sa.Column("service", sa.String(100), nullable=False),
    sa.Column("env", sa.String(100), nullable=False),
    sa.Column("ref", sa.String(200)),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("starts_at", Moment(), nullable=False),
    sa.Column("booked_at", Moment(), nullable=False),
    sa.Column("freed_at", Moment()),
    sa.Column("freed_reason", sa.String(16)),
    sa.Column("freed_by", sa.String(64)),
    # What every decision reads (the open bookings of one environment around a moment)
    # and what the calendar lists (a range of times), each from its own index.
    sa.Index(
        "ix_bookings_open_env",
        "env",
        "starts_at",
        sqlite_where=OPEN_BOOKING,
        postgresql_where=OPEN_BOOKING,
    ),
    sa.Index(
        "ix_bookings_open",
        "starts_at",
        sqlite_where=OPEN_BOOKING,
        postgresql_where=OPEN_BOOKING,
    ),
)
"""The change calendar (migration 8): the slot each GO (at its time) and DELAY (at its
window) books, written in the transaction that stores the decision; a freed booking keeps
its row, with when, why and by which decision it was freed (see :mod:`.bookings`)."""

github_deliveries = sa.Table(
    "github_deliveries",
    metadata,
    sa.Column("delivery_id", sa.String(100), primary_key=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("received_at", Moment(), nullable=False),
)
"""Every GitHub webhook delivery taken (migration 9), by its ``X-GitHub-Delivery`` id: a
delivery seen before is not acted on twice, whichever process received it."""

pending_approvals = sa.Table(
    "pending_approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(100), nullable=False, unique=True),
    sa.Column("ref", sa.String(200), nullable=False),
    sa.Column("repository", sa.String(200), nullable=False),
    sa.Column("environment", sa.String(100), nullable=False),
    sa.Column("installation_id", sa.BigInteger),
    sa.Column("callback_url", sa.Text, nullable=False),
    sa.Column("request_json", JsonText(), nullable=False),
    sa.Column("delays", sa.Integer, nullable=False),
    sa.Column("due_at", Moment(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("release_id", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_until", Moment()),
    sa.Column("created_at", Moment(), nullable=False),
    sa.Column("updated_at", Moment(), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_pending_approvals_due", "status", "due_at"),
)
"""GitHub deployment reviews to send (migration 9): one row per protection-rule event,
due at once when it arrives and again at a DELAY's window, until GitHub has been told
approved or rejected (status ``done``) or sending gave up (``failed``). A process claims
a row with a lease, so two servers over one database never send one review twice (see
:mod:`.approvals`)."""
