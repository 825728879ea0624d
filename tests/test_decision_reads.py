"""What one decision asks of the database: its evidence read through one connection,
its record written in one transaction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from release_agent.agent import Agent
from release_agent.domain.models import Decision, Level, ReleaseRequest
from release_agent.memory.store import Store


def test_a_decision_reads_its_evidence_through_one_connection(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'reads.db'}")
    agent = Agent(store)
    taken: list[int] = []
    sa.event.listen(store.engine, "checkout", lambda *_: taken.append(1))
    at = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
    record = agent.decide(
        ReleaseRequest(service="api", feature_risk=Level.LOW, service_criticality=Level.LOW, at=at)
    )
    assert record.decision is Decision.GO
    assert len(taken) == 2  # the knowledge, the recall, the streak and the calendar; the write


def test_shared_reads_hold_one_connection_and_give_it_back(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'shared.db'}")
    with store.shared_reads():
        with store.reading() as first, store.reading() as second:
            assert first is second
        with store.shared_reads(), store.reading() as nested:  # nested: the same one
            assert nested is first
    with store.reading() as own:
        assert own is not first
    assert store.count_decisions(source=None) == 0
