"""Memory files across export and import: deploy times survive the round trip, and a
timestamp out of the calendar's range is refused with its path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from release_agent.agent import Agent
from release_agent.domain.errors import ImportFormatError
from release_agent.domain.models import Result
from release_agent.domain.scenarios import get
from release_agent.learn.imports import import_memory
from release_agent.memory.seedformat import export_memory
from release_agent.memory.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'm.db'}")


def test_an_import_timestamp_at_the_edge_of_the_calendar_names_its_path(store: Store) -> None:
    bad = [
        {
            "context": {},
            "decision": "GO",
            "outcome": "SUCCESS",
            "timestamp": "0001-01-01T00:00:00+01:00",
        }
    ]
    with pytest.raises(ImportFormatError) as caught:
        import_memory(store, bad)
    assert caught.value.field == "episodes[0].timestamp"
    assert store.list_episodes(0) == []


def test_export_then_import_keeps_the_deploy_times(store: Store, tmp_path: Path) -> None:
    agent = Agent(store)
    record = agent.decide(get("tuesday-low").request)
    agent.record_outcome(record.release_id, Result.incident)
    exported = json.loads(json.dumps(export_memory(store)))
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    import_memory(other, exported)
    (row,) = other.list_episodes(0)
    assert row.deploy_at is not None
    assert row.deploy_at == store.list_episodes(0)[0].deploy_at
    assert other.recent_outcomes(record.request.service, record.request.at.replace(hour=23))
