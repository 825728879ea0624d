"""The store: one interface over SQLAlchemy Core, SQLite by default, PostgreSQL by a URL.

Every write runs in one transaction; SQLite runs in WAL mode with ``synchronous=FULL``,
so a write that returned has reached the disk and survives a crash of the process or
the machine. A write of an outcome updates its cell's counts (:mod:`.cells`) in the same
transaction. PostgreSQL connections are checked before use, so a restarted server costs
no failed request. No error message names the database's password.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ..domain.attributes import ATTRIBUTES, Kind
from ..domain.calendar import Booking, FreedReason, SlotGuard
from ..domain.episodes import Episode
from ..domain.errors import Conflict, InvalidInput, NotFound, StoreError
from ..domain.models import (
    DEFAULT_TEAM,
    MAX_NOTES,
    Context,
    Decision,
    DecisionRecord,
    Heuristic,
    HeuristicStatus,
    OutcomeRecord,
    Result,
)
from ..domain.overrides import OverrideEntry
from ..domain.shadow import ShadowReport
from ..stats.cells import CELL_ATTRIBUTES, Cells
from ..stats.knowledge import Knowledge
from ..stats.risk_model import RiskModel
from . import ageing, bookings, cells, evidence, overrides, refs, schema, shadow
from . import knowledge as snapshots
from .episodes import episode_of
from .lease import learner_lock
from .migrations import WRITE, migrate, writing
from .rows import episode_row, heuristic_from_row, heuristic_row, record_from_row
from .types import iso
from .urls import normalize, scrub, shown

__all__ = [
    "Store",
    "default_url",
    "episode_row",
    "heuristic_from_row",
    "heuristic_row",
    "iso",
    "record_from_row",
]


def default_url() -> str:
    """``RELEASE_AGENT_DB``, else an SQLite file in the user's data directory."""
    configured = os.environ.get("RELEASE_AGENT_DB")
    if configured:
        return configured
    path = Path(platformdirs.user_data_dir("release-agent")) / "release-agent.db"
    return f"sqlite:///{path}"


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


@dataclass(frozen=True)
class Recent:
    """The contexts of recent decisions and the days they span."""

    contexts: list[dict[str, Any]]
    days: float


