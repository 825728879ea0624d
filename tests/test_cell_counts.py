"""Outcome counts per context cell, kept as outcomes are written: always what a GROUP BY
over the episodes gives, whatever sequence of decisions, outcomes, replaced outcomes,
refusals and imports wrote them.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import World, direct_count, populate
from release_agent.agent import Agent
from release_agent.domain.errors import Conflict, NotFound
from release_agent.domain.models import Level, ReleaseRequest, Result
from release_agent.learn.imports import import_memory
from release_agent.memory import cells, migrations, schema
from release_agent.memory.store import Store
from release_agent.stats.cells import CELL_ATTRIBUTES

MONDAY = datetime.fromisoformat("2026-11-23T09:00:00+01:00")


def grouped(store: Store) -> dict[tuple[Any, ...], tuple[int, int]]:
    """The counts a GROUP BY over the episodes gives: the reference (a not_deployed
    outcome is no deploy, so no evidence)."""
    e = schema.episodes
    columns = [e.c[name] for name in CELL_ATTRIBUTES]
    query = (
        sa.select(*columns, sa.func.count(), sa.func.sum(e.c.failed))
        .where(e.c.result.is_not(None), e.c.result != "not_deployed")
        .group_by(*columns)
    )
    with store.engine.connect() as conn:
        return {
            tuple(cells.plain(n, v) for n, v in zip(CELL_ATTRIBUTES, row[:-2], strict=True)): (
                int(row[-2]),
                int(row[-1]),
            )
            for row in conn.execute(query)
        }


def kept(store: Store) -> dict[tuple[Any, ...], tuple[int, int]]:
    """The counts the store keeps (cells without a deploy left out)."""
    found = store.outcome_cells()
    return {
        tuple(found.attributes(i)[name] for name in CELL_ATTRIBUTES): (
            int(found.deployed[i]),
            int(found.failures[i]),
        )
        for i in range(len(found))
    }


def request(i: int, service: str, risk: Level, clash: bool) -> ReleaseRequest:
    return ReleaseRequest(
        service=service,
        feature_risk=risk,
        service_criticality=Level.MEDIUM,
        at=MONDAY + timedelta(hours=13 * i),
        clashes=["shared-db"] if clash else [],
    )


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("decide"),
            st.sampled_from(["search", "payments"]),
            st.sampled_from(list(Level)),
            st.booleans(),
            st.sampled_from(list(Result)) | st.none(),
        ),
        st.tuples(st.just("replace"), st.integers(0, 50), st.sampled_from(list(Result))),
        st.tuples(st.just("again"), st.integers(0, 50), st.sampled_from(list(Result))),
        st.tuples(st.just("import"), st.integers(0, 3), st.sampled_from(["SUCCESS", "FAILURE"])),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(operations)
def test_the_kept_counts_always_equal_a_group_by_over_the_episodes(
    fresh_database: Callable[[], str], steps: list[tuple[Any, ...]]
) -> None:
    store = Store.open(fresh_database())
    agent = Agent(store)
    decided: list[str] = []
    for i, step in enumerate(steps):
        if step[0] == "decide":
            _, service, risk, clash, result = step
            record = agent.decide(request(i, service, risk, clash))
            decided.append(record.release_id)
            if result is not None:
                agent.record_outcome(record.release_id, result)
        elif step[0] in ("replace", "again") and decided:
            release_id = decided[step[1] % len(decided)]
            with contextlib.suppress(Conflict):  # refused: nothing may change
                agent.record_outcome(release_id, step[2], replace=step[0] == "replace")
        elif step[0] == "import":
            episode = {
                "release_id": f"imported-{i}",
                "context": {"service": "search", "day_of_week": "MON", "hour_of_day": step[1]},
                "decision": "GO",
                "outcome": step[2],
                "timestamp": "2026-01-12T01:45:00Z",
            }
            import_memory(store, [episode, episode | {"release_id": f"aborted-{i}"}])
            import_memory(store, [episode])  # again: skipped, counted once

    assert kept(store) == grouped(store)
    store.close()


def test_an_outcome_counts_in_the_cell_of_the_context_it_deploys_in(store: Store) -> None:
    agent = Agent(store)
    record = agent.decide(request(0, "search", Level.LOW, clash=False))

    agent.record_outcome(record.release_id, Result.incident)

    assert store.outcome_cells().count({"service": "search"}) == (1, 1)
    assert store.outcome_cells().count({"service": "search", "clash": False}) == (1, 1)
    agent.record_outcome(record.release_id, Result.success, replace=True)
    assert store.outcome_cells().count({"service": "search"}) == (1, 0)


def test_a_refused_outcome_changes_no_count(store: Store) -> None:
    agent = Agent(store)
    record = agent.decide(request(0, "search", Level.LOW, clash=False))
    agent.record_outcome(record.release_id, Result.success)

    with pytest.raises(Conflict):
        agent.record_outcome(record.release_id, Result.incident)
    with pytest.raises(NotFound):
        agent.record_outcome("no-such-release", Result.incident)

    assert kept(store) == grouped(store)
    assert store.outcome_cells().totals == (1, 0)


def test_rebuild_recounts_a_table_changed_around_the_store(store: Store) -> None:
    populate(store, World(), 2000, seed=5)
    with store.engine.begin() as conn:
        conn.execute(schema.cell_counts.update().values(deployed=7, failures=7))
        conn.execute(
            schema.episodes.update().where(schema.episodes.c.id % 3 == 0).values(result=None)
        )
    assert kept(store) != grouped(store)

    count = store.rebuild_cell_counts()

    assert kept(store) == grouped(store)
    assert count == len(grouped(store))
    assert store.outcome_cells().count({"service": "search"}) == direct_count(
        store, {"service": "search"}
    )


def test_a_missing_attribute_column_is_added_to_the_counts_as_to_the_episodes(
    store: Store, sqlite_only: None
) -> None:
    """A registry attribute the stored tables lack gets a nullable column in both (here
    one removed by hand stands for one added to the registry)."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE cell_counts DROP COLUMN out_of_hours"))

    with store.engine.begin() as conn:
        added = migrations.add_attribute_columns(conn, "cell_counts")

    assert added == ["out_of_hours"]
    with store.engine.connect() as conn:
        names = {c["name"] for c in sa.inspect(conn).get_columns("cell_counts")}
    assert set(CELL_ATTRIBUTES) <= names


def test_a_cell_key_ignores_order_and_missing_values() -> None:
    a = cells.values_of({"service": "x", "clash": 1, "hour_of_day": "7"})
    b = cells.values_of({"hour_of_day": 7, "clash": True, "service": "x", "env": None})

    assert a == b
    assert cells.cell_key(a) == cells.cell_key(b)
    assert cells.cell_key(a) != cells.cell_key(cells.values_of({"service": "x"}))
