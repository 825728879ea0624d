"""Evidence ages: an outcome weighs less as the deploy it tells about grows old.

Risk moves — a dependency upgrade makes a service fragile, a fix makes it safe again —
and a model that counts a deploy of two years ago like yesterday's notices late, or
never: a kind of release refused on old evidence yields no new outcome to correct it.
So besides the plain counts (``cell_counts``, what heuristics and people are shown),
each cell keeps its deploys and failures *weighed*: a deploy of age ``a`` counts
``2 ** (-a / half_life)`` (``cell_weights``), and the risk model is fitted on those.

The weights are kept at one moment, the evidence clock's ``as_of``: an outcome written
adds its weight at ``as_of`` (so the write stays one upsert, in the same transaction as
the counts), and a learning run moves ``as_of`` to the present of the evidence and
multiplies every weight by the decay in between (:func:`age`), in time proportional to
the number of cells. The present of the evidence is the median deploy time of the
latest :data:`CLOCK_SAMPLE` outcomes recorded, not the wall clock: memory imported from
the past, a simulation, or one release asked about years ahead do not age the rest.

A half-life of 0 keeps every outcome at full weight. The half-life in force is stored
with the clock; a learning run asked for another one recomputes the weights from the
episodes (:func:`rebuild`).

The trade-off, in a world that does not change: fewer effective outcomes, so wider
estimates and more exploration than with everything kept. With a half-life of ``h``
days and ``r`` deploys of a kind a day, about ``1.44 · h · r`` of them count.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..domain.policy import HALF_LIFE_DAYS
from ..stats.cells import CELL_ATTRIBUTES
from . import evidence, schema

DEFAULT_HALF_LIFE_DAYS = HALF_LIFE_DAYS
CLOCK_SAMPLE = 51
MAX_EXPONENT = 60.0
"""Weights of deploys ahead of ``as_of`` are capped at 2**60 until a run moves it."""
CLOCK = 1


def weight(at: datetime | None, as_of: datetime | None, half_life: float) -> float:
    """The weight at ``as_of`` of a deploy at ``at``."""
    if half_life <= 0 or at is None or as_of is None:
        return 1.0
    exponent = (at - as_of).total_seconds() / 86400.0 / half_life
    return float(2.0 ** min(MAX_EXPONENT, exponent))


def clock(conn: sa.Connection, *, lock: str | None = None) -> tuple[datetime | None, float]:
    """(as_of, half-life in days) of the evidence clock; ``lock`` "share" or "update"
    holds its row until the transaction ends (PostgreSQL; SQLite has one writer)."""
    c = schema.evidence_clock
    query = sa.select(c.c.as_of, c.c.half_life_days).where(c.c.id == CLOCK)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock == "update":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return None, DEFAULT_HALF_LIFE_DAYS
    return row.as_of, float(row.half_life_days)


def weighed(
    conn: sa.Connection, changes: Iterable[tuple[str, datetime | None, int, int]]
) -> list[dict[str, Any]]:
    """The rows to add to ``cell_weights`` for (cell key, deploy time, deploys, failures)
    changes, weighed at the clock's ``as_of`` (read inside the caller's transaction);
    deploys -1 takes one away."""
    changes = list(changes)
    if not changes:
        return []
    as_of, half_life = clock(conn, lock="share")
    if as_of is None and half_life > 0:
        times = [at for _, at, _, _ in changes if at is not None]
        if times:
            c = schema.evidence_clock
            conn.execute(
                c.update()
                .where(c.c.id == CLOCK)
                .where(c.c.as_of.is_(None))
                .values(as_of=max(times))
            )
            as_of, half_life = clock(conn, lock="share")
    summed: dict[str, list[float]] = {}
    for key, at, deployed, failures in changes:
        w = weight(at, as_of, half_life)
        entry = summed.setdefault(key, [0.0, 0.0])
        entry[0] += deployed * w
        entry[1] += failures * w
    return [
        {"cell": key, "deployed": d, "failures": f}
        for key, (d, f) in sorted(summed.items())
        if d or f
    ]


def present(conn: sa.Connection) -> datetime | None:
    """The present of the evidence: the median deploy time of the latest outcomes."""
    e = schema.episodes
    times = list(
        conn.execute(
            sa.select(e.c.deploy_at)
            .where(evidence.counted(e))
            .where(e.c.deploy_at.is_not(None))
            .order_by(e.c.id.desc())
            .limit(CLOCK_SAMPLE)
        ).scalars()
    )
    return statistics.median_low(times) if times else None


def age(conn: sa.Connection, half_life: float, key_of: Any) -> datetime | None:
    """Move the clock to the present of the evidence and decay every weight by the time
    in between; with another half-life than the stored one, recompute the weights from
    the episodes instead (``key_of`` maps an episode row to its cell key). Inside the
    caller's transaction; returns the new ``as_of``."""
    as_of, stored = clock(conn, lock="update")  # the clock first, then the cells
    if stored != half_life:
        return rebuild(conn, half_life, key_of)
    now = present(conn)
    if now is None or as_of is None or now == as_of or half_life <= 0:
        if now is not None and as_of is None:
            _set_clock(conn, now, half_life)
        return as_of if now is None else now
    factor = 2.0 ** min(MAX_EXPONENT, (as_of - now).total_seconds() / 86400.0 / half_life)
    t = schema.cell_weights
    conn.execute(t.update().values(deployed=t.c.deployed * factor, failures=t.c.failures * factor))
    _set_clock(conn, now, half_life)
    return now


def _set_clock(conn: sa.Connection, as_of: datetime | None, half_life: float) -> None:
    c = schema.evidence_clock
    updated = conn.execute(
        c.update().where(c.c.id == CLOCK).values(as_of=as_of, half_life_days=half_life)
    )
    if not updated.rowcount:
        conn.execute(c.insert().values(id=CLOCK, as_of=as_of, half_life_days=half_life))


def rebuild(conn: sa.Connection, half_life: float, key_of: Any) -> datetime | None:
    """Recompute every weight from the episodes at the present of the evidence, with
    ``half_life``; inside the caller's transaction. Returns the new ``as_of``."""
    e, t = schema.episodes, schema.cell_weights
    now = present(conn)
    summed: dict[str, list[float]] = {}
    query = sa.select(e.c.deploy_at, e.c.failed, *(e.c[n] for n in CELL_ATTRIBUTES)).where(
        evidence.counted(e)
    )
    for row in conn.execute(query):
        attributes: Mapping[str, Any] = dict(zip(CELL_ATTRIBUTES, row[2:], strict=True))
        w = weight(row[0], now, half_life)
        entry = summed.setdefault(key_of(attributes), [0.0, 0.0])
        entry[0] += w
        entry[1] += int(row[1] or 0) * w
    conn.execute(t.delete())
    rows = [{"cell": k, "deployed": d, "failures": f} for k, (d, f) in sorted(summed.items())]
    for start in range(0, len(rows), 5000):
        conn.execute(t.insert(), rows[start : start + 5000])
    _set_clock(conn, now, half_life)
    return now
