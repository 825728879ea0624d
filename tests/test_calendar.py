"""The change calendar: what books a slot, what frees it, the clashes a release finds in
it by itself (another release near it, a release of a service it depends on), and DELAYs
that spread out instead of meeting in one slot.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import combinations
from typing import Any

import pytest
import sqlalchemy as sa

from release_agent.agent import Agent
from release_agent.domain.calendar import Booking, FreedReason
from release_agent.domain.errors import Conflict, NotFound, PolicyError, StoreError
from release_agent.domain.models import Decision, ReleaseRequest
from release_agent.domain.policy import Policy, parse_policy
from release_agent.domain.scenarios import CAREFUL_TEAM_PRIORS
from release_agent.memory import migrations, schema
from release_agent.memory.store import Store

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


def policy(**tables: Any) -> Policy:
    return parse_policy(tables)


@pytest.fixture
def agent(database_url: str) -> Iterator[Agent]:
    built = Agent(Store.open(database_url), policy())
    yield built
    built.store.close()


def with_policy(agent: Agent, chosen: Policy) -> Agent:
    agent.policy = chosen
    return agent


def calendar_entry(record: Any) -> dict[str, Any]:
    entries = [t for t in record.trace if t.stage == "calendar"]
    assert len(entries) == 1
    return dict(entries[0].detail)


def everything(store: Store) -> list[Booking]:
    return store.calendar(datetime(2000, 1, 1, tzinfo=UTC))


# -- the policy -------------------------------------------------------------------------


def test_the_calendar_and_services_tables_are_read_and_checked() -> None:
    read = policy(
        calendar={"clash_minutes": 45, "depends_minutes": 90},
        services={
            "checkout": {"depends_on": ["payments"]},
            "payments": {"depends_on": ["checkout"]},
        },
    )
    assert read.calendar.clash_minutes == 45
    assert read.services["checkout"].depends_on == ("payments",)  # a cycle is fine
    assert Policy().calendar.clash_minutes == 30

    bad: list[tuple[dict[str, Any], str]] = [
        ({"calendar": {"clash_minutes": 0}}, "calendar.clash_minutes"),
        ({"calendar": {"clash_minutes": 30.5}}, "calendar.clash_minutes"),
        ({"calendar": {"span": 1}}, "calendar.span"),
        ({"services": {"a": {"depends_on": ["bad\nname"]}}}, "services.a.depends_on[0]"),
        ({"services": {"a": {"depends_on": ["a"]}}}, "services"),
        ({"services": {"a": {"needs": ["b"]}}}, "services.a.needs"),
    ]
    for data, field in bad:
        with pytest.raises(PolicyError) as caught:
            parse_policy(data)
        assert caught.value.field == field, (data, caught.value)


# -- what books and what frees -----------------------------------------------------------


def test_a_go_books_its_time_and_a_delay_its_window(agent: Agent) -> None:
    first = agent.decide(request("search"))
    second = agent.decide(request("checkout"))
    assert first.decision is Decision.GO
    assert second.decision is Decision.DELAY  # it clashes with search at 10:00
    booked = {b.release_id: b for b in everything(agent.store)}
    assert booked[first.release_id].at == first.request.at
    assert booked[first.release_id].decision is Decision.GO
    assert second.next_window is not None
    assert booked[second.release_id].at == second.next_window
    assert booked[second.release_id].decision is Decision.DELAY


def test_a_no_go_books_nothing(agent: Agent) -> None:
    frozen = policy(
        freeze={"once": [{"name": "f", "start": "2026-11-01T00:00", "end": "2026-12-31T00:00"}]}
    )
    with_policy(agent, frozen)
    record = agent.decide(request("search"))
    assert record.decision is Decision.NO_GO
    assert everything(agent.store) == []


def test_a_shadow_decision_books_nothing_but_sees_the_calendar(agent: Agent) -> None:
    agent.decide(request("search"))
    shadow = agent.decide(request("checkout", shadow=True))
    assert shadow.context.clashes == ["search"]
    assert [b.service for b in everything(agent.store)] == ["search"]


def test_the_booking_is_written_in_the_decision_s_transaction(agent: Agent) -> None:
    """A booking that cannot be written takes the decision with it: nothing is stored."""
    record = agent.decide(request("search"))
    clone = record.model_copy(update={"release_id": "clone-" + record.release_id[:8]})
    with agent.store.transaction() as conn:  # the clone's slot is taken under its id
        conn.execute(
            schema.bookings.insert().values(
                release_id=clone.release_id,
                service="x",
                env="prod",
                decision="GO",
                starts_at=record.request.at,
                booked_at=record.created_at,
            )
        )
    with pytest.raises(StoreError):
        agent.store.save_decision(clone, record.context)
    with pytest.raises(NotFound):
        agent.store.get_decision(clone.release_id)


def test_cancelling_frees_the_slot_and_a_freed_booking_never_shows(agent: Agent) -> None:
    record = agent.decide(request("search"))
    freed = agent.store.cancel_booking(record.release_id[:8])  # a unique prefix will do
    assert freed.release_id == record.release_id
    assert everything(agent.store) == []
    with pytest.raises(Conflict):
        agent.store.cancel_booking(record.release_id)
    with pytest.raises(NotFound):
        agent.store.cancel_booking("no-such-release")
    # The slot is free again: the next release at that time finds no clash.
    assert agent.decide(request("checkout")).context.clashes == []
    with agent.store.reading() as conn:
        reason = conn.execute(
            sa.select(schema.bookings.c.freed_reason).where(
                schema.bookings.c.release_id == record.release_id
            )
        ).scalar_one()
    assert reason == FreedReason.not_deployed.value


def test_a_re_asked_delay_frees_its_old_slot_and_is_no_clash_with_itself(agent: Agent) -> None:
    agent.decide(request("search"))
    delayed = agent.decide(request("checkout"))
    assert delayed.decision is Decision.DELAY and delayed.next_window is not None
    again = agent.decide(request("checkout", at=delayed.next_window.isoformat(), delays=1))
    assert "checkout" not in again.context.clashes
    assert calendar_entry(again)["supersedes"] == [delayed.release_id]
    booked = [b.release_id for b in everything(agent.store) if b.service == "checkout"]
    expected = [again.release_id] if again.decision is not Decision.NO_GO else []
    assert booked == expected


def test_a_ref_re_asked_at_its_window_supersedes_its_booking(agent: Agent) -> None:
    agent.decide(request("search"))
    delayed = agent.decide(request("checkout", ref="abc123:prod"))
    assert delayed.decision is Decision.DELAY and delayed.next_window is not None
    # The same ref asked again with no more delays: the stored decision, booked once.
    assert agent.decide(request("checkout", ref="abc123:prod")).release_id == delayed.release_id
    assert [b.service for b in everything(agent.store)].count("checkout") == 1

    again = agent.decide(
        request("checkout", at=delayed.next_window.isoformat(), delays=1, ref="abc123:prod")
    )
    assert again.release_id != delayed.release_id
    assert "checkout" not in again.context.clashes
    checkout = [b for b in everything(agent.store) if b.service == "checkout"]
    assert [b.release_id for b in checkout] == (
        [again.release_id] if again.decision is not Decision.NO_GO else []
    )


def test_without_a_ref_the_same_service_is_no_clash_with_itself(agent: Agent) -> None:
    """A re-run CI job asks again about the release it asked about: its own GO is no
    clash (a ref tells two releases of one service apart)."""
    first = agent.decide(request("search"))
    again = agent.decide(request("search"))
    assert again.context.clashes == []
    assert again.decision is first.decision is Decision.GO


def test_another_ref_of_the_same_service_is_a_clash(agent: Agent) -> None:
    agent.decide(request("search", ref="one:prod"))
    other = agent.decide(request("search", ref="two:prod"))
    assert other.context.clashes == ["search"]


def test_an_override_to_no_go_frees_the_slot_and_back_to_go_books_it(agent: Agent) -> None:
    record = agent.decide(request("search"))
    agent.override(record.release_id, "NO_GO", by="alice", reason="bad build")
    assert everything(agent.store) == []
    agent.override(record.release_id, "GO", by="alice", reason="fixed")
    assert [b.release_id for b in everything(agent.store)] == [record.release_id]


# -- clashes found in the calendar --------------------------------------------------------


def test_a_release_finds_a_booked_release_near_it_and_says_where_each_clash_came_from(
    agent: Agent,
) -> None:
    search = agent.decide(request("search"))
    near = agent.decide(
        request("checkout", at="2026-11-24T10:30:00+01:00", clashes=["db-migration"])
    )
    assert near.context.clashes == ["db-migration", "search"]
    assert near.context.clash is True
    clashes = calendar_entry(near)["clashes"]
    assert [(c["service"], c["source"]) for c in clashes] == [
        ("db-migration", "caller"),
        ("search", "calendar"),
    ]
    assert clashes[1]["release_id"] == search.release_id


def test_the_clash_window_is_the_policy_s(agent: Agent) -> None:
    agent.decide(request("search"))
    later = agent.decide(request("payments", at="2026-11-24T10:45:00+01:00", shadow=True))
    assert later.context.clashes == []  # 45 minutes: outside ±30
    with_policy(agent, policy(calendar={"clash_minutes": 60}))
    wider = agent.decide(request("payments", at="2026-11-24T10:45:00+01:00", shadow=True))
    assert wider.context.clashes == ["search"]


def test_another_environment_is_no_clash_and_production_is_prod(agent: Agent) -> None:
    agent.decide(request("search", env="staging"))
    assert agent.decide(request("checkout", shadow=True)).context.clashes == []
    agent.decide(request("search", env="production"))
    assert agent.decide(request("checkout", shadow=True)).context.clashes == ["search"]


def test_a_release_of_a_service_it_depends_on_clashes_further_away(agent: Agent) -> None:
    with_policy(agent, policy(services={"checkout": {"depends_on": ["payments"]}}))
    agent.decide(request("payments", at="2026-11-24T09:00:00+01:00"))
    dependent = agent.decide(request("checkout", shadow=True))
    unrelated = agent.decide(request("search", shadow=True))
    assert dependent.context.clashes == ["payments"]
    assert [c["source"] for c in calendar_entry(dependent)["clashes"]] == ["depends_on"]
    assert unrelated.context.clashes == []  # an hour away, and search depends on nothing


# -- DELAYs spread out -------------------------------------------------------------------


def _friday_three(agent: Agent) -> list[datetime]:
    windows = []
    for service in ("search", "checkout", "payments"):
        record = agent.decide(request(service, at=FRIDAY_16))
        assert record.decision is Decision.DELAY, record.reason
        assert record.next_window is not None
        windows.append(record.next_window)
    return windows


def test_three_services_decided_at_friday_16_are_not_delayed_to_one_slot(agent: Agent) -> None:
    careful = {"priors": CAREFUL_TEAM_PRIORS}
    with_policy(agent, policy(**careful, calendar={"enabled": False}))
    blind = _friday_three(agent)
    assert len(set(blind)) == 1  # the bug: without the calendar, all meet in one slot

    with_policy(agent, policy(**careful))
    windows = _friday_three(agent)
    assert len(set(windows)) == 3
    for a, b in combinations(windows, 2):
        assert abs(a - b) > timedelta(minutes=30)
    booked = sorted(b.at for b in everything(agent.store))
    assert booked == sorted(windows)  # the calendar off booked nothing


def test_when_every_window_is_booked_the_search_still_offers_them_as_clashing() -> None:
    from release_agent.decide.calendar import Calendar
    from release_agent.decide.scheduling import candidate_times, options
    from release_agent.domain.options import Guardrails
    from release_agent.stats.priors import stated_in
    from release_agent.stats.risk_model import RiskModel

    chosen = policy(decision={"horizon_hours": 3}, priors=CAREFUL_TEAM_PRIORS)
    ask = request("search")
    model = RiskModel.prior(stated_in(chosen.priors))  # a clash triples the odds
    free = options(ask, ask.at, [], chosen, model, Guardrails(forbid_go=False), lambda: ((), 0.0))
    times = candidate_times(ask.at, ask.env, chosen, Guardrails(forbid_go=False))
    taken = tuple(
        Booking(
            release_id=f"r{i}",
            service="other",
            env="prod",
            decision=Decision.GO,
            at=t,
            booked_at=t,
        )
        for i, t in enumerate(times)
    )
    full = options(
        ask, ask.at, [], chosen, model, Guardrails(forbid_go=False), calendar=Calendar(taken)
    )
    assert [w.at for w in full.windows] == [w.at for w in free.windows]
    assert all(
        w.expected_cost > f.expected_cost for w, f in zip(full.windows, free.windows, strict=True)
    )
    some = options(
        ask, ask.at, [], chosen, model, Guardrails(forbid_go=False), calendar=Calendar(taken[:1])
    )
    assert [w.at for w in some.windows] == times[1:]


# -- the migration ------------------------------------------------------------------------


def test_the_migration_books_the_slots_already_decided_that_are_ahead(database_url: str) -> None:
    store = Store.open(database_url)
    agent = Agent(store, policy())
    soon = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    ahead = agent.decide(request("search", at=soon.isoformat()))
    past = agent.decide(request("blog", at="2026-01-05T10:00:00+00:00"))
    assert {ahead.decision, past.decision} == {Decision.GO}
    with store.transaction() as conn:  # back to the schema before migration 8
        schema.bookings.drop(conn)
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE version = 8"))
    store.close()

    reopened = Store.open(database_url)
    assert 8 in migrations.applied_versions(reopened.engine)
    assert [b.release_id for b in everything(reopened)] == [ahead.release_id]
    reopened.close()


def test_clash_windows_are_inclusive_and_each_service_is_named_once() -> None:
    from release_agent.decide.calendar import Calendar

    noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def at(service: str, minutes: int, i: int) -> Booking:
        moment = noon + timedelta(minutes=minutes)
        data = {"release_id": f"r{i}", "service": service, "env": "prod", "decision": "GO"}
        return Booking.model_validate({**data, "at": moment, "booked_at": moment})

    calendar = Calendar(
        (
            at("far", 31, 0),
            at("edge", -30, 1),
            at("edge", 10, 2),
            at("dep", 120, 3),
            at("dep-too-far", -121, 4),
        ),
        Policy().calendar,
        frozenset({"dep", "dep-too-far"}),
    )
    found = calendar.clashes_at(noon)
    assert [(c.service, c.source, c.release_id) for c in found] == [
        ("edge", "calendar", "r2"),  # its nearest booking
        ("dep", "depends_on", "r3"),
    ]
    assert calendar.booked(noon) and not calendar.booked(noon + timedelta(hours=5))
    assert Calendar((at("edge", -30, 1),)).booked(noon)  # exactly 30 minutes: a clash
    assert not Calendar((at("far", 31, 0),)).booked(noon)
