"""The background learner: learns when N new outcomes are in or T seconds have passed,
publishes new knowledge the deciding agent then uses, skips while another learner runs,
and outlives a failing run.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import Planted, World, populate
from release_agent.agent import Agent
from release_agent.domain.errors import InvalidInput, StoreError
from release_agent.domain.models import Level, ReleaseRequest, Result
from release_agent.learn.worker import Cadence, LearningWorker
from release_agent.memory.store import Store

MONDAY = datetime.fromisoformat("2026-11-23T10:00:00+01:00")


def decide_and_report(agent: Agent, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        record = agent.decide(
            ReleaseRequest(
                service="search",
                feature_risk=Level.LOW,
                service_criticality=Level.LOW,
                at=MONDAY + timedelta(days=7 * i),
            )
        )
        agent.record_outcome(record.release_id, Result.success)


def eventually(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@given(
    every=st.integers(1, 100),
    seconds=st.floats(1, 3600),
    new=st.integers(-5, 200),
    since=st.floats(0, 7200),
)
def test_a_run_is_due_after_n_new_outcomes_or_t_seconds_with_any(
    every: int, seconds: float, new: int, since: float
) -> None:
    due = Cadence(every, seconds).due(new, since)

    assert due == (new < 0 or new >= every or (new > 0 and since >= seconds))


@pytest.mark.parametrize(
    ("outcomes", "seconds", "field"),
    [(0, 60.0, "learn_every"), (2.5, 60.0, "learn_every"), (True, 60.0, "learn_every"),
     (5, 0.0, "learn_interval"), (5, float("nan"), "learn_interval"),
     (5, float("inf"), "learn_interval")],
)  # fmt: skip
def test_a_cadence_out_of_range_is_refused_naming_the_setting(
    outcomes: int, seconds: float, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        Cadence(outcomes, seconds)

    assert caught.value.field == field


def test_the_worker_learns_after_n_new_outcomes_and_the_agent_decides_with_it(
    store: Store,
) -> None:
    agent = Agent(store)
    worker = LearningWorker(agent, Cadence(every_outcomes=4, every_seconds=3600), 0.05)
    worker.start()
    try:
        decide_and_report(agent, 3)
        time.sleep(0.5)
        assert worker.runs == 0  # 3 new outcomes: not yet
        decide_and_report(agent, 1, start=3)
        assert eventually(lambda: worker.runs == 1)
    finally:
        worker.stop()

    assert worker.last_report is not None and worker.last_report.outcomes == 4
    assert store.knowledge().outcomes == 4
    version = store.knowledge_version()
    assert worker.last_report.knowledge_version == version
    decide_and_report(agent, 1, start=4)
    assert store.list_decisions(limit=1)[0].knowledge_version == version


def test_a_run_is_due_after_t_seconds_when_any_outcome_is_new(store: Store) -> None:
    agent = Agent(store)
    decide_and_report(agent, 1)
    worker = LearningWorker(agent, Cadence(every_outcomes=1000, every_seconds=1.0), 0.05)
    started = time.monotonic()

    assert worker.run_once() is None  # one new outcome, not a second yet
    time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
    assert worker.run_once() is not None
    assert worker.run_once() is None  # nothing new since


def test_the_worker_skips_while_another_learner_runs(store: Store) -> None:
    populate(store, World(planted=(Planted({"service": "payments"}, 0.3),)), 2000, seed=1)
    agent = Agent(store)
    worker = LearningWorker(agent, Cadence(every_outcomes=1, every_seconds=3600), 0.05)

    with store.learner_lock():
        assert worker.run_once() is None

    assert worker.runs == 0 and store.knowledge_version() == 0
    assert worker.run_once() is not None
    assert worker.runs == 1


class FailingOnce:
    """An agent whose first learning run fails as a broken database would."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.store = agent.store
        self.failed = False

    def knowledge(self):  # type: ignore[no-untyped-def]
        return self.agent.knowledge()

    def learn(self, *, wait: float = 0.0):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise StoreError("database write failed: disk I/O error")
        return self.agent.learn(wait=wait)


def test_a_failing_run_is_logged_and_retried(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    agent = Agent(store)
    decide_and_report(agent, 2)
    worker = LearningWorker(FailingOnce(agent), Cadence(every_outcomes=1, every_seconds=3600), 0.05)

    worker.start()
    try:
        assert eventually(lambda: worker.runs == 1)
    finally:
        worker.stop()

    assert worker.last_error is None
    assert any("disk I/O error" in r.getMessage() for r in caplog.records)
    assert store.knowledge_version() >= 1
