"""The knowledge snapshot: decisions read it and never learn; learning publishes it.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import Planted, World, populate
from release_agent.agent import Agent
from release_agent.decide.context import evaluate
from release_agent.decide.heuristics import applicable
from release_agent.domain.models import (
    Decision,
    Heuristic,
    HeuristicStatus,
    Level,
    Provenance,
    ReleaseRequest,
    Result,
)
from release_agent.domain.policy import Policy
from release_agent.memory import knowledge as snapshots
from release_agent.memory import schema
from release_agent.memory.store import Store
from release_agent.stats.knowledge import PRIOR_VERSION, prior

PAYMENTS_FRIDAY = {"friday_afternoon": True, "service": "payments"}
MONDAY = datetime.fromisoformat("2026-11-23T10:00:00+01:00")


def request(i: int, service: str = "payments") -> ReleaseRequest:
    return ReleaseRequest(
        service=service,
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=MONDAY + timedelta(days=7 * i),
    )


def rows(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_before_any_learning_decisions_use_the_priors_as_version_0(store: Store) -> None:
    agent = Agent(store)

    record = agent.decide(request(0))

    assert record.knowledge_version == PRIOR_VERSION == 0
    assert store.get_decision(record.release_id).knowledge_version == 0
    assert agent.knowledge().heuristics == ()


def test_deciding_never_learns_however_many_decisions_and_outcomes(store: Store) -> None:
    """Before, every 5th decision ran a learning run; now no decision writes knowledge,
    fits a model or changes a heuristic."""
    populate(store, World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),)), 3000, seed=3)
    agent = Agent(store)
    every = agent.policy.settings.extract_every

    records = [agent.decide(request(i)) for i in range(3 * every + 1)]
    for record in records:
        agent.record_outcome(record.release_id, Result.success)

    assert {r.knowledge_version for r in records} == {0}
    assert store.list_heuristics() == []
    assert rows(store, schema.knowledge) == 0
    assert rows(store, schema.risk_models) == 0


def test_a_decision_records_the_version_learning_published_before_it(store: Store) -> None:
    populate(store, World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),)), 6000, seed=11)
    agent = Agent(store)
    before = agent.decide(request(0))

    report = agent.learn()
    after = agent.decide(request(1))

    assert before.knowledge_version == 0
    assert report.knowledge_version == store.knowledge_version() >= 1
    assert after.knowledge_version == report.knowledge_version
    snapshot = store.knowledge()
    assert [h.when for h in snapshot.heuristics] == [PAYMENTS_FRIDAY]
    assert snapshot.outcomes == report.outcomes == store.count_outcomes()
    assert snapshot.model.evidence == report.outcomes


def test_another_process_learning_reaches_the_next_decision(store: Store) -> None:
    """An agent that did not learn itself sees another's snapshot at its next decision."""
    populate(store, World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),)), 6000, seed=11)
    deciding, learning = Agent(store), Agent(store)
    assert deciding.decide(request(0)).knowledge_version == 0

    version = learning.learn().knowledge_version

    assert deciding.decide(request(1)).knowledge_version == version
    assert [h.when for h in deciding.knowledge().heuristics] == [PAYMENTS_FRIDAY]


def test_the_snapshot_is_read_again_only_when_a_new_one_is_published(store: Store) -> None:
    populate(store, World(), 1000, seed=2)
    agent = Agent(store)
    agent.learn()
    held = agent.knowledge()

    assert agent.knowledge() is held  # a version check, nothing re-read
    store.insert_heuristic(
        Heuristic(when={"service": "search"}, recommendation=Decision.DELAY, confidence=0.8)
    )
    fresh = agent.knowledge()

    assert fresh.version == held.version + 1
    assert fresh.model is held.model  # only the heuristics changed: the fit is not re-read
    assert [h.when for h in fresh.heuristics] == [{"service": "search"}]


