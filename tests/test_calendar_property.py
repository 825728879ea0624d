"""Property of the change calendar, over any sequence of decisions and cancellations:

- a DELAY the agent places never lands within ``clash_minutes`` of a booking of another
  service that was open when it was decided (the window search leaves booked windows out
  while a free one remains; with a 72-hour horizon and at most eight bookings one always
  does);
- the calendar shows exactly the open bookings: every GO and DELAY not freed, and no
  freed one (a NO_GO books nothing; a cancelled release is freed).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release_agent.agent import Agent
from release_agent.domain.models import Decision, ReleaseRequest
from release_agent.domain.policy import parse_policy
from release_agent.domain.scenarios import CAREFUL_TEAM_PRIORS
from release_agent.memory.store import Store

SERVICES = ("search", "checkout", "payments", "blog")
MOMENTS = (
    "2026-11-27T16:00:00+01:00",  # Friday afternoon: mostly DELAY
    "2026-11-27T16:30:00+01:00",
    "2026-11-27T17:00:00+01:00",
    "2026-11-24T10:00:00+01:00",  # Tuesday morning: mostly GO
)
POLICY = parse_policy({"priors": CAREFUL_TEAM_PRIORS})
CLASH = timedelta(minutes=POLICY.calendar.clash_minutes)

decide_step = st.tuples(
    st.just("decide"),
    st.sampled_from(SERVICES),
    st.sampled_from(MOMENTS),
    st.sampled_from(("LOW", "MEDIUM", "HIGH")),
)
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 7))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(st.one_of(decide_step, decide_step, cancel_step), min_size=1, max_size=8))
def test_delays_avoid_booked_slots_and_the_calendar_shows_only_open_bookings(
    steps: list[tuple[object, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'p.db'}")
        agent = Agent(store, POLICY)
        open_slots: dict[str, datetime] = {}
        decided: list[str] = []
        owner: dict[str, str] = {}
        since = datetime(2026, 1, 1, tzinfo=UTC)
        try:
            for step in steps:
                if step[0] == "cancel":
                    index = int(step[1])  # type: ignore[call-overload]
                    if index < len(decided) and decided[index] in open_slots:
                        store.cancel_booking(decided[index])
                        del open_slots[decided[index]]
                else:
                    _, service, at, risk = step
                    before = dict(open_slots)
                    record = agent.decide(
                        ReleaseRequest.model_validate(
                            {
                                "service": service,
                                "at": at,
                                "feature_risk": risk,
                                "service_criticality": "MEDIUM",
                            }
                        )
                    )
                    decided.append(record.release_id)
                    owner[record.release_id] = str(service)
                    if record.decision is Decision.DELAY:
                        assert record.next_window is not None
                        for other, slot in before.items():
                            if owner[other] == service:
                                continue  # without a ref, maybe the release itself
                            assert abs(record.next_window - slot) > CLASH, (other, record.reason)
                        open_slots[record.release_id] = record.next_window
                    elif record.decision is Decision.GO:
                        open_slots[record.release_id] = record.request.at
                shown = {b.release_id: b.at for b in store.calendar(since)}
                assert shown == open_slots
        finally:
            store.close()
