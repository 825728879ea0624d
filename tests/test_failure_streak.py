"""A failure streak: the reflection refuses GO while a service's recent failures are
surprising, and the release waits until the streak has left its window — or is refused
at once when that wait costs more than not shipping."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from release_agent import Agent, ReleaseRequest, Store
from release_agent.domain.models import Decision, Result
from release_agent.domain.policy import parse_policy
from release_agent.reasoners.builtin import STREAK_HOURS

START = datetime.fromisoformat("2026-11-24T09:00:00+01:00")


def _request(at: datetime) -> ReleaseRequest:
    return ReleaseRequest(
        service="blog", feature_risk="LOW", service_criticality="LOW", at=at.isoformat()
    )


def _two_failures(agent: Agent) -> datetime:
    """Two deploys of blog an hour apart, both failed; returns the first one's time."""
    for hours in (0, 1):
        record = agent.decide(_request(START + timedelta(hours=hours)))
        assert record.decision is Decision.GO
        agent.record_outcome(record.release_id, Result.incident)
    return START


def test_a_release_refused_for_a_streak_waits_until_the_streak_has_passed(
    tmp_path: Path,
) -> None:
    agent = Agent(Store.open(f"sqlite:///{tmp_path / 'm.db'}"))
    first = _two_failures(agent)
    record = agent.decide(_request(START + timedelta(hours=3)))
    assert record.reflection is not None and not record.reflection.confirmed
    assert record.reflection.retry_after == first + timedelta(hours=STREAK_HOURS)
    # not to the next hour, where the same streak would refuse it again
    assert record.decision is Decision.DELAY
    assert record.next_window is not None
    assert record.next_window > first + timedelta(hours=STREAK_HOURS)


def test_a_streak_that_outlasts_what_waiting_is_worth_gives_no_go_at_once(
    tmp_path: Path,
) -> None:
    costly_wait = parse_policy({"costs": {"delay_per_hour": 1.0, "no_go": 4.0}})
    agent = Agent(Store.open(f"sqlite:///{tmp_path / 'm.db'}"), costly_wait)
    _two_failures(agent)
    record = agent.decide(_request(START + timedelta(hours=3)))
    assert record.reflection is not None and not record.reflection.confirmed
    # a day of waiting costs more than not shipping: no DELAYs spent on the way to NO_GO
    assert record.decision is Decision.NO_GO
