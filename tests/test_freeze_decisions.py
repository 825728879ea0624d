"""Freezes in decisions: a freeze for one name of production covers every name of it,
and the window offered after a freeze is on the release's own clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from release_agent.agent import Agent
from release_agent.domain.models import Decision, Level, ReleaseRequest
from release_agent.domain.policy import parse_policy
from release_agent.memory.store import Store

YEAR_END = {
    "freeze": {
        "once": [
            {
                "name": "year-end",
                "start": "2026-12-20T00:00",
                "end": "2027-01-04T00:00",
                "timezone": "America/New_York",
                "envs": ["prod"],
            }
        ]
    }
}
IN_THE_FREEZE = datetime.fromisoformat("2026-12-22T14:00:00+01:00")


def request(env: str = "prod") -> ReleaseRequest:
    return ReleaseRequest(
        service="blog",
        env=env,
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=IN_THE_FREEZE,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.parametrize("env", ["prod", "production", "PRODUCTION"])
def test_a_freeze_for_prod_covers_every_name_of_production(store: Store, env: str) -> None:
    record = Agent(store, parse_policy(YEAR_END)).decide(request(env=env))
    assert record.decision is not Decision.GO
    assert record.guardrails and "year-end" in record.guardrails[0]


def test_a_freeze_for_prod_leaves_other_environments_open(store: Store) -> None:
    record = Agent(store, parse_policy(YEAR_END)).decide(request(env="staging"))
    assert record.guardrails == []
    assert record.decision is Decision.GO


def test_the_window_after_a_freeze_is_in_the_releases_own_offset(store: Store) -> None:
    record = Agent(store, parse_policy(YEAR_END)).decide(request())
    assert record.next_window is not None
    assert record.next_window.utcoffset() == IN_THE_FREEZE.utcoffset()
    assert record.next_window >= datetime.fromisoformat("2027-01-04T00:00:00-05:00")
