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
)

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
