"""Outcomes are recorded only against the agent's own decisions, with bounded notes;
a refused outcome writes nothing."""

from __future__ import annotations

import pytest

from release_agent.agent import Agent
from release_agent.domain.errors import InvalidInput, NotFound
from release_agent.domain.models import MAX_NOTES, Result
from release_agent.domain.scenarios import get
from release_agent.learn.imports import import_memory
from release_agent.memory.store import Store


def test_outcomes_go_only_to_decisions_and_notes_are_bounded() -> None:
    store = Store.open("sqlite://")
    import_memory(
        store,
        [
            {
                "context": {"service": "blog"},
                "decision": "NO_GO",
                "outcome": "ABORTED",
                "timestamp": "2026-01-01T00:00:00+00:00",
            }
        ],
    )
    imported = store.list_episodes(0)[0].release_id
    with pytest.raises(NotFound):
        store.record_outcome(imported, Result.incident)
    record = Agent(store).decide(get("tuesday-low").request)
    with pytest.raises(InvalidInput) as caught:
        store.record_outcome(record.release_id, Result.success, "n" * (MAX_NOTES + 1))
    assert caught.value.field == "notes"
    assert store.get_decision(record.release_id).outcome is None
    assert store.count_outcomes() == 0
