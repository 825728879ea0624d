"""Outcome counts per context cell, kept as outcomes are written.

A cell is one combination of the context attributes' values (a missing value is a value
of its own). ``cell_counts`` holds, per cell, the deploys with an outcome and how many
of them failed: exactly what ``SELECT <attributes>, count(*), sum(failed) FROM episodes
WHERE result IS NOT NULL GROUP BY <attributes>`` would give, without reading the
episodes (less the ``not_deployed`` outcomes, which are no evidence: :mod:`.evidence`).
Every write of an outcome adds its change to its cell in the same transaction
(:func:`add`), so a learning run reads a table as long as the number of cells, not of
episodes. :func:`rebuild` recomputes the table from the episodes.

The columns follow the attribute registry; a new attribute's column is added to this
table as to ``episodes`` (:func:`release_agent.memory.migrations.add_attribute_columns`),
missing in the cells counted before it, as it is in their episodes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.attributes import BY_NAME, Kind
from ..stats.cells import CELL_ATTRIBUTES, Cells
from . import ageing, evidence, schema


@dataclass(frozen=True)
class Change:
    """What one write adds to the cell of ``attributes`` (negative to take away)."""

    attributes: Mapping[str, Any]
    deployed: int
    failures: int
    at: datetime | None = None
    """When the deploy was (its weight as evidence ages with it; see :mod:`.ageing`)."""


def plain(name: str, value: Any) -> Any:
    """A stored attribute value as Python compares it: a flag as a bool, an hour as an
    int, anything else as text; None stays None."""
    if value is None:
        return None
    kind = BY_NAME[name].kind
    if kind is Kind.flag:
        return bool(value)
    if kind is Kind.hour:
        return int(value)
    return str(value)


def values_of(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The cell's attribute values, every attribute of the registry, plain."""
    return {name: plain(name, attributes.get(name)) for name in CELL_ATTRIBUTES}


def cell_key(values: Mapping[str, Any]) -> str:
    """The cell's digest: the same for the same values, whatever their order, and the
    same once a later attribute is added (a missing value is left out of it)."""
    present = {name: value for name, value in values.items() if value is not None}
    text = json.dumps(present, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def of_outcome(row: Mapping[str, Any], failed: int, sign: int = 1) -> Change:
    """The change an outcome of an episode ``row`` makes: one deploy (``sign`` -1 takes
    one away), ``failed`` 1 or 0."""
    at = row.get("deploy_at")
    if isinstance(at, str):  # an episode row about to be inserted holds its text
        at = datetime.fromisoformat(at)
    return Change(row, sign, sign * failed, at)


def add(conn: sa.Connection, changes: Iterable[Change]) -> int:
    """Add ``changes`` to their cells inside the caller's transaction; returns how many
    cells changed. Changes to one cell are summed first, and cells are written in key
    order, so that two transactions lock shared cells in the same order."""
    summed: dict[str, list[Any]] = {}
    weighed: list[tuple[str, datetime | None, int, int]] = []
    for change in changes:
        values = values_of(change.attributes)
        key = cell_key(values)
        weighed.append((key, change.at, change.deployed, change.failures))
        entry = summed.setdefault(key, [values, 0, 0])
        entry[1] += change.deployed
        entry[2] += change.failures
    rows = [
        {"cell": key, **values, "deployed": deployed, "failures": failures}
        for key, (values, deployed, failures) in sorted(summed.items())
        if deployed or failures
    ]
    if rows:
        _upsert(conn, schema.cell_counts, rows)
    weights = ageing.weighed(conn, weighed)
    if weights:
        _upsert(conn, schema.cell_weights, weights)
    return len(rows)


def _upsert(conn: sa.Connection, t: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Add the rows' ``deployed`` and ``failures`` to those of their ``cell`` in ``t``
    (``cell_counts`` or ``cell_weights``), inserting the cells not there yet."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert(t) if dialect == "sqlite" else postgresql.insert(t)
        statement = insert.on_conflict_do_update(
            index_elements=[t.c.cell],
            set_={
                "deployed": t.c.deployed + insert.excluded.deployed,
                "failures": t.c.failures + insert.excluded.failures,
            },
        )
        conn.execute(statement, rows)
        return
    # Any other database: update, else insert (the transaction holds what it read).
    for row in rows:
        updated = conn.execute(
            t.update()
            .where(t.c.cell == row["cell"])
            .values(
                deployed=t.c.deployed + row["deployed"],
                failures=t.c.failures + row["failures"],
            )
        )
        if not updated.rowcount:
            conn.execute(t.insert().values(**row))


def read(conn: sa.Connection) -> Cells:
    """Every cell with a deploy, in the order of its attribute values (missing first),
    the order a GROUP BY over the episodes would give on SQLite, on every backend."""
    t, w = schema.cell_counts, schema.cell_weights
    columns = [t.c[name] for name in CELL_ATTRIBUTES]
    query = (
        sa.select(*columns, t.c.deployed, t.c.failures, w.c.deployed, w.c.failures)
        .select_from(t.outerjoin(w, w.c.cell == t.c.cell))
        .where(t.c.deployed > 0)
        .order_by(*(c.asc().nulls_first() for c in columns))
    )
    width = len(CELL_ATTRIBUTES)
    rows = [
        # a cell counted before its weights were (never after m011): full weight
        (
            *row[: width + 2],
            row[width] if row[width + 2] is None else row[width + 2],
            row[width + 1] if row[width + 3] is None else row[width + 3],
        )
        for row in conn.execute(query).all()
    ]
    return Cells.from_rows(rows)


def rebuild(conn: sa.Connection) -> int:
    """Recount every cell from the episodes, and weigh it again (:mod:`.ageing`), inside
    the caller's transaction; returns the number of cells. For a database whose counts
    were written by other means."""
    count = rebuild_counts(conn)
    _, half_life = ageing.clock(conn, lock="update")
    ageing.rebuild(conn, half_life, key_of)
    return count


def key_of(attributes: Mapping[str, Any]) -> str:
    """The cell key of an episode's attributes."""
    return cell_key(values_of(attributes))


def rebuild_counts(conn: sa.Connection) -> int:
    """Recount every cell's plain counts from the episodes inside the caller's
    transaction; returns the number of cells."""
    e, t = schema.episodes, schema.cell_counts
    columns = [e.c[name] for name in CELL_ATTRIBUTES]
    query = (
        sa.select(*columns, sa.func.count(), sa.func.coalesce(sa.func.sum(e.c.failed), 0))
        .where(evidence.counted(e))
        .group_by(*columns)
    )
    conn.execute(t.delete())
    rows: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query):
        values = values_of(dict(zip(CELL_ATTRIBUTES, row[: len(CELL_ATTRIBUTES)], strict=True)))
        key = cell_key(values)
        deployed, failures = int(row[-2]), int(row[-1])
        # Two groups can only share a key if the database told apart values Python does
        # not (a flag stored as 1 and as true); count them as one cell.
        kept = rows.setdefault(key, {"cell": key, **values, "deployed": 0, "failures": 0})
        kept["deployed"] += deployed
        kept["failures"] += failures
    ordered = [rows[key] for key in sorted(rows)]
    for start in range(0, len(ordered), 5000):
        conn.execute(t.insert(), ordered[start : start + 5000])
    return len(ordered)


def totals(conn: sa.Connection) -> tuple[int, int]:
    """(deploys with an outcome, failures) over every cell."""
    t = schema.cell_counts
    row = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(t.c.deployed), 0),
            sa.func.coalesce(sa.func.sum(t.c.failures), 0),
        )
    ).one()
    return int(row[0]), int(row[1])