class Store:
    """Decisions, outcomes, cell counts, heuristics and knowledge snapshots of one
    database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._held = threading.local()

    @classmethod
    def open(cls, url: str | None = None, *, durable: bool = True) -> Store:
        """Open (creating and migrating if needed) the database at ``url``.

        ``durable=False`` is for throwaway memories such as a simulation's: SQLite then
        does not wait for the disk at each commit, so a crash may lose recent writes.
        Raises InvalidInput for a URL SQLAlchemy cannot use, StoreError if it fails.
        """
        url = url or default_url()
        try:
            parsed = normalize(sa.engine.make_url(url))
        except (sa.exc.ArgumentError, ValueError):
            raise InvalidInput(
                f"{shown(url)!r} is not a database URL such as sqlite:///path/to/file.db "
                "or postgresql://user@host/dbname",
                field="db",
            ) from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {}
        if parsed.get_backend_name() != "sqlite":
            # A server may have restarted since a pooled connection was opened: check
            # each one before use, so that no request fails on a dead connection.
            options["pool_pre_ping"] = True
        try:
            engine = sa.create_engine(parsed, **options)
        except sa.exc.NoSuchModuleError:
            raise InvalidInput(
                f"{parsed.drivername!r} is not a database SQLAlchemy knows; use a URL such "
                "as sqlite:///path/to/file.db or postgresql://user@host/dbname",
                field="db",
            ) from None
        except ImportError as error:
            hint = (
                "pip install 'release-agent[postgres]'"
                if parsed.get_backend_name() == "postgresql"
                else f"pip install {error.name}"
            )
            raise InvalidInput(
                f"the driver for {parsed.drivername!r} is not installed ({error.name}); "
                f"install it: {hint}",
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
            engine.dispose()
            raise StoreError(
                f"cannot open database {shown(parsed)}: {scrub(str(error), parsed)}"
            ) from None
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
            raise StoreError(
                f"database write failed: {scrub(str(error), self.engine.url)}"
            ) from None

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        """A connection to read with: the one :meth:`shared_reads` holds in this thread,
        else one of its own for the block."""
        held: sa.Connection | None = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as error:
            raise StoreError(
                f"database read failed: {scrub(str(error), self.engine.url)}"
            ) from None

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Every read of this thread in the block goes through one connection: one
        taken from the pool (and checked, on PostgreSQL) instead of one per read; on
        SQLite they also read one snapshot. Writes are not affected: a transaction has a
        connection of its own."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with self.reading() as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    # -- decisions -----------------------------------------------------------------

    def save_decision(
        self,
        record: DecisionRecord,
        deploy: Context,
        conn: sa.Connection | None = None,
        *,
        supersedes: str | None = None,
        frees: Sequence[str] = (),
        book: bool = True,
        guard: SlotGuard | None = None,
    ) -> None:
        """Store a decision with the context it would deploy in.

        A decision with a ref replaces ``supersedes``, the live decision of its ref (None
        for the first): raises RefTaken, writing nothing, when another decision of the ref
        was stored in between (see :mod:`.refs`).

        In the same transaction, the change calendar frees the bookings the decision
        supersedes (``frees``, and every open booking of its ref) and, with ``book``, a
        GO or DELAY that is not a shadow books its slot (see :mod:`.bookings`). With
        ``guard``, the slot is checked first under the environment's lock: raises
        SlotTaken, writing nothing, when a clashing booking appeared that the decision
        did not see. ``conn``: inside the caller's write transaction (such as
        :meth:`calendar_locked`'s)."""
        row = episode_row(record, deploy)
        ref = record.request.ref

        def calendar(tx: sa.Connection) -> None:
            bookings.on_decision(tx, record, deploy.at, frees=frees, book=book, guard=guard)

        if ref is not None:
            self._save_with_ref(row, ref, supersedes, calendar, conn)
            return
        if conn is not None:
            conn.execute(schema.episodes.insert().values(**row))
            calendar(conn)
            return
        with self.transaction() as tx:
            tx.execute(schema.episodes.insert().values(**row))
            calendar(tx)

    def _save_with_ref(
        self,
        row: dict[str, Any],
        ref: str,
        supersedes: str | None,
        then: Callable[[sa.Connection], None] | None = None,
        outer: sa.Connection | None = None,
    ) -> None:
        if outer is not None:
            # Inside the caller's transaction: a savepoint keeps it usable after the
            # unique index refuses the row (PostgreSQL aborts a transaction otherwise).
            try:
                with outer.begin_nested():
                    refs.store_with_ref(outer, row, ref, supersedes)
            except sa.exc.IntegrityError:
                raise refs.RefTaken(refs.live_id(outer, ref) or "") from None
            if then is not None:
                then(outer)
            return
        try:
            with writing(self.engine) as conn:
                refs.store_with_ref(conn, row, ref, supersedes)
                if then is not None:
                    then(conn)
        except sa.exc.IntegrityError:
            # PostgreSQL: a concurrent writer stored a live decision of the ref first.
            with self.reading() as conn:
                raise refs.RefTaken(refs.live_id(conn, ref) or "") from None
        except SQLAlchemyError as error:
            raise StoreError(
                f"database write failed: {scrub(str(error), self.engine.url)}"
            ) from None

    def decision_by_ref(self, ref: str) -> DecisionRecord | None:
        """The live decision with ``ref`` (the newest, not superseded), or None."""
        with self.reading() as conn:
            release_id = refs.live_id(conn, ref)
        return None if release_id is None else self.get_decision(release_id)

    def resolve_id(self, text: str) -> str:
        """The release id that ``text`` names: the id, or a unique prefix of at least
        six characters. Raises NotFound, or AmbiguousId (a NotFound) saying how many
        decisions the prefix starts."""
        with self.reading() as conn:
            return refs.resolve(conn, text)

    def insert_episodes(self, rows: Sequence[dict[str, Any]], conn: sa.Connection) -> int:
        """Insert episode rows (from :func:`.seedformat.parse`) inside the transaction
        ``conn``, skipping those whose release id is stored already, and count their
        outcomes into their cells; returns how many were added."""
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
        # An episode of a file that names no team is the default team's.
        fresh = [
            r if r.get("team") else {**r, "team": DEFAULT_TEAM}
            for r in rows
            if r["release_id"] not in existing
        ]
        if fresh:
            conn.execute(e.insert(), fresh)
            cells.add(
                conn,
                (
                    cells.of_outcome(r, int(r["failed"] or 0))
                    for r in fresh
                    if evidence.counts(r.get("result"))
                ),
            )
        return len(fresh)

    def get_decision(self, release_id: str) -> DecisionRecord:
        """The decision ``release_id`` names (the id or a unique prefix, see
        :meth:`resolve_id`)."""
        with self.reading() as conn:
            release_id = refs.resolve(conn, release_id)
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
        ref: str | None = None,
        team: str | None = None,
    ) -> list[DecisionRecord]:
        """Decisions made by the agent, newest first; ``limit`` 0 means all.

        ``before`` is a release id: only decisions made before it are listed (paging).
        ``ref``: only the decisions of that ref, superseded ones too. ``team``: only that
        team's.
        """
        e = schema.episodes
        query = sa.select(e).where(e.c.source == "agent").order_by(e.c.id.desc())
        if team:
            query = query.where(e.c.team == team)
        if ref:
            query = query.where(e.c.ref == ref)
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

    def list_episodes(self, limit: int = 50, team: str | None = None) -> list[Episode]:
        """Every episode (imported ones too), newest first; ``limit`` 0 means all;
        ``team``: only that team's."""
        query = sa.select(schema.episodes).order_by(schema.episodes.c.id.desc())
        if team:
            query = query.where(schema.episodes.c.team == team)
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

        ``not_deployed`` (the release did not go out) frees its slot in the change
        calendar in the same transaction and counts in no cell: it is no evidence (see
        :mod:`.evidence`). A real outcome replacing it counts, and takes the slot back.
        Like any outcome it is refused on a NO_GO that was not overridden: that holds no
        slot, and deployed nothing already.

        Raises NotFound for an unknown id, Conflict when an outcome is already recorded
        and ``replace`` is false.
        """
        e = schema.episodes
        if notes is not None and len(notes) > MAX_NOTES:
            raise InvalidInput(f"must be at most {MAX_NOTES} characters", field="notes")
        outcome = OutcomeRecord(result=result, notes=notes, recorded_at=at or datetime.now(UTC))
        with self.transaction() as conn:
            release_id = refs.resolve(conn, release_id)
            # FOR UPDATE (PostgreSQL): a concurrent outcome for the same release waits, so
            # it sees this one (a Conflict) and the cell counts change once.
            row = conn.execute(
                sa.select(
                    e.c.id,
                    e.c.result,
                    e.c.failed,
                    e.c.source,
                    e.c.decision,
                    e.c.shadow,
                    e.c.deploy_at,
                    *(e.c[name] for name in CELL_ATTRIBUTES),
                )
                .where(e.c.release_id == release_id)
                .with_for_update()
            ).first()
            if row is None or row.source != "agent":
                # imported episodes come with the outcome their file gave them
                raise NotFound(f"no decision with id {release_id!r}", field="release_id")
            # A shadow decision did not gate anything: the release went out whatever it
            # said, and what happened is evidence like any other deploy.
            if row.decision == Decision.NO_GO.value and not row.shadow:
                raise Conflict(
                    f"decision {release_id} is NO_GO: nothing was deployed. If it went out "
                    f"anyway, record who let it and why first: release-agent override "
                    f"{release_id} --decision GO --by NAME --reason TEXT (the API: POST "
                    f"/api/v1/decisions/{release_id}/override)",
                    field="release_id",
                )
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
                    failed=evidence.failed_column(result),
                    outcome_notes=notes,
                    outcome_at=outcome.recorded_at,
                )
            )
            attributes = dict(row._mapping)
            changes = []
            if result.deployed:
                changes.append(cells.of_outcome(attributes, int(result.failed)))
            if evidence.counts(row.result):
                changes.append(cells.of_outcome(attributes, int(row.failed or 0), sign=-1))
            cells.add(conn, changes)
            bookings.on_outcome(conn, release_id, result, outcome.recorded_at)
        return outcome

    def override(self, release_id: str, change: overrides.Change) -> DecisionRecord:
        """Override the decision ``release_id`` (or a unique prefix): in one transaction,
        ``change`` gets the stored record (it raises to refuse), the episode takes the
        new record and the audit log its entry. Returns the new record."""
        with self.transaction() as conn:
            release_id = refs.resolve(conn, release_id)
            record = overrides.apply(conn, release_id, change)
            bookings.on_override(conn, record)
            return record

    def override_history(
        self, release_id: str | None = None, team: str | None = None
    ) -> list[OverrideEntry]:
        """The audit log of overrides, oldest first: of one decision (its id or a unique
        prefix), or of every one; ``team``: only of that team's decisions."""
        with self.reading() as conn:
            if release_id is not None:
                release_id = refs.resolve(conn, release_id)
            return overrides.history(conn, release_id, team=team)

    def shadow_report(
        self, env: str | None = None, since: datetime | None = None, team: str | None = None
    ) -> ShadowReport:
        """What the shadow decisions (of ``env``, made since ``since``, of ``team``)
        would have done."""
        with self.reading() as conn:
            return shadow.report(conn, env, since, team=team)

    # -- the change calendar ---------------------------------------------------------

    def bookings_around(
        self, env: str, start: datetime, end: datetime, conn: sa.Connection | None = None
    ) -> list[Booking]:
        """The open bookings of ``env`` from ``start`` to ``end`` (what a decision reads);
        ``conn``: inside the caller's transaction."""
        if conn is not None:
            return bookings.around(conn, env, start, end)
        with self.reading() as reader:
            return bookings.around(reader, env, start, end)

    @contextmanager
    def calendar_locked(self, env: str) -> Iterator[sa.Connection]:
        """A write transaction holding the calendar of ``env`` from its start: no other
        decision can book a slot there until it ends, so what it reads of the calendar
        stays true until it writes (PostgreSQL: an advisory lock of the environment;
        SQLite: the one writer's lock, so every other writer waits too). For the last try
        of a decision that kept losing its slot to others; keep it short."""
        with self.transaction() as conn:
            bookings.lock_env(conn, env)
            yield conn

    def calendar(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        env: str | None = None,
        limit: int = bookings.MAX_LISTED,
        team: str | None = None,
    ) -> list[Booking]:
        """The open bookings from ``start`` (inclusive) to ``end`` (exclusive), of ``env``
        or of every environment, of ``team``'s decisions or of every team's, earliest
        first; a freed booking is never listed."""
        with self.reading() as conn:
            return bookings.listing(conn, start, end, env, limit, team=team)

    def cancel_booking(self, release_id: str) -> Booking:
        """Free the slot of ``release_id`` (or a unique prefix): the release did not go
        out. Returns the booking freed. Raises NotFound for an unknown id, Conflict when
        the release holds no slot (a NO_GO, a shadow, or one freed already)."""
        with self.transaction() as conn:
            release_id = refs.resolve(conn, release_id)
            held = bookings.of_release(conn, release_id)
            if held is None:
                raise Conflict(
                    f"decision {release_id} holds no slot in the calendar (a NO_GO or a "
                    "shadow decision books none; a superseded or cancelled one is freed)",
                    field="release_id",
                )
            bookings.free(conn, [release_id], FreedReason.not_deployed)
            return held

    def count_decisions(self, source: str | None = "agent") -> int:
        query = sa.select(sa.func.count()).select_from(schema.episodes)
        if source:
            query = query.where(schema.episodes.c.source == source)
        with self.reading() as conn:
            return int(conn.execute(query).scalar_one())

    def count_outcomes(self) -> int:
        """The outcomes that are evidence (a ``not_deployed`` is none): what the learner
        counts to know when a run is due."""
        e = schema.episodes
        with self.reading() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(e).where(evidence.counted(e))
                ).scalar_one()
            )

    def outcome_cells(self, conn: sa.Connection | None = None) -> Cells:
        """Every deploy with an outcome, counted per context cell: what learning reads
        memory as. Read from the counts kept as outcomes are written, so it costs by the
        number of cells, not of episodes. ``conn`` reads inside a running transaction (an
        import counts what it has just written)."""
        if conn is not None:
            return cells.read(conn)
        with self.reading() as reader:
            return cells.read(reader)

    def age_evidence(self, half_life_days: float) -> datetime | None:
        """Weigh the evidence at its present with ``half_life_days`` (memory/ageing.py);
        returns the moment it is weighed at."""
        with self.transaction() as conn:
            return ageing.age(conn, half_life_days, cells.key_of)

    def rebuild_cell_counts(self) -> int:
        """Recount every cell from the episodes, in one transaction (writers wait for
        it); returns the number of cells. Needed only when episodes were written around
        the store, e.g. by hand in SQL."""
        with self.transaction() as conn:
            return cells.rebuild(conn)

    def recent_contexts(self, before: datetime, days: float, limit: int = 400) -> Recent:
        """The contexts (registry attributes) of the decisions that would deploy in the
        ``days`` before ``before``, newest first, at most ``limit``, with the days they
        stand for: ``days``, or less when memory began later, or when ``limit`` cut
        them short (then from the oldest of them)."""
        e = schema.episodes
        columns = [e.c[a.name] for a in ATTRIBUTES]
        query = (
            sa.select(e.c.deploy_at, *columns)
            .where(e.c.deploy_at < before)
            .where(e.c.deploy_at >= before - timedelta(days=days))
            .order_by(e.c.deploy_at.desc())
            .limit(limit)
        )
        with self.reading() as conn:
            rows = conn.execute(query).all()
            first = (
                rows[-1][0]
                if len(rows) == limit
                else conn.execute(
                    sa.select(sa.func.min(e.c.deploy_at)).where(e.c.deploy_at < before)
                ).scalar()
            )
        contexts = [
            {a.name: row[i + 1] for i, a in enumerate(ATTRIBUTES) if row[i + 1] is not None}
            for row in rows
        ]
        span = 0.0 if first is None else (before - first).total_seconds() / 86400
        return Recent(contexts, min(days, span))

    def recent_outcomes(self, service: str, before: datetime, hours: float = 24.0) -> list[Episode]:
        """Deploys of ``service`` with a recorded outcome that went out in the ``hours``
        before ``before``, newest first (a ``not_deployed`` went nowhere: left out)."""
        e = schema.episodes
        query = (
            sa.select(e)
            .where(e.c.service == service, evidence.counted(e))
            .where(e.c.deploy_at < before)
            .where(e.c.deploy_at >= before - timedelta(hours=hours))
            .order_by(e.c.deploy_at.desc(), e.c.id.desc())
        )
        with self.reading() as conn:
            return [episode_of(row) for row in conn.execute(query).all()]

    def similar_episodes(self, context: Context, k: int = 3, pool: int = 60) -> list[Episode]:
        """The ``k`` past deploys with outcomes most like ``context`` (newest win ties),
        among the ``pool`` newest that share its service or its feature risk and
        criticality.

        Those are read as the newest ``pool`` of each kind, each from its own index
        (``ix_episodes_recall_*``), and merged: the same rows a scan would find, at a cost
        that does not grow with the history.
        """
        e = schema.episodes
        values = {
            "service": context.service,
            "feature_risk": context.feature_risk.value,
            "service_criticality": context.service_criticality.value,
        }
        with self.reading() as conn:
            found = {row.id: row for row in conn.execute(_recall(pool), values)}
            rows = [found[i] for i in sorted(found, reverse=True)[:pool]]
            target = context.attributes()
            scored = sorted(
                enumerate(rows),
                key=lambda pair: (-_similarity(target, pair[1]), pair[0]),
            )
            kept = [row.id for _, row in scored[:k]]
            if not kept:
                return []
            columns = [c for c in e.c if c.name != "record_json"]
            full = {
                row.id: row for row in conn.execute(sa.select(*columns).where(e.c.id.in_(kept)))
            }
        return [episode_of(full[i]) for i in kept]

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
        """Store a new heuristic; returns its id. Inside a caller's transaction ``conn``
        (learning, an import) the caller publishes the knowledge; alone, the change is
        published at once, so the next decision sees it."""
        statement = schema.heuristics.insert().values(**heuristic_row(heuristic))
        if conn is not None:
            return _new_id(conn.execute(statement))
        with self.transaction() as tx:
            new_id = _new_id(tx.execute(statement))
            self.publish_knowledge(tx, "heuristics")
        return new_id

    def update_heuristic(self, heuristic: Heuristic, conn: sa.Connection | None = None) -> None:
        """Overwrite a stored heuristic (published as :meth:`insert_heuristic` says)."""
        if conn is not None:
            self.update_heuristics([heuristic], conn)
            return
        with self.transaction() as tx:
            self.update_heuristics([heuristic], tx)
            self.publish_knowledge(tx, "heuristics")

    def update_heuristics(self, changed: Sequence[Heuristic], conn: sa.Connection) -> None:
        """Overwrite stored heuristics inside the caller's transaction, in one statement
        (a learning run re-checks every live heuristic)."""
        if any(h.id is None for h in changed):
            raise ValueError("update_heuristics needs stored heuristics")
        if not changed:
            return
        h = schema.heuristics
        statement = (
            h.update()
            .where(h.c.id == sa.bindparam("_id"))
            .values({name: sa.bindparam(name) for name in heuristic_row(changed[0])})
        )
        conn.execute(statement, [{"_id": x.id, **heuristic_row(x)} for x in changed])

    # -- knowledge ------------------------------------------------------------------

    def knowledge(self, known: Knowledge | None = None) -> Knowledge:
        """The newest published knowledge snapshot (the priors when none was published).

        One indexed lookup when ``known`` is the newest (it is returned as it is), so a
        decision may ask every time; a new snapshot's fit is parsed only when it is not
        ``known``'s."""
        with self.reading() as conn:
            return snapshots.load(conn, known)

    def knowledge_version(self) -> int:
        """The newest snapshot's version; 0 when none was published."""
        with self.reading() as conn:
            head = snapshots.newest(conn)
        return int(head.version) if head is not None else 0

    def publish_knowledge(
        self,
        conn: sa.Connection,
        source: str,
        model: RiskModel | None = None,
        outcomes: int | None = None,
    ) -> Knowledge:
        """Publish a snapshot inside the caller's transaction ``conn`` and return it: the
        active heuristics as they are in it, with ``model`` (stored now, fitted with
        ``outcomes``) or, when None, the newest snapshot's model. ``source`` says what
        published it (learn, import, heuristics)."""
        if model is None:
            version = snapshots.publish(conn, source, outcomes=outcomes)
            return snapshots.at(conn, version, {})
        seen = outcomes if outcomes is not None else model.evidence
        model_id = snapshots.save_model(conn, model, seen)
        version = snapshots.publish(conn, source, model_id, seen)
        return snapshots.at(conn, version, {model_id: model})

    @contextmanager
    def learner_lock(self, wait: float = 0.0) -> Iterator[str]:
        """Hold the one learner lock of this database for the block (see :mod:`.lease`);
        yields the holder's name. Raises LearnerBusy when another learner keeps it more
        than ``wait`` seconds, StoreError when the database fails."""
        try:
            with learner_lock(self.engine, wait) as holder:
                yield holder
        except SQLAlchemyError as error:
            raise StoreError(f"database failed: {scrub(str(error), self.engine.url)}") from None


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("the database did not return the new row's id")
    return int(key[0])


