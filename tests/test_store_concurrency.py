"""Several processes on one database: writers wait for each other instead of failing
('database is locked' on SQLite), and any number may open a blank database at once (the
migrations take a lock).

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable

import sqlalchemy as sa

from release_agent.memory import migrations, schema_v1
from release_agent.memory.store import Store


def test_concurrent_writers_wait_for_each_other(database_url: str) -> None:
    db = database_url
    Store.open(db).close()
    worker = textwrap.dedent(
        f"""
        from datetime import datetime, timedelta
        from release_agent.agent import Agent
        from release_agent.memory.store import Store
        from release_agent.domain.models import Level, ReleaseRequest, Result
        agent = Agent(Store.open({db!r}))
        base = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
        for i in range(15):
            r = agent.decide(ReleaseRequest(service="s", feature_risk=Level.LOW,
                service_criticality=Level.LOW, at=base + timedelta(days=7 * i)))
            agent.record_outcome(r.release_id, Result.success)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", worker], stderr=subprocess.PIPE) for _ in range(4)
    ]
    errors = [p.communicate(timeout=240)[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    store = Store.open(db)
    assert store.count_decisions() == 60
    assert store.count_outcomes() == 60
    assert store.outcome_cells().totals == (60, 0)
    store.close()


OPENER = textwrap.dedent(
    """
    import sys
    from release_agent.memory.store import Store

    sys.stdin.readline()  # every process opens at the same moment
    Store.open(sys.argv[1]).close()
    """
)


def test_any_number_of_processes_may_open_a_blank_database_at_once(
    fresh_database: Callable[[], str],
) -> None:
    """Before, 4 processes opening a blank PostgreSQL database failed in 6 of 12 tries
    (DuplicateTable, UniqueViolation on schema_migrations): migrations took no lock."""
    for _ in range(3):
        url = fresh_database()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, url],
                stdin=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        errors = [p.communicate(timeout=240)[1] for p in procs]
        assert all(p.returncode == 0 for p in procs), errors

        store = Store.open(url)
        with store.engine.connect() as conn:
            versions = conn.execute(sa.select(schema_v1.schema_migrations.c.version)).scalars()
            assert sorted(versions) == [v for v, _, _ in migrations.MIGRATIONS]
        store.close()