def test_a_snapshot_does_not_change_when_the_heuristics_table_does(store: Store) -> None:
    """A snapshot holds copies: editing a heuristic publishes a new version and leaves the
    old one as it was."""
    hid = store.insert_heuristic(
        Heuristic(
            when={"service": "search"},
            recommendation=Decision.DELAY,
            confidence=0.8,
            provenance=Provenance.human,
        )
    )
    first = store.knowledge()
    stored = next(h for h in store.list_heuristics() if h.id == hid)

    store.update_heuristic(stored.model_copy(update={"status": HeuristicStatus.retired}))

    with store.engine.connect() as conn:
        again = snapshots.at(conn, first.version, {})
    assert [h.when for h in again.heuristics] == [{"service": "search"}]
    assert store.knowledge().version == first.version + 1
    assert store.knowledge().heuristics == ()


def test_a_heuristic_entered_by_hand_applies_to_the_next_decision(store: Store) -> None:
    agent = Agent(store)
    store.insert_heuristic(
        Heuristic(
            when={"service": "payments"},
            recommendation=Decision.NO_GO,
            confidence=0.95,
            provenance=Provenance.human,
        )
    )

    record = agent.decide(request(0))

    assert record.knowledge_version == store.knowledge_version() == 1
    assert [a.id for a in record.heuristics_applied] == [h.id for h in store.active_heuristics()]


def test_old_snapshots_and_their_fits_are_pruned(store: Store) -> None:
    populate(store, World(), 500, seed=4)
    agent = Agent(store)
    for _ in range(snapshots.KEEP + 3):
        agent.learn()

    newest = store.knowledge_version()
    with store.engine.connect() as conn:
        versions = conn.execute(sa.select(schema.knowledge.c.version)).scalars().all()
        fits = set(conn.execute(sa.select(schema.risk_models.c.id)).scalars())
        used = set(conn.execute(sa.select(schema.knowledge.c.model_id)).scalars())
    assert sorted(versions) == list(range(newest - snapshots.KEEP + 1, newest + 1))
    assert fits == used


def test_a_new_agent_over_the_same_memory_decides_with_the_stored_knowledge(
    store: Store,
) -> None:
    populate(store, World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),)), 6000, seed=11)
    version = Agent(store).learn().knowledge_version

    restarted = Agent(store)

    assert restarted.knowledge().version == version
    assert restarted.decide(request(0)).knowledge_version == version


conditions = st.fixed_dictionaries(
    {},
    optional={
        "service": st.sampled_from(["payments", "search"]) | st.just(["payments", "search"]),
        "env": st.sampled_from(["prod", "staging"]),
        "feature_risk": st.sampled_from(["LOW", "HIGH"]),
        "day_of_week": st.sampled_from(["MON", "FRI", "SAT"]),
        "hour_of_day": st.builds(lambda h: {"from": h, "to": (h + 5) % 24}, st.integers(0, 23)),
        "clash": st.booleans(),
    },
)


@settings(max_examples=60, deadline=None)
@given(
    whens=st.lists(conditions, max_size=30),
    service=st.sampled_from(["payments", "search", "blog"]),
    env=st.sampled_from(["prod", "staging"]),
    risk=st.sampled_from(list(Level)),
    hours=st.lists(st.integers(0, 24 * 14), min_size=1, max_size=6),
)
def test_the_relevant_heuristics_match_every_moment_as_all_of_them_do(
    whens: list[dict[str, object]], service: str, env: str, risk: Level, hours: list[int]
) -> None:
    """Deciding with the heuristics relevant to a release gives, at every moment (the
    request's or a window's), exactly the applicable heuristics all of them give."""
    knowledge = replace(
        prior(),
        heuristics=tuple(
            Heuristic(id=i, when=when, recommendation=Decision.DELAY, confidence=0.9)
            for i, when in enumerate(whens)
        ),
    )
    base = ReleaseRequest(
        service=service, env=env, feature_risk=risk, service_criticality=Level.LOW, at=MONDAY
    )
    settings_ = Policy().settings
    relevant = knowledge.relevant(evaluate(base, settings_).attributes())
    for hour in hours:
        context = evaluate(base, settings_, at=MONDAY + timedelta(hours=hour), clashes=[])
        assert applicable(context, relevant, 0.5) == applicable(context, knowledge.heuristics, 0.5)
