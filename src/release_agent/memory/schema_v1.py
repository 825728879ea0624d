"""The tables as migration 1 created them, frozen: migrations that shipped build on this
shape, whatever :mod:`.schema` says now. Never edit it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("applied_at", sa.String(40), nullable=False),
)

episodes = sa.Table(
    "episodes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("release_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("service", sa.String(100)),
    sa.Column("env", sa.String(100)),
    sa.Column("feature_risk", sa.String(8)),
    sa.Column("service_criticality", sa.String(8)),
    sa.Column("day_of_week", sa.String(3)),
    sa.Column("hour_of_day", sa.Integer),
    sa.Column("clash", sa.Boolean),
    sa.Column("weekend", sa.Boolean),
    sa.Column("friday_afternoon", sa.Boolean),
    sa.Column("out_of_hours", sa.Boolean),
    sa.Column("deploy_at", sa.String(40)),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("confidence", sa.Float),
    sa.Column("next_window", sa.String(40)),
    sa.Column("summary", sa.Text),
    sa.Column("record_json", sa.Text, nullable=False),
    sa.Column("result", sa.String(16)),
    sa.Column("failed", sa.Integer),
    sa.Column("outcome_notes", sa.Text),
    sa.Column("outcome_at", sa.String(40)),
    sa.Index("ix_episodes_service", "service"),
    sa.Index("ix_episodes_decision", "decision"),
    sa.Index("ix_episodes_result", "result"),
)

heuristics = sa.Table(
    "heuristics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("when_json", sa.Text, nullable=False),
    sa.Column("when_key", sa.String(500), nullable=False),
    sa.Column("recommendation", sa.String(8), nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("support", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("successes", sa.Integer, nullable=False, default=0),
    sa.Column("provenance", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("last_checked", sa.String(40)),
    sa.Index("ix_heuristics_status", "status"),
    sa.Index("ix_heuristics_when_key", "when_key"),
)

risk_models = sa.Table(
    "risk_models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fitted_at", sa.String(40), nullable=False),
    sa.Column("outcomes_seen", sa.Integer, nullable=False),
    sa.Column("params_json", sa.Text, nullable=False),
)