@functools.lru_cache(maxsize=8)
def _recall(pool: int) -> sa.CompoundSelect[Any]:
    """The candidates of recall (see Store.similar_episodes), built once: the newest
    ``pool`` deploys with an outcome of the service, and of the feature risk and
    criticality, each part read from its own index, in one statement. Only the columns
    the similarity weighs are read."""
    e = schema.episodes
    kinds = [
        e.c.service == sa.bindparam("service"),
        sa.and_(
            e.c.feature_risk == sa.bindparam("feature_risk"),
            e.c.service_criticality == sa.bindparam("service_criticality"),
        ),
    ]
    columns = [e.c.id, *(e.c[name] for name, _, _ in _SIMILAR)]
    parts = [
        sa.select(*columns)
        # It holds the partial indexes' condition (result IS NOT NULL).
        .where(evidence.counted(e), kind)
        .order_by(e.c.id.desc())
        .limit(pool)
        .subquery()
        for kind in kinds
    ]
    return sa.union_all(*(sa.select(part) for part in parts))


_SIMILAR = tuple((a.name, a.similarity, a.kind is Kind.hour) for a in ATTRIBUTES if a.similarity)
"""The attributes recall weighs, in registry order: name, weight, whether an hour."""


def _similarity(target: dict[str, Any], row: sa.Row[Any]) -> float:
    """How alike a stored episode is to ``target``: the registry's similarity weights of
    the attributes they share; hours count by their distance round the clock. ``row``
    is a row of :func:`_recall`: the id, then the weighed attributes in order."""
    score = 0.0
    values: tuple[Any, ...] = tuple(row)[1:]
    for (name, weight, hour), value in zip(_SIMILAR, values, strict=True):
        if value is None:
            continue
        wanted = target.get(name)
        if hour:
            if wanted is not None:
                gap = abs(int(value) - int(wanted))
                score += weight * (1.0 - min(gap, 24 - gap) / 12.0)
        elif value == wanted:
            score += weight
    return score
