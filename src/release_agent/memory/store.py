"""The store: one interface over SQLAlchemy Core, SQLite by default, any URL it accepts.

Every write runs in one transaction; SQLite runs in WAL mode with ``synchronous=FULL``,
so a write that returned has reached the disk and survives a crash of the process or
the machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ..domain.episodes import Episode
from ..domain.errors import Conflict, InvalidInput, NotFound, StoreError
from ..domain.models import (
    MAX_NOTES,
    Context,
    Decision,
    DecisionRecord,
    Heuristic,
    HeuristicStatus,
    OutcomeRecord,
    Result,
)
from ..stats.cells import CELL_ATTRIBUTES, Cells
from . import schema
from .episodes import episode_of
from .migrations import WRITE, migrate, writing


def default_url() -> str:
    """``RELEASE_AGENT_DB``, else an SQLite file in the user's data directory."""
    configured = os.environ.get("RELEASE_AGENT_DB")
    if configured:
        return configured
    path = Path(platformdirs.user_data_dir("release-agent")) / "release-agent.db"
    return f"sqlite:///{path}"


def iso(moment: datetime | None) -> str | None:
    """UTC ISO text with a fixed width, so that text order is time order."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _sqlite_scratch(dbapi_connection: Any, _record: Any) -> None:
    """For a throwaway memory (a simulation's): no waiting for the disk."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver opens transactions itself, and not before DDL, so a migration's
    # CREATE TABLE would commit on its own. Take over: autocommit at the driver, and an
    # explicit BEGIN for every SQLAlchemy transaction (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")


class Store:
    """Decisions, outcomes, heuristics and the fitted risk model of one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None, *, durable: bool = True) -> Store:
        """Open (creating and migrating if needed) the database at ``url``.

        ``durable=False`` is for throwaway memories such as a simulation's: SQLite then
        does not wait for the disk at each commit, so a crash may lose recent writes.
        Raises InvalidInput for a URL SQLAlchemy cannot use, StoreError if it fails.
        """
        url = url or default_url()
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise InvalidInput(
                f"{url!r} is not a database URL such as sqlite:///path/to/file.db",
                field="db",
            ) from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = sa.create_engine(parsed)
        except sa.exc.NoSuchModuleError:
            raise InvalidInput(
                f"{parsed.drivername!r} is not a database SQLAlchemy knows; use a URL such "
                "as sqlite:///path/to/file.db or postgresql+psycopg://user@host/db",
                field="db",
            ) from None
        except ImportError as error:
            raise InvalidInput(
                f"the driver for {parsed.drivername!r} is not installed ({error.name}); "
                f"install it, e.g. pip install {error.name}",
                field="db",
            ) from None
        try:
            if parsed.get_backend_name() == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
                sa.event.listen(engine, "begin", _sqlite_begin)
                if not durable:
                    sa.event.listen(engine, "connect", _sqlite_scratch)
            migrate(engine)
        except SQLAlchemyError as error:
            raise StoreError(f"cannot open database {url}: {error}") from error
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with writing(self.engine) as conn:
                yield conn
        except SQLAlchemyError as error:
            raise StoreError(f"database write failed: {error}") from error

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as error:
            raise StoreError(f"database read failed: {error}") from error

    # -- decisions -----------------------------------------------------------------

    def save_decision(
        self, record: DecisionRecord, deploy: Context, conn: sa.Connection | None = None
    ) -> None:
        """Store a decision with the context it would deploy in."""
        row = episode_row(record, deploy)
        if conn is not None:
            conn.execute(schema.episodes.insert().values(**row))
            return
        with self.transaction() as tx:
            tx.execute(schema.episodes.insert().values(**row))

    def insert_episodes(self, rows: Sequence[dict[str, Any]], conn: sa.Connection) -> int:
        """Insert episode rows (from :func:`.seedformat.parse`) inside the transaction
        ``conn``, skipping those whose release id is stored already; returns how many were
        added."""
        if not rows:
            return 0
        e = schema.episodes
        ids = [r["release_id"] for r in rows]
        existing: set[str] = set()
        for start in range(0, len(ids), 500):  # keep under every backend's parameter limit
            chunk = ids[start : start + 500]
            existing |= set(
                conn.execute(sa.select(e.c.release_id).where(e.c.release_id.in_(chunk))).scalars()
            )
        fresh = [r for r in rows if r["release_id"] not in existing]
        if fresh:
            conn.execute(e.insert(), fresh)
        return len(fresh)

    def get_decision(self, release_id: str) -> DecisionRecord:
        with self.reading() as conn:
            row = conn.execute(
                sa.select(schema.episodes).where(schema.episodes.c.release_id == release_id)
            ).first()
        if row is None:
            raise NotFound(f"no decision with id {release_id!r}", field="release_id")
        return record_from_row(row)

    def list_decisions(
        self,
        *,
        service: str | None = None,
        decision: Decision | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[DecisionRecord]:
        """Decisions made by the agent, newest first; ``limit`` 0 means all.

        ``before`` is a release id: only decisions made before it are listed (paging).
        """
        e = schema.episodes
        query = sa.select(e).where(e.c.source == "agent").order_by(e.c.id.desc())
        if service:
            query = query.where(e.c.service == service)
        if decision:
            query = query.where(e.c.decision == decision.value)
        with self.reading() as conn:
            if before:
                anchor = conn.execute(sa.select(e.c.id).where(e.c.release_id == before)).scalar()
                if anchor is None:
                    raise NotFound(f"no decision with id {before!r}", field="before")
                query = query.where(e.c.id < anchor)
            if limit:
                query = query.limit(limit)
            rows = conn.execute(query).all()
        return [record_from_row(row) for row in rows]

    def list_episodes(self, limit: int = 50) -> list[Episode]:
        """Every episode (imported ones too), newest first; ``limit`` 0 means all."""
        query = sa.select(schema.episodes).order_by(schema.episodes.c.id.desc())
        if limit:
            query = query.limit(limit)
        with self.reading() as conn:
            return [episode_of(row) for row in conn.execute(query).all()]

    def record_outcome(
        self,
        release_id: str,
        result: Result,
        notes: str | None = None,
        *,
        replace: bool = False,
        at: datetime | None = None,
    ) -> OutcomeRecord:
        """Record what happened after the deploy of ``release_id``.

        Raises NotFound for an unknown id, Conflict when an outcome is already recorded
        and ``replace`` is false.
        """
        e = schema.episodes
        if notes is not None and len(notes) > MAX_NOTES:
            raise InvalidInput(f"must be at most {MAX_NOTES} characters", field="notes")
        outcome = OutcomeRecord(result=result, notes=notes, recorded_at=at or datetime.now(UTC))
        with self.transaction() as conn:
            row = conn.execute(
                sa.select(e.c.id, e.c.result, e.c.source).where(e.c.release_id == release_id)
            ).first()
            if row is None or row.source != "agent":
                # imported episodes come with the outcome their file gave them
                raise NotFound(f"no decision with id {release_id!r}", field="release_id")
            if row.result is not None and not replace:
                raise Conflict(
                    f"decision {release_id} already has outcome {row.result}; "
                    "replace it explicitly to overwrite it (--replace on the command line, "
                    '"replace": true in the API)',
                    field="result",
                )
            conn.execute(
                e.update()
                .where(e.c.id == row.id)
                .values(
                    result=result.value,
                    failed=int(result.failed),
                    outcome_notes=notes,
                    outcome_at=iso(outcome.recorded_at),
                )
            )
        return outcome

    def count_decisions(self, source: str | None = "agent") -> int:
        query = sa.select(sa.func.count()).select_from(schema.episodes)
        if source:
            query = query.where(schema.episodes.c.source == source)
        with self.reading() as conn:
            return int(conn.execute(query).scalar_one())

    def count_outcomes(self) -> int:
        e = schema.episodes
        with self.reading() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(e).where(e.c.result.is_not(None))
                ).scalar_one()
            )

    def outcome_cells(self, conn: sa.Connection | None = None) -> Cells:
        """Every deployed episode with an outcome, grouped by every context attribute: the
        one aggregate query learning reads memory with. ``conn`` reads inside a running
        transaction (an import counts what it has just written)."""
        e = schema.episodes
        columns = [e.c[name] for name in CELL_ATTRIBUTES]
        query = (
            sa.select(*columns, sa.func.count(), sa.func.sum(e.c.failed))
            .where(e.c.result.is_not(None))
            .group_by(*columns)
        )
        if conn is not None:
            return Cells.from_rows(conn.execute(query).all())
        with self.reading() as reader:
            return Cells.from_rows(reader.execute(query).all())

    def recent_outcomes(self, service: str, before: datetime, hours: float = 24.0) -> list[Episode]:
        """Deploys of ``service`` with a recorded outcome that went out in the ``hours``
        before ``before``, newest first."""
        e = schema.episodes
        query = (
            sa.select(e)
            .where(e.c.service == service, e.c.result.is_not(None))
            .where(e.c.deploy_at < iso(before))
            .where(e.c.deploy_at >= iso(before - timedelta(hours=hours)))
            .order_by(e.c.deploy_at.desc(), e.c.id.desc())
        )
        with self.reading() as conn:
            return [episode_of(row) for row in conn.execute(query).all()]

    def similar_episodes(self, context: Context, k: int = 3, pool: int = 60) -> list[Episode]:
        """The ``k`` past deploys with outcomes most like ``context`` (newest win ties)."""
        e = schema.episodes
        query = (
            sa.select(e)
            .where(e.c.result.is_not(None))
            .where(
                sa.or_(
                    e.c.service == context.service,
                    sa.and_(
                        e.c.feature_risk == context.feature_risk.value,
                        e.c.service_criticality == context.service_criticality.value,
                    ),
                )
            )
            .order_by(e.c.id.desc())
            .limit(pool)
        )
        with self.reading() as conn:
            rows = conn.execute(query).all()
        target = context.attributes()
        scored = sorted(
            enumerate(rows),
            key=lambda pair: (-_similarity(target, pair[1]), pair[0]),
        )
        return [episode_of(row) for _, row in scored[:k]]

    # -- heuristics ----------------------------------------------------------------

    def list_heuristics(
        self,
        status: HeuristicStatus | None = None,
        limit: int = 0,
        conn: sa.Connection | None = None,
    ) -> list[Heuristic]:
        h = schema.heuristics
        query = sa.select(h).order_by(h.c.status, h.c.confidence.desc(), h.c.id)
        if status:
            query = query.where(h.c.status == status.value)
        if limit:
            query = query.limit(limit)
        if conn is not None:
            return [heuristic_from_row(row) for row in conn.execute(query).all()]
        with self.reading() as reader:
            return [heuristic_from_row(row) for row in reader.execute(query).all()]

    def active_heuristics(self) -> list[Heuristic]:
        return self.list_heuristics(HeuristicStatus.active)

    def insert_heuristic(self, heuristic: Heuristic, conn: sa.Connection | None = None) -> int:
        statement = schema.heuristics.insert().values(**heuristic_row(heuristic))
        if conn is not None:
            return _new_id(conn.execute(statement))
        with self.transaction() as tx:
            return _new_id(tx.execute(statement))

    def update_heuristic(self, heuristic: Heuristic, conn: sa.Connection | None = None) -> None:
        if heuristic.id is None:
            raise ValueError("update_heuristic needs a stored heuristic")
        values = heuristic_row(heuristic)
        statement = schema.heuristics.update().where(schema.heuristics.c.id == heuristic.id)
        if conn is not None:
            conn.execute(statement.values(**values))
            return
        with self.transaction() as tx:
            tx.execute(statement.values(**values))

    # -- the fitted risk model -------------------------------------------------------

    def save_risk_model(self, params_json: str, outcomes_seen: int) -> None:
        with self.transaction() as conn:
            conn.execute(schema.risk_models.delete())
            conn.execute(
                schema.risk_models.insert().values(
                    fitted_at=iso(datetime.now(UTC)),
                    outcomes_seen=outcomes_seen,
                    params_json=params_json,
                )
            )

    def risk_model_outcomes(self) -> int | None:
        """How many outcomes the stored model was fitted with (None: no model)."""
        r = schema.risk_models
        with self.reading() as conn:
            value = conn.execute(
                sa.select(r.c.outcomes_seen).order_by(r.c.id.desc()).limit(1)
            ).scalar()
        return int(value) if value is not None else None

    def load_risk_model(self) -> tuple[str, int] | None:
        r = schema.risk_models
        with self.reading() as conn:
            row = conn.execute(
                sa.select(r.c.params_json, r.c.outcomes_seen).order_by(r.c.id.desc()).limit(1)
            ).first()
        return (row.params_json, int(row.outcomes_seen)) if row else None


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("the database did not return the new row's id")
    return int(key[0])


def _plain(value: Any) -> Any:
    return bool(value) if isinstance(value, bool) else value


def _similarity(target: dict[str, Any], row: sa.Row[Any]) -> float:
    weights = {
        "service": 3.0,
        "feature_risk": 2.0,
        "service_criticality": 1.0,
        "day_of_week": 1.0,
        "clash": 1.0,
        "friday_afternoon": 1.0,
        "weekend": 1.0,
        "out_of_hours": 1.0,
    }
    score = sum(w for name, w in weights.items() if _plain(row._mapping[name]) == target[name])
    hour = row._mapping["hour_of_day"]
    if hour is not None:
        gap = abs(int(hour) - int(target["hour_of_day"]))
        score += 1.0 - min(gap, 24 - gap) / 12.0
    return score


def episode_row(record: DecisionRecord, deploy: Context) -> dict[str, Any]:
    return {
        "release_id": record.release_id,
        "created_at": iso(record.created_at),
        "source": "agent",
        "service": deploy.service,
        "env": deploy.env,
        "feature_risk": deploy.feature_risk.value,
        "service_criticality": deploy.service_criticality.value,
        "day_of_week": deploy.day_of_week.value,
        "hour_of_day": deploy.hour_of_day,
        "clash": deploy.clash,
        "weekend": deploy.weekend,
        "friday_afternoon": deploy.friday_afternoon,
        "out_of_hours": deploy.out_of_hours,
        "deploy_at": iso(deploy.at),
        "decision": record.decision.value,
        "reason": record.reason,
        "confidence": record.confidence,
        "next_window": iso(record.next_window),
        "summary": record.summary,
        "record_json": record.model_dump_json(exclude={"outcome"}),
    }


def record_from_row(row: sa.Row[Any]) -> DecisionRecord:
    m = row._mapping
    if m["source"] != "agent":
        raise NotFound(
            f"{m['release_id']} is an imported episode, not a decision record", field="release_id"
        )
    record = DecisionRecord.model_validate_json(m["record_json"])
    if m["result"] is not None:
        record.outcome = OutcomeRecord(
            result=Result(m["result"]),
            notes=m["outcome_notes"],
            recorded_at=datetime.fromisoformat(m["outcome_at"]),
        )
    return record


def heuristic_row(h: Heuristic) -> dict[str, Any]:
    from ..domain.conditions import canonical_key

    now = datetime.now(UTC)
    return {
        "when_json": json.dumps(h.when, sort_keys=True),
        "when_key": canonical_key(h.when),
        "recommendation": h.recommendation.value,
        "confidence": h.confidence,
        "support": h.support,
        "failures": h.failures,
        "successes": h.successes,
        "provenance": h.provenance.value,
        "status": h.status.value,
        "reason": h.reason,
        "created_at": iso(h.created_at or now),
        "last_checked": iso(h.last_checked),
    }


def heuristic_from_row(row: sa.Row[Any]) -> Heuristic:
    m = row._mapping
    return Heuristic(
        id=m["id"],
        when=json.loads(m["when_json"]),
        recommendation=Decision(m["recommendation"]),
        confidence=m["confidence"],
        support=m["support"],
        failures=m["failures"],
        successes=m["successes"],
        provenance=m["provenance"],
        status=m["status"],
        reason=m["reason"],
        created_at=datetime.fromisoformat(m["created_at"]),
        last_checked=datetime.fromisoformat(m["last_checked"]) if m["last_checked"] else None,
    )
