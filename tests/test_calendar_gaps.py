"""The change calendar's last gaps: the outcome ``not_deployed`` (frees the slot, is no
evidence), the risk model's production attribute following the policy's patterns, and
no double booking when decisions in one environment are made at the same moment.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from action_support import TOKEN as ACTION_TOKEN
from action_support import run_step, serving
from api_support import AUTH, TOKEN, client_of, only_problem, store_of
from release_agent.agent import SLOT_TRIES, Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.decide.context import evaluate
from release_agent.domain.calendar import Booking, FreedReason, SlotTaken
from release_agent.domain.errors import Conflict
from release_agent.domain.models import Decision, DecisionRecord, ReleaseRequest, Result
from release_agent.domain.policy import DecisionSettings, parse_policy
from release_agent.integrations.gate_backends import RESULTS
from release_agent.integrations.outcomes import PHASES, result_of_phase
from release_agent.learn.imports import import_memory
from release_agent.memory import bookings, schema
from release_agent.memory.store import Store
from release_agent.simulation.world import WORLD_ENV
from release_agent.stats import risk_model

TUESDAY_10 = "2026-11-24T10:00:00+01:00"
FRIDAY_16 = "2026-11-27T16:00:00+01:00"


def request(service: str, at: str = TUESDAY_10, **fields: Any) -> ReleaseRequest:
    data: dict[str, Any] = {
        "service": service,
        "feature_risk": "LOW",
        "service_criticality": "MEDIUM",
        "at": at,
        **fields,
    }
    return ReleaseRequest.model_validate(data)


@pytest.fixture
def agent(database_url: str) -> Iterator[Agent]:
    built = Agent(Store.open(database_url), parse_policy({}))
    yield built
    built.store.close()


def everything(store: Store) -> list[Booking]:
    return store.calendar(datetime(2000, 1, 1, tzinfo=UTC))


def freed(store: Store, release_id: str) -> tuple[Any, ...] | None:
    b = schema.bookings
    with store.reading() as conn:
        row = conn.execute(
            sa.select(b.c.freed_reason, b.c.freed_at).where(b.c.release_id == release_id)
        ).first()
    return None if row is None else tuple(row)


def a_go(agent: Agent, service: str = "search", **fields: Any) -> DecisionRecord:
    record = agent.decide(request(service, **fields))
    assert record.decision is Decision.GO, record.reason
    return record


# -- (a) not_deployed -------------------------------------------------------------------


def test_not_deployed_is_neither_a_success_nor_a_failure() -> None:
    assert Result("not_deployed") is Result.not_deployed
    assert (Result.not_deployed.deployed, Result.not_deployed.failed) == (False, False)
    assert (Result.success.deployed, Result.success.failed) == (True, False)
    assert all(r.deployed and r.failed for r in (Result.degraded, Result.incident))


def test_not_deployed_frees_the_slot_and_a_later_release_meets_no_clash(agent: Agent) -> None:
    first = a_go(agent)
    assert [b.release_id for b in everything(agent.store)] == [first.release_id]
    agent.record_outcome(first.release_id, Result.not_deployed, "pipeline cancelled")

    assert everything(agent.store) == []
    assert freed(agent.store, first.release_id)[0] == FreedReason.not_deployed.value  # type: ignore[index]
    outcome = agent.get(first.release_id).outcome
    assert outcome is not None and outcome.result is Result.not_deployed
    later = agent.decide(request("checkout"))
    assert later.context.clashes == []


def test_not_deployed_is_no_evidence_and_a_real_outcome_replacing_it_is(agent: Agent) -> None:
    record = a_go(agent)
    agent.record_outcome(record.release_id, Result.not_deployed)
    store = agent.store
    assert store.count_outcomes() == 0
    assert store.outcome_cells().totals == (0, 0)
    assert store.recent_outcomes("search", record.request.at + timedelta(hours=1)) == []
    assert store.similar_episodes(record.context) == []
    assert agent.learn().outcomes == 0
    with store.reading() as conn:
        weights = conn.execute(sa.select(schema.cell_weights)).all()
        failed = conn.execute(
            sa.select(schema.episodes.c.failed).where(
                schema.episodes.c.release_id == record.release_id
            )
        ).scalar()
    assert all(row.deployed == 0 and row.failures == 0 for row in weights)
    assert failed is None

    # it went out after all: the real outcome counts, and the slot is taken again
    agent.record_outcome(record.release_id, Result.incident, replace=True)
    assert store.outcome_cells().totals == (1, 1)
    assert store.count_outcomes() == 1
    assert [
        e.release_id
        for e in store.recent_outcomes("search", record.request.at + timedelta(hours=1))
    ] == [record.release_id]
    assert [b.release_id for b in everything(store)] == [record.release_id]

    # and back: taken away again, slot free
    agent.record_outcome(record.release_id, Result.not_deployed, replace=True)
    assert store.outcome_cells().totals == (0, 0)
    assert everything(store) == []
    assert store.rebuild_cell_counts() >= 0
    assert store.outcome_cells().totals == (0, 0)


def test_not_deployed_twice_needs_replace_and_a_no_go_refuses_it(agent: Agent) -> None:
    record = a_go(agent)
    agent.record_outcome(record.release_id, Result.not_deployed)
    with pytest.raises(Conflict, match="already has outcome not_deployed"):
        agent.record_outcome(record.release_id, Result.not_deployed)
    agent.policy = parse_policy(
        {"decision": {"explore": False}, "costs": {"failure": {"HIGH": 1e9}, "no_go": 10}}
    )
    no_go = agent.decide(request("payments", service_criticality="HIGH", feature_risk="HIGH"))
    assert no_go.decision is Decision.NO_GO, no_go.reason
    with pytest.raises(Conflict, match="override"):
        agent.record_outcome(no_go.release_id, Result.not_deployed)


def test_cancelled_then_deployed_after_all_takes_the_slot_back(agent: Agent) -> None:
    record = a_go(agent)
    agent.store.cancel_booking(record.release_id)
    assert everything(agent.store) == []
    agent.record_outcome(record.release_id, Result.success)
    assert [b.release_id for b in everything(agent.store)] == [record.release_id]


def test_a_superseded_booking_is_not_taken_back_by_an_outcome(agent: Agent) -> None:
    agent.policy = parse_policy(SPREAD)
    delayed = agent.decide(request("search", at=FRIDAY_16, ref="abc:prod", feature_risk="MEDIUM"))
    assert delayed.decision is Decision.DELAY, delayed.reason
    assert delayed.next_window is not None
    again = agent.decide(
        request(
            "search",
            at=delayed.next_window.isoformat(),
            ref="abc:prod",
            delays=1,
            feature_risk="MEDIUM",
        )
    )
    agent.record_outcome(again.release_id, Result.success)
    held = {b.release_id for b in everything(agent.store)}
    assert delayed.release_id not in held


def test_the_cli_records_not_deployed_and_lists_it_in_bad_input(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    store = Store.open(db)
    record = a_go(Agent(store))
    runner = CliRunner()
    done = runner.invoke(
        main, ["outcome", record.release_id[:8], "--result", "not_deployed", "--db", db]
    )
    assert done.exit_code == 0, done.output
    assert "recorded not_deployed" in done.output and "slot is free again" in done.output
    assert everything(store) == []
    bad = runner.invoke(main, ["outcome", record.release_id, "--result", "gone", "--db", db])
    assert bad.exit_code == 2
    assert "not_deployed" in bad.output
    store.close()


def test_the_api_records_not_deployed_by_id_and_by_ref(tmp_path: Path) -> None:
    app = create_app(db_url=f"sqlite:///{tmp_path / 'api.db'}", token=TOKEN)
    client: TestClient = client_of(app)
    agent: Agent = app.state.agent
    by_id = a_go(agent, "search")
    a_go(agent, "checkout", at="2026-11-24T14:00:00+01:00", ref="3f9c2e1:prod")

    answer = client.post(
        f"/api/v1/decisions/{by_id.release_id}/outcome",
        json={"result": "not_deployed", "notes": "rolled before it started"},
        headers=AUTH,
    )
    assert answer.status_code == 201, answer.text
    answer = client.post(
        "/api/v1/outcomes", json={"ref": "3f9c2e1:prod", "result": "NOT_DEPLOYED"}, headers=AUTH
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"]["result"] == "not_deployed"
    assert everything(store_of(app)) == []
    assert store_of(app).outcome_cells().totals == (0, 0)

    bad = client.post(
        f"/api/v1/decisions/{by_id.release_id}/outcome", json={"result": "gone"}, headers=AUTH
    )
    assert "not_deployed" in only_problem(bad, 422)["allowed"]
    metrics = client.get("/metrics", headers=AUTH).text
    assert 'result="not_deployed"' in metrics


def test_the_action_outcome_mode_takes_not_deployed(tmp_path: Path) -> None:
    assert "not_deployed" in RESULTS
    (tmp_path / "server").mkdir()
    with serving(tmp_path / "server") as server:
        gate = {
            "server-url": server.url,
            "token": ACTION_TOKEN,
            "service": "web",
            "feature-risk": "low",
            "criticality": "LOW",
        }
        decided = run_step(tmp_path, gate)
        release_id = decided.outputs["release_id"]
        listed = server.get("/api/v1/calendar?from=2000-01-01T00:00:00Z")["items"]
        assert release_id in [b["release_id"] for b in listed]
        step = run_step(
            tmp_path,
            {
                "mode": "outcome",
                "server-url": server.url,
                "token": ACTION_TOKEN,
                "release-id": release_id,
                "result": "not_deployed",
            },
        )
        assert step.code == 0, step.stdout + step.stderr
        record = server.get(f"/api/v1/decisions/{release_id}")
        assert record["outcome"]["result"] == "not_deployed"
        assert all(
            b["release_id"] != release_id
            for b in server.get("/api/v1/calendar?from=2000-01-01T00:00:00Z")["items"]
        )


def test_no_tool_word_is_read_as_not_deployed() -> None:
    assert all(result.deployed for result in PHASES.values())
    with pytest.raises(Exception, match="Inconclusive"):
        result_of_phase("Inconclusive")


def test_a_memory_file_may_say_not_deployed_and_it_counts_for_nothing(tmp_path: Path) -> None:
    episode = {
        "context": {"service": "search", "env": "prod", "day_of_week": "TUE", "hour_of_day": 10},
        "decision": "GO",
        "timestamp": "2026-01-13T10:00:00Z",
    }
    document = {
        "episodes": [
            {**episode, "outcome": "not_deployed", "release_id": "a"},
            {**episode, "outcome": "SUCCESS", "release_id": "b"},
        ]
    }
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    import_memory(store, document)
    assert store.count_outcomes() == 1
    assert store.outcome_cells().totals == (1, 0)
    assert {e.release_id: e.result for e in store.list_episodes()} == {
        "a": "not_deployed",
        "b": "success",
    }
    store.close()


# -- (b) the production attribute follows the policy ---------------------------------------


LIVE = {"production": ["live"], "non_production": ["prod", "staging"]}


def test_the_production_attribute_follows_the_policy_at_decision_time(agent: Agent) -> None:
    agent.policy = parse_policy(LIVE)
    live = agent.decide(request("search", env="live"))
    prod = agent.decide(request("search", env="prod", at="2026-11-24T14:00:00+01:00"))

    assert live.context.attributes()["production"] is True
    assert prod.context.attributes()["production"] is False
    assert "non_production" not in risk_model._features(live.context.attributes())
    assert "non_production" in risk_model._features(prod.context.attributes())

    # stored with the episode, counted in its cell, read back the same by learning
    e = schema.episodes
    with agent.store.reading() as conn:
        stored = dict(
            conn.execute(sa.select(e.c.env, e.c.production).where(e.c.source == "agent")).all()
        )
    assert stored == {"live": True, "prod": False}
    agent.record_outcome(live.release_id, Result.incident)
    agent.record_outcome(prod.release_id, Result.success)
    cells = agent.store.outcome_cells()
    by_env = {
        cells.attributes(i)["env"]: cells.attributes(i)["production"] for i in range(len(cells))
    }
    assert by_env == {"live": True, "prod": False}
    features = {
        cells.attributes(i)["env"]: risk_model._features(cells.attributes(i))
        for i in range(len(cells))
    }
    assert "non_production" not in features["live"] and "non_production" in features["prod"]


def test_the_default_patterns_make_live_and_prod_eu_production() -> None:
    settings = DecisionSettings()
    for env, production in (
        ("live", True),
        ("prod-eu", True),
        ("production", True),
        ("staging", False),
    ):
        context = evaluate(request("search", env=env), settings)
        assert context.production is production
        assert context.attributes()["production"] is production
        assert ("non_production" in risk_model._features(context.attributes())) is not production


def test_the_simulator_releases_to_production() -> None:
    assert DecisionSettings().is_production(WORLD_ENV)


def test_a_memory_file_gets_production_derived_from_its_env(tmp_path: Path) -> None:
    document = [
        {
            "context": {"service": "s", "env": env, "day_of_week": "TUE"},
            "decision": "GO",
            "outcome": "SUCCESS",
            "timestamp": "2026-01-13T10:00:00Z",
            "release_id": env,
        }
        for env in ("live", "prod", "staging")
    ]
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    import_memory(store, document, parse_policy(LIVE).settings)
    found = {e.release_id: e.attributes.get("production") for e in store.list_episodes()}
    assert found == {"live": True, "prod": False, "staging": False}
    store.close()


def test_episodes_stored_before_the_attribute_are_classified_once(database_url: str) -> None:
    store = Store.open(database_url)
    agent = Agent(store, parse_policy({}))
    records = [
        agent.decide(request("search", env=env, at=f"2026-11-24T{10 + i}:00:00+01:00"))
        for i, env in enumerate(("live", "staging", "prod"))
    ]
    for record in records:
        agent.record_outcome(record.release_id, Result.success)
    # as a database written before the attribute existed: no column at all
    with store.transaction() as conn:
        for table in ("episodes", "cell_counts"):
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN production"))
        conn.execute(sa.text("DELETE FROM cell_counts"))
        conn.execute(sa.text("DELETE FROM cell_weights"))
    store.close()

    again = Store.open(database_url)
    e = schema.episodes
    with again.reading() as conn:
        classified = dict(conn.execute(sa.select(e.c.env, e.c.production)).all())
    assert classified == {"live": True, "staging": False, "prod": True}
    cells = again.outcome_cells()
    assert cells.totals == (3, 0)
    assert {cells.attributes(i)["production"] for i in range(len(cells))} == {True, False}
    again.close()


# -- (c) no double booking under concurrency -------------------------------------------------

# A policy under which a clash is never worth it and exploration is off: decided one at a
# time, DELAYs take free windows and no two bookings clash (checked first, below).
SPREAD = {
    "decision": {"explore": False},
    "priors": {
        "effects": {
            "clash": {"times": 50.0, "sd": 0.05},
            "friday_afternoon": {"times": 8.0, "sd": 0.05},
        }
    },
}
THREADS = 8


def _no_two_clash(found: list[Booking], minutes: int = 30) -> bool:
    return all(abs(a.at - b.at) > timedelta(minutes=minutes) for a, b in combinations(found, 2))


def _friday(i: int) -> ReleaseRequest:
    return request(f"svc-{i}", at=FRIDAY_16, feature_risk="MEDIUM")


def test_one_at_a_time_the_policy_spreads_the_releases(agent: Agent) -> None:
    agent.policy = parse_policy(SPREAD)
    for i in range(THREADS):
        agent.decide(_friday(i))
    found = everything(agent.store)
    assert len(found) == THREADS
    assert _no_two_clash(found)


def test_decisions_at_the_same_moment_never_book_clashing_slots(database_url: str) -> None:
    Store.open(database_url).close()
    policy = parse_policy(SPREAD)
    read_together = threading.Barrier(THREADS, timeout=60)
    records: list[DecisionRecord] = []
    errors: list[BaseException] = []

    def decide(i: int) -> None:
        store = Store.open(database_url)
        agent = Agent(store, policy)
        reads = 0
        plain = store.bookings_around

        def around(*args: Any, **kwargs: Any) -> list[Booking]:
            # Every decision reads the calendar before any of them books: the race made
            # certain, where the scheduler would make it only likely.
            nonlocal reads
            found = plain(*args, **kwargs)
            reads += 1
            if reads == 1:
                read_together.wait()
            return found

        store.bookings_around = around  # type: ignore[method-assign]
        try:
            records.append(agent.decide(_friday(i)))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            store.close()

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(records) == THREADS
    store = Store.open(database_url)
    found = everything(store)
    store.close()
    assert len(found) == THREADS
    assert all(b.decision in (Decision.GO, Decision.DELAY) for b in found)
    assert _no_two_clash(found), sorted((b.at, b.service) for b in found)
    retried = [r for r in records if _retries(r)]
    assert retried  # at least one decision found its slot taken and decided again


def _retries(record: DecisionRecord) -> int:
    memory = [t for t in record.trace if t.stage == "memory"]
    return int(memory[0].detail.get("calendar_retries", 0))


def test_a_decision_that_keeps_losing_its_slot_decides_holding_the_calendar(
    database_url: str,
) -> None:
    policy = parse_policy(SPREAD)
    store = Store.open(database_url)
    rival = Agent(Store.open(database_url), policy)
    agent = Agent(store, policy)
    plain = store.bookings_around
    rivals: list[DecisionRecord] = []

    def around(env: str, start: datetime, end: datetime, conn: Any = None) -> list[Booking]:
        found = plain(env, start, end, conn)
        if conn is None:  # an optimistic read: another process books right after it
            rivals.append(rival.decide(_friday(100 + len(rivals))))
        return found

    store.bookings_around = around  # type: ignore[method-assign]
    record = agent.decide(_friday(0))

    assert len(rivals) == SLOT_TRIES  # every optimistic try lost its slot
    assert _retries(record) == SLOT_TRIES
    found = everything(store)
    assert len(found) == SLOT_TRIES + 1
    assert _no_two_clash(found)
    rival.store.close()
    store.close()


def test_a_write_that_would_take_a_slot_it_did_not_see_is_refused(agent: Agent) -> None:
    agent.policy = parse_policy(SPREAD)
    policy = agent.policy.for_team("default")
    late = _friday(1)
    seen = agent.calendar_for(late)  # read while the calendar is empty
    agent.decide(_friday(0))  # books the first free window
    taken = everything(agent.store)[0]

    from release_agent.decide import calendar as calendar_stage

    guard = calendar_stage.recheck(late, policy, seen)
    with agent.store.transaction() as conn, pytest.raises(SlotTaken) as caught:
        bookings.check_slot(conn, late.env, taken.at, guard)
    assert caught.value.release_ids == (taken.release_id,)
    # what it saw, it may meet: no refusal
    known = calendar_stage.recheck(late, policy, agent.calendar_for(late))
    with agent.store.transaction() as conn:
        bookings.check_slot(conn, late.env, taken.at, known)


def test_the_lock_key_is_stable_and_one_per_environment() -> None:
    key = bookings.lock_key("prod")
    assert key == bookings.lock_key("production") == bookings.lock_key(" PROD ")
    assert key != bookings.lock_key("staging")
    assert -(2**63) <= key < 2**63
    assert key == -1891483193978422847  # the same in every process and release (no salted hash)
