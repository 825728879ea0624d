"""Synthetic deploy histories, generated in bulk and inserted straight into the store.

A history is drawn from a small world: services, environments, feature risk,
criticality, a uniformly random hour of the week and a clash rate. Every deployed
episode fails with ``base_rate``, or with the rate of the first planted pattern whose
``when`` matches it. The derived flags (weekend, Friday afternoon, out of hours) follow
:mod:`release_agent.decide.context` with the default settings, so stored episodes look
exactly like the ones the agent writes. Some episodes are NO_GO (never deployed, no
outcome) and some GO are still pending: neither is evidence.

Used by the learning tests and by ``bench/bench_mining.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from release_agent.domain.conditions import matches
from release_agent.domain.models import DAYS, Level, Result
from release_agent.domain.policy import DecisionSettings
from release_agent.memory import cells, schema
from release_agent.memory.store import Store
from release_agent.stats.cells import CELL_ATTRIBUTES

LEVELS = tuple(level.value for level in Level)
CHUNK = 50_000


_PRODUCTION = DecisionSettings()


@dataclass(frozen=True)
class Planted:
    """Deploys matching ``when`` fail with probability ``rate``."""

    when: Mapping[str, Any]
    rate: float


@dataclass(frozen=True)
class World:
    services: Sequence[str] = ("payments", "search", "checkout", "accounts", "catalog")
    envs: Sequence[str] = ("prod", "prod", "prod", "staging")
    base_rate: float = 0.05
    clash_rate: float = 0.1
    no_go_share: float = 0.08
    pending_share: float = 0.04
    planted: Sequence[Planted] = field(default_factory=tuple)
    teams: Sequence[str] = ("default",)
    """The teams the episodes belong to (drawn at random only when there are several, so
    a world of one team draws the same history as before teams)."""


def _mask(when: Mapping[str, Any], columns: Mapping[str, np.ndarray]) -> np.ndarray:
    size = len(next(iter(columns.values())))
    mask = np.ones(size, dtype=bool)
    for name, expected in when.items():
        column = columns[name]
        if isinstance(expected, Mapping):
            low, high = expected["from"], expected["to"]
            if low <= high:
                mask &= (column >= low) & (column <= high)
            else:
                mask &= (column >= low) | (column <= high)
        elif isinstance(expected, list):
            mask &= np.isin(column, expected)
        else:
            mask &= column == expected
    return mask


def generate(world: World, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``count`` episodes as column arrays (the episodes table's context columns plus
    ``decision``, ``result`` and ``failed``; ``result`` is None where not deployed)."""
    rng = np.random.default_rng(seed)
    services = np.array(world.services, dtype=object)
    envs = np.array(world.envs, dtype=object)
    levels = np.array(LEVELS, dtype=object)
    days = np.array([d.value for d in DAYS], dtype=object)
    day_index = rng.integers(0, 7, count)
    hour = rng.integers(0, 24, count)
    columns: dict[str, np.ndarray] = {
        "service": services[rng.integers(0, len(services), count)],
        "env": envs[rng.integers(0, len(envs), count)],
        "feature_risk": levels[rng.integers(0, 3, count)],
        "service_criticality": levels[rng.integers(0, 3, count)],
        "day_of_week": days[day_index],
        "hour_of_day": hour,
        "clash": rng.random(count) < world.clash_rate,
        "weekend": day_index >= 5,
        "friday_afternoon": (day_index == 4) & (hour >= 12),
        "out_of_hours": (hour < 8) | (hour >= 18),
    }
    # by the default production patterns, as a decision under a default policy stores it
    columns["production"] = np.array([_PRODUCTION.is_production(e) for e in columns["env"]])
    teams = np.array(world.teams, dtype=object)
    columns["team"] = (
        teams[rng.integers(0, len(teams), count)]
        if len(teams) > 1
        else np.full(count, teams[0], dtype=object)
    )
    rate = np.full(count, world.base_rate)
    assigned = np.zeros(count, dtype=bool)
    for planted in world.planted:
        hit = _mask(planted.when, columns) & ~assigned
        rate[hit] = planted.rate
        assigned |= hit
    failed = rng.random(count) < rate
    draw = rng.random(count)
    no_go = draw < world.no_go_share
    pending = ~no_go & (draw < world.no_go_share + world.pending_share)
    deployed = ~no_go & ~pending
    failures = np.array([r.value for r in Result if r.failed], dtype=object)
    result = np.where(failed, failures[rng.integers(0, len(failures), count)], "success")
    result = np.where(deployed, result, np.full(count, None, dtype=object))
    columns["decision"] = np.where(no_go, "NO_GO", "GO").astype(object)
    columns["result"] = result
    columns["failed"] = np.where(deployed, failed.astype(int), -1)
    return columns


def only(columns: Mapping[str, np.ndarray], when: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The generated episodes that match ``when``."""
    mask = _mask(when, columns)
    return {name: column[mask] for name, column in columns.items()}


def rows(columns: Mapping[str, np.ndarray], start: int = 0, prefix: str = "syn") -> Iterator[dict]:
    """The episodes table's rows for generated columns, ids from ``start``."""
    size = len(columns["decision"])
    plain = {name: column.tolist() for name, column in columns.items() if name not in ("failed",)}
    failed = columns["failed"].tolist()
    for i in range(size):
        row = {name: plain[name][i] for name in plain}
        row["failed"] = None if failed[i] < 0 else failed[i]
        row["release_id"] = f"{prefix}-{start + i}"
        row["created_at"] = f"2026-01-01T00:00:00.{(start + i) % 1_000_000:06d}+00:00"
        row["source"] = "imported"
        row["record_json"] = "{}"
        row["outcome_at"] = row["created_at"] if row["result"] is not None else None
        yield row


def insert(store: Store, columns: Mapping[str, np.ndarray], start: int = 0) -> int:
    """Insert generated episodes in chunks of one transaction each; returns how many."""
    statement = schema.episodes.insert()
    batch: list[dict] = []
    total = 0
    for row in rows(columns, start):
        batch.append(row)
        if len(batch) >= CHUNK:
            total += _flush(store, statement, batch)
            batch = []
    if batch:
        total += _flush(store, statement, batch)
    return total


def _flush(store: Store, statement: sa.Insert, batch: list[dict]) -> int:
    """Insert ``batch`` and count its outcomes into their cells, as the store does for
    the episodes it writes, in one transaction."""
    counted: Counter[tuple[Any, ...]] = Counter()
    failed: Counter[tuple[Any, ...]] = Counter()
    for row in batch:
        if row["result"] is not None:
            key = tuple(row[name] for name in CELL_ATTRIBUTES)
            counted[key] += 1
            failed[key] += row["failed"]
    changes = [
        cells.Change(dict(zip(CELL_ATTRIBUTES, key, strict=True)), n, failed[key])
        for key, n in counted.items()
    ]
    with store.transaction() as conn:
        conn.execute(statement, batch)
        cells.add(conn, changes)
    return len(batch)


def populate(store: Store, world: World, count: int, seed: int = 0, start: int = 0) -> int:
    """Generate ``count`` episodes of ``world`` and insert them into ``store``."""
    return insert(store, generate(world, count, seed), start)


def direct_count(store: Store, when: Mapping[str, Any]) -> tuple[int, int]:
    """(deployed, failures) of the stored episodes matching ``when``, counted in Python
    over every row (the reference the aggregate counts are tested against)."""
    deployed = failures = 0
    for row in store.list_episodes(limit=0):
        if row.result is not None and matches(when, row.attributes):
            deployed += 1
            failures += int(Result(row.result).failed)
    return deployed, failures
