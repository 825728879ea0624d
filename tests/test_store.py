"""The store: migrations, durability settings, decision records, outcomes, listings.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default); the tests about
SQLite itself skip on PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from conftest import create_database, drop_database
from release_agent.agent import Agent
from release_agent.decide.context import evaluate
from release_agent.domain.calendar import CalendarSettings
from release_agent.domain.errors import Conflict, InvalidInput, NotFound, ReleaseAgentError
from release_agent.domain.models import Decision, DecisionRecord, Level, ReleaseRequest, Result
from release_agent.domain.scenarios import SCENARIOS, get
from release_agent.learn.imports import import_memory
from release_agent.memory import migrations, schema, schema_v1
from release_agent.memory.store import Store
from release_agent.memory.urls import normalize
from release_agent.stats.risk_model import RiskModel

ALL_VERSIONS = [(version, name) for version, name, _ in migrations.MIGRATIONS]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db_url(database_url: str) -> str:
    return database_url


def engine_of(url: str) -> sa.Engine:
    """A plain engine (no pragmas, no store) for the URL, with release-agent's driver."""
    return sa.create_engine(normalize(sa.engine.make_url(url)))


@pytest.fixture
def file_store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A fresh database on the backend under test."""
    opened = Store.open(db_url)
    yield opened
    opened.close()


@pytest.fixture
def agent(store: Store) -> Agent:
    return Agent(store)


def versions(store: Store) -> list[tuple[int, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(schema.schema_migrations.c.version, schema.schema_migrations.c.name)
        ).all()
    return [(row.version, row.name) for row in rows]


def tables(store: Store) -> set[str]:
    return set(sa.inspect(store.engine).get_table_names())


# -- opening and migrating ------------------------------------------------------------------


def test_a_blank_database_is_migrated_to_the_latest_version_once(db_url: str) -> None:
    first = Store.open(db_url)

    assert versions(first) == ALL_VERSIONS
    assert {
        "episodes",
        "heuristics",
        "risk_models",
        "schema_migrations",
        "cell_counts",
        "knowledge",
        "learner_lease",
    } <= tables(first)
    assert migrations.migrate(first.engine) == []
    first.close()

    again = Store.open(db_url)
    assert versions(again) == ALL_VERSIONS
    again.close()


def test_migrate_applies_pending_versions_in_order_and_reports_them(db_url: str) -> None:
    engine = engine_of(db_url)

    assert migrations.applied_versions(engine) == set()
    assert migrations.migrate(engine) == [v for v, _ in ALL_VERSIONS]
    assert migrations.applied_versions(engine) == {v for v, _ in ALL_VERSIONS}
    assert migrations.migrate(engine) == []
    engine.dispose()


def test_a_database_at_the_oldest_schema_is_migrated_forward_keeping_its_data(
    db_url: str,
) -> None:
    """A version-1 database (text times and JSON, no counts, no snapshots, a fitted model
    and an active heuristic) opens at the latest version with its data: times and
    documents read back the same (native types on PostgreSQL), its outcomes counted in
    their cells, and its learned knowledge published as the first snapshot."""
    engine = engine_of(db_url)
    with engine.begin() as conn:
        schema_v1.schema_migrations.create(conn)
        migrations.m001_initial(conn)
        conn.execute(
            schema_v1.schema_migrations.insert().values(
                version=1, name="initial", applied_at="2026-01-01T00:00:00+00:00"
            )
        )
        conn.execute(
            schema_v1.episodes.insert(),
            [
                {
                    "release_id": f"old-{i}",
                    "created_at": "2026-01-01T00:00:00.000000+00:00",
                    "source": "imported",
                    "decision": "GO",
                    "record_json": '{"b": 1, "a": [true, null]}',
                    "service": "blog",
                    "result": "incident" if i == 0 else "success",
                    "failed": 1 if i == 0 else 0,
                    "outcome_at": "2026-01-02T03:04:05.000006+00:00",
                }
                for i in range(3)
            ],
        )
        conn.execute(
            schema_v1.risk_models.insert().values(
                fitted_at="2026-01-02T00:00:00+00:00",
                outcomes_seen=3,
                params_json=RiskModel.prior().to_json(),
            )
        )
        conn.execute(
            schema_v1.heuristics.insert().values(
                when_json='{"service": "blog"}',
                when_key="service=blog",
                recommendation="DELAY",
                confidence=0.7,
                provenance="human",
                status="active",
                created_at="2026-01-01T00:00:00+00:00",
            )
        )
    engine.dispose()

    store = Store.open(db_url)

    assert versions(store) == ALL_VERSIONS
    assert store.count_decisions(source="imported") == 3
    [newest, *_] = store.list_episodes()
    assert newest.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert store.outcome_cells().count({"service": "blog"}) == (3, 1)
    snapshot = store.knowledge()
    assert snapshot.version == 1 and snapshot.model_id is not None
    assert [h.when for h in snapshot.heuristics] == [{"service": "blog"}]
    with store.engine.connect() as conn:
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("episodes")}
        columns = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns("episodes")}
        stored = conn.execute(sa.select(schema.episodes.c.record_json)).scalars().first()
    assert {"ix_episodes_source", "ix_episodes_service_deploy"} <= indexes
    assert stored is not None and json.loads(stored) == {"a": [True, None], "b": 1}
    if store.engine.dialect.name == "postgresql":
        assert isinstance(columns["created_at"], postgresql.TIMESTAMP)
        assert columns["created_at"].timezone
        assert isinstance(columns["record_json"], postgresql.JSONB)
    store.close()


def test_the_parent_folder_of_a_file_database_is_created(tmp_path: Path, sqlite_only: None) -> None:
    path = tmp_path / "a" / "b" / "c.db"

    Store.open(sqlite_url(path)).close()

    assert path.exists()


def test_a_failing_migration_leaves_neither_its_changes_nor_its_record(
    file_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = file_store

    def m999_broken(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE half_done (x INTEGER)"))
        raise RuntimeError("the migration failed half way")

    monkeypatch.setattr(
        migrations, "MIGRATIONS", [*migrations.MIGRATIONS, (999, "broken", m999_broken)]
    )

    with pytest.raises(RuntimeError):
        migrations.migrate(store.engine)

    assert versions(store) == ALL_VERSIONS
    assert "half_done" not in tables(store)


def test_a_file_database_runs_in_wal_mode_with_full_sync(
    file_store: Store, sqlite_only: None
) -> None:
    with file_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_every_new_connection_gets_the_pragmas(file_store: Store, sqlite_only: None) -> None:
    file_store.engine.dispose()  # drop pooled connections; the next one is new
    with file_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


@pytest.mark.parametrize("url", ["not a url", "sqlite:/nope", "://"])
def test_a_malformed_url_is_invalid_input_for_db(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Store.open(url)

    assert caught.value.field == "db"
    assert "sqlite:///" in str(caught.value)


def test_an_unknown_dialect_is_invalid_input_for_db() -> None:
    with pytest.raises(InvalidInput) as caught:
        Store.open("nosuchdb://host/name")

    assert caught.value.field == "db"


@pytest.mark.skipif(
    importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 is installed here"
)
def test_a_url_whose_driver_is_missing_is_a_release_agent_error() -> None:
    with pytest.raises(ReleaseAgentError):
        Store.open("postgresql+psycopg2://user@127.0.0.1:1/release_agent")


def test_the_default_database_lives_in_the_data_directory(
    tmp_path: Path, sqlite_only: None
) -> None:
    opened = Store.open()

    assert Path(opened.engine.url.database or "").is_relative_to(tmp_path / "data")
    opened.close()


def test_release_agent_db_names_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_only: None
) -> None:
    path = tmp_path / "chosen.db"
    monkeypatch.setenv("RELEASE_AGENT_DB", sqlite_url(path))

    Store.open().close()

    assert path.exists()


# -- decision records ---------------------------------------------------------------------


def test_decided_records_load_back_equal(agent: Agent, store: Store) -> None:
    records = [agent.decide(scenario.request) for scenario in SCENARIOS]

    assert len({r.release_id for r in records}) == len(SCENARIOS)
    for record in records:
        assert store.get_decision(record.release_id) == record
    assert store.count_decisions() == len(SCENARIOS)


def test_records_survive_closing_and_reopening(db_url: str) -> None:
    first = Store.open(db_url)
    record = Agent(first).decide(get("friday-high-clash").request)
    first.close()

    reopened = Store.open(db_url)
    assert reopened.get_decision(record.release_id) == record
    reopened.close()


def test_an_unknown_release_id_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        store.get_decision("no-such-release")

    assert caught.value.field == "release_id"


def test_an_imported_episode_is_not_a_decision_record(store: Store) -> None:
    episode = {
        "release_id": "imported-one",
        "context": {"feature_risk": "LOW"},
        "decision": "GO",
        "outcome": "SUCCESS",
        "timestamp": "2026-01-12T01:45:00Z",
    }
    import_memory(store, [episode])

    with pytest.raises(NotFound):
        store.get_decision("imported-one")
    assert store.list_decisions(limit=0) == []
    assert store.count_decisions() == 0
    assert store.count_decisions(source=None) == 1


# -- outcomes -------------------------------------------------------------------------------


def test_an_outcome_is_recorded_once(agent: Agent, store: Store) -> None:
    record = agent.decide(get("tuesday-low").request)
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    outcome = store.record_outcome(record.release_id, Result.degraded, "slow pages", at=moment)

    loaded = store.get_decision(record.release_id)
    assert loaded.outcome == outcome
    assert (loaded.outcome.result, loaded.outcome.notes) == (Result.degraded, "slow pages")
    assert loaded.outcome.recorded_at == moment
    assert store.count_outcomes() == 1
    # the rest of the record is unchanged by the outcome
    assert loaded.model_copy(update={"outcome": None}) == record


def test_an_outcome_for_an_unknown_id_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        store.record_outcome("no-such-release", Result.success)

    assert caught.value.field == "release_id"
    assert store.count_outcomes() == 0


def test_a_second_outcome_is_a_conflict_and_changes_nothing(agent: Agent, store: Store) -> None:
    record = agent.decide(get("tuesday-low").request)
    first = store.record_outcome(record.release_id, Result.success, "fine")

    with pytest.raises(Conflict) as caught:
        store.record_outcome(record.release_id, Result.incident, "pager")

    assert caught.value.field == "result"
    assert "replace" in str(caught.value)
    assert store.get_decision(record.release_id).outcome == first


def test_replace_overwrites_an_outcome(agent: Agent, store: Store) -> None:
    record = agent.decide(get("tuesday-low").request)
    store.record_outcome(record.release_id, Result.success)

    second = store.record_outcome(record.release_id, Result.rolled_back, "late", replace=True)

    assert store.get_decision(record.release_id).outcome == second
    assert store.count_outcomes() == 1
    assert store.outcome_cells().count({"service": "search"}) == (1, 1)


def test_agent_record_outcome_goes_to_the_store(agent: Agent, store: Store) -> None:
    """The outcome the agent is told is the one the store keeps, and learning counts it:
    an incident is a failed deploy of that release, with its notes."""
    record = agent.decide(get("monday-low").request)
    assert store.count_outcomes() == 0

    told = agent.record_outcome(record.release_id, Result.incident, notes="paged at 02:10")

    kept = store.get_decision(record.release_id).outcome
    assert kept == told
    assert (told.result, told.notes) == (Result.incident, "paged at 02:10")
    assert store.count_outcomes() == 1
    cells = store.outcome_cells()
    assert (int(cells.deployed.sum()), int(cells.failures.sum())) == (1, 1)


# -- listings -----------------------------------------------------------------------------


@pytest.fixture
def five(agent: Agent) -> list[DecisionRecord]:
    """The five seed scenarios, decided in order (oldest first)."""
    return [agent.decide(scenario.request) for scenario in SCENARIOS]


def ids(records: list[DecisionRecord]) -> list[str]:
    return [r.release_id for r in records]


def test_list_decisions_is_newest_first(store: Store, five: list[DecisionRecord]) -> None:
    assert ids(store.list_decisions()) == ids(five)[::-1]


def test_list_decisions_filters_by_service(store: Store, five: list[DecisionRecord]) -> None:
    search = store.list_decisions(service="search")

    assert ids(search) == [r.release_id for r in reversed(five) if r.request.service == "search"]
    assert len(search) == 3
    assert store.list_decisions(service="nobody") == []


def test_list_decisions_filters_by_decision(store: Store, five: list[DecisionRecord]) -> None:
    for decision in Decision:
        listed = store.list_decisions(decision=decision, limit=0)
        assert ids(listed) == [r.release_id for r in reversed(five) if r.decision is decision]
        assert all(r.decision is decision for r in listed)


def test_list_decisions_combines_filters(store: Store, five: list[DecisionRecord]) -> None:
    listed = store.list_decisions(service="search", decision=Decision.GO)

    assert ids(listed) == [
        r.release_id
        for r in reversed(five)
        if r.request.service == "search" and r.decision is Decision.GO
    ]


def test_before_pages_through_older_decisions(store: Store, five: list[DecisionRecord]) -> None:
    page_one = store.list_decisions(limit=2)
    page_two = store.list_decisions(limit=2, before=page_one[-1].release_id)
    page_three = store.list_decisions(limit=2, before=page_two[-1].release_id)
    page_four = store.list_decisions(limit=2, before=page_three[-1].release_id)

    assert ids(page_one + page_two + page_three) == ids(five)[::-1]
    assert len(page_three) == 1
    assert page_four == []


def test_before_an_unknown_id_is_not_found(store: Store, five: list[DecisionRecord]) -> None:
    with pytest.raises(NotFound) as caught:
        store.list_decisions(before="no-such-release")

    assert caught.value.field == "before"


def test_limit_0_lists_everything(agent: Agent, store: Store) -> None:
    requests = [scenario.request for scenario in SCENARIOS] * 11  # 55 decisions
    made = [agent.decide(r) for r in requests]

    assert len(store.list_decisions()) == 50
    assert ids(store.list_decisions(limit=0)) == ids(made)[::-1]
    assert len(store.list_episodes(limit=0)) == 55
    assert len(store.list_episodes(limit=3)) == 3


def request_for(service: str, at: str = "2026-11-24T10:00:00+01:00") -> ReleaseRequest:
    return ReleaseRequest(
        service=service,
        feature_risk=Level.LOW,
        service_criticality=Level.MEDIUM,
        at=datetime.fromisoformat(at),
    )


def test_similar_episodes_prefer_the_same_service(agent: Agent, store: Store) -> None:
    # Two services at one time clash in the change calendar; this is about recall alone.
    agent.policy = agent.policy.model_copy(update={"calendar": CalendarSettings(enabled=False)})
    own = agent.decide(request_for("search"))
    other = agent.decide(request_for("catalog"))  # newer, otherwise identical
    for record in (own, other):
        assert record.decision is Decision.GO
        store.record_outcome(record.release_id, Result.success)

    context = evaluate(request_for("search"), agent.policy.settings)
    similar = store.similar_episodes(context, k=2)

    assert [row.release_id for row in similar] == [own.release_id, other.release_id]


def test_similar_episodes_need_an_outcome(agent: Agent, store: Store) -> None:
    pending = agent.decide(request_for("search"))
    context = evaluate(request_for("search"), agent.policy.settings)

    assert store.similar_episodes(context) == []
    store.record_outcome(pending.release_id, Result.incident)
    assert [row.release_id for row in store.similar_episodes(context)] == [pending.release_id]


def test_similar_episodes_newest_wins_a_tie(agent: Agent, store: Store) -> None:
    older = agent.decide(request_for("search"))
    newer = agent.decide(request_for("search"))
    for record in (older, newer):
        store.record_outcome(record.release_id, Result.success)
    context = evaluate(request_for("search"), agent.policy.settings)

    assert [row.release_id for row in store.similar_episodes(context, k=1)] == [newer.release_id]


def test_similar_episodes_are_read_from_indexes_not_a_scan(
    agent: Agent, store: Store, sqlite_only: None
) -> None:
    """Recall reads the newest deploys of the service, and of the feature risk and
    criticality, each from its partial index: its cost does not grow with the history."""
    record = agent.decide(request_for("search"))
    store.record_outcome(record.release_id, Result.success)
    statements: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "episodes" in statement:
            statements.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.similar_episodes(evaluate(request_for("search"), agent.policy.settings))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)

    with store.engine.connect() as conn:
        statement, parameters = statements[0]
        steps = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    plan = [str(step[-1]) for step in steps]
    assert any("USING INDEX ix_episodes_recall_service" in step for step in plan), plan
    assert any("USING INDEX ix_episodes_recall_levels" in step for step in plan), plan
    assert not any(step.startswith("SCAN episodes") and "INDEX" not in step for step in plan)


# -- hypothesis: whatever is decided loads back equal ----------------------------------------

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,24}\Z")
levels = st.sampled_from(list(Level))
moments = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)
requests = st.builds(
    ReleaseRequest,
    service=names,
    env=st.sampled_from(["prod", "production", "staging", "dev"]),
    feature_risk=levels,
    service_criticality=levels,
    at=moments,
    clashes=st.lists(names, max_size=3),
    # NUL and lone surrogates are refused before they reach a store
    notes=st.none()
    | st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=200
    ),
)


@pytest.fixture(scope="module")
def shared_agent(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str | None
) -> Iterator[Agent]:
    url = create_database(postgres_server, tmp_path_factory.mktemp("roundtrip"))
    opened = Store.open(url)
    yield Agent(opened)
    opened.close()
    drop_database(postgres_server, url)


@settings(max_examples=25, deadline=None)
@given(requests)
def test_any_valid_request_decided_and_stored_loads_back_equal(
    shared_agent: Agent, request: ReleaseRequest
) -> None:
    stored = shared_agent.decide(request)
    loaded = shared_agent.store.get_decision(stored.release_id)

    assert stored == loaded
    assert loaded.request == request


# -- crash durability ---------------------------------------------------------------------

CRASHING_CHILD = textwrap.dedent(
    """
    import os, signal, sys

    from release_agent.agent import Agent
    from release_agent.memory.store import Store
    from release_agent.domain.scenarios import get

    url, scenario, how = sys.argv[1:4]
    record = Agent(Store.open(url)).decide(get(scenario).request)
    print(record.release_id, record.decision.value, flush=True)
    sys.stdout.flush()
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(0)
    """
)


@pytest.mark.parametrize(("how", "returncode"), [("exit", 0), ("kill", -9)])
def test_an_acknowledged_decision_survives_the_process_dying(
    db_url: str, how: str, returncode: int
) -> None:
    Store.open(db_url).close()  # an existing database, like a real one

    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, db_url, "friday-high-clash", how],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
        timeout=120,
    )

    assert child.returncode == returncode, child.stderr
    release_id, decision = child.stdout.split()
    reopened = Store.open(db_url)
    loaded = reopened.get_decision(release_id)
    assert loaded.decision.value == decision
    assert loaded.request == get("friday-high-clash").request
    assert reopened.count_decisions() == 1
    reopened.close()
