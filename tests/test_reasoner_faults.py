"""A reasoner fault whose message quotes a huge answer is recorded clipped and still
fails closed (or falls back to the built-in reasoner), instead of crashing on a
record's length limit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from release_agent.agent import Agent
from release_agent.domain.models import Decision, Level, Plan, ReleaseRequest
from release_agent.memory.store import Store
from release_agent.reasoners.base import Answer, Usage
from release_agent.reasoners.calls import ERROR_CHARS

# A plain Tuesday: the built-in reasoner decides GO, so a fail-closed DELAY shows the fault.
TUESDAY = ReleaseRequest(
    service="blog",
    env="prod",
    feature_risk=Level.LOW,
    service_criticality=Level.LOW,
    at=datetime.fromisoformat("2026-11-24T14:00:00+01:00"),
)


class LongWinded:
    """A reasoner whose faults quote a huge answer."""

    name = "long"
    model = "long-1"

    def plan(self, task: Any) -> Answer[Plan]:
        raise ValueError("bad next_window " + "x" * 5000)

    def review(self, task: Any) -> Any:
        raise ValueError("y" * 5000)

    def confirm(self, task: Any) -> Any:
        raise ValueError("z" * 5000)

    def extract(self, task: Any) -> Answer[list[Any]]:
        return Answer([], Usage())


@pytest.mark.parametrize("mode", ["delay", "builtin"])
def test_a_fault_with_a_huge_message_still_fails_closed(tmp_path: Path, mode: str) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    record = Agent(store, None, LongWinded(), mode).decide(TUESDAY)
    assert record.decision is (Decision.DELAY if mode == "delay" else Decision.GO)
    failed = [c for c in record.reasoner_calls if not c.ok]
    assert failed and all(len(c.error or "") <= ERROR_CHARS for c in failed)
    assert all((c.error or "").endswith("…") for c in failed)
