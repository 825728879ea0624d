"""`release-agent memory rebuild-counts`: a cell_counts table corrupted around the store is
repaired to what the episodes say, and the command says how many cells it counted.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from factories import World, direct_count, populate
from release_agent.cli import main
from release_agent.memory import schema
from release_agent.memory.store import Store
from test_cell_counts import grouped, kept


def test_rebuild_counts_repairs_a_corrupted_table(store: Store, database_url: str) -> None:
    populate(store, World(), 1500, seed=11)
    truth = grouped(store)
    with store.engine.begin() as conn:
        conn.execute(schema.cell_counts.update().values(deployed=3, failures=5))
        some = conn.execute(sa.select(schema.cell_counts.c.cell).limit(4)).scalars().all()
        conn.execute(schema.cell_counts.delete().where(schema.cell_counts.c.cell.in_(some)))
    assert kept(store) != truth

    result = CliRunner().invoke(main, ["memory", "rebuild-counts", "--db", database_url])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"rebuilt the cell counts: {len(truth)} cells from {store.count_outcomes()} outcomes"
    )
    assert kept(store) == truth
    assert store.outcome_cells().count({"service": "payments"}) == direct_count(
        store, {"service": "payments"}
    )


def test_rebuild_counts_answers_json(store: Store, database_url: str) -> None:
    populate(store, World(), 300, seed=12)
    with store.engine.begin() as conn:
        conn.execute(schema.cell_counts.delete())

    result = CliRunner().invoke(main, ["memory", "rebuild-counts", "--json", "--db", database_url])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "cells": len(grouped(store)),
        "outcomes": store.count_outcomes(),
    }
    assert kept(store) == grouped(store)


def test_rebuild_counts_on_an_empty_memory_counts_none(database_url: str) -> None:
    result = CliRunner().invoke(main, ["memory", "rebuild-counts", "--db", database_url])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "rebuilt the cell counts: 0 cells from 0 outcomes"
