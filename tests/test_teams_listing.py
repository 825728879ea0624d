"""Listing by team wherever a listing exists: the change calendar (store, API JSON and
iCalendar, command line), the audit log of overrides and the shadow report (store and
command line). A team's listing holds exactly its own decisions' entries; a bad team is
refused naming the field (422, exit 2).

Store tests run on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api_support import body, client_of, only_problem
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.domain.calendar import BOOKED
from release_agent.domain.models import Decision, DecisionRecord, Level, ReleaseRequest
from release_agent.domain.policy import parse_policy
from release_agent.memory.store import Store

TUESDAY = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
BEFORE = TUESDAY - timedelta(days=1)
POLICY = {"teams": {"payments": {"calendar": {"clash_minutes": 90}}}}
"""payments' releases clash within 90 minutes; everyone else's within the default 30."""


def request(team: str, service: str, hours: float = 0, **fields: Any) -> ReleaseRequest:
    return ReleaseRequest(
        service=service,
        team=team,
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=TUESDAY + timedelta(hours=hours),
        **fields,
    )


def booked(records: list[DecisionRecord], team: str | None = None) -> list[str]:
    """The ids of the records that hold a slot (a GO or a DELAY), of ``team`` or all."""
    return [
        r.release_id
        for r in records
        if r.decision in BOOKED and not r.shadow and team in (None, r.request.team)
    ]


@pytest.fixture
def decided(store: Store) -> list[DecisionRecord]:
    """Five decisions of three teams, two hours apart (no clash between them)."""
    agent = Agent(store, parse_policy(POLICY))
    teams = ["payments", "search", "payments", "default", "ads team"]
    return [agent.decide(request(team, f"svc{i}", hours=2 * i - 4)) for i, team in enumerate(teams)]


# -- the change calendar ----------------------------------------------------------------------


def test_the_store_lists_the_calendar_of_one_team(
    store: Store, decided: list[DecisionRecord]
) -> None:
    every = [b.release_id for b in store.calendar(BEFORE)]
    assert every == booked(decided) and len(every) == 5

    for team in ("payments", "search", "default", "ads team"):
        listed = store.calendar(BEFORE, team=team)
        assert [b.release_id for b in listed] == booked(decided, team)
    assert store.calendar(BEFORE, team="nobody") == []
    assert store.calendar(BEFORE, env="staging", team="payments") == []


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=6))
def test_the_teams_calendars_partition_the_calendar(teams: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'p.db'}")
        try:
            agent = Agent(store, parse_policy({}))
            for i, team in enumerate(teams):
                agent.decide(request(team, f"svc{i}", hours=24 * (i // 2) + 4 * (i % 2)))
            every = {b.release_id for b in store.calendar(BEFORE)}
            parts = [{b.release_id for b in store.calendar(BEFORE, team=t)} for t in "abc"]
        finally:
            store.close()
    assert set().union(*parts) == every
    assert sum(len(part) for part in parts) == len(every)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with client_of(create_app(db_url=database_url, policy=parse_policy(POLICY))) as opened:
        yield opened


def _decide_all(client: TestClient) -> dict[str, list[str]]:
    made: dict[str, list[str]] = {"payments": [], "search": []}
    for i, team in enumerate(["payments", "search", "payments"]):
        at = (TUESDAY + timedelta(hours=2 * i)).isoformat()
        answer = client.post("/api/v1/decisions", json=body(service=f"svc{i}", team=team, at=at))
        assert answer.status_code == 201, answer.text
        made[team].append(answer.json()["release_id"])
    return made


def test_the_api_lists_the_calendar_of_one_team_with_its_clash_minutes(
    client: TestClient,
) -> None:
    made = _decide_all(client)
    window = {"from": BEFORE.isoformat()}

    every = client.get("/api/v1/calendar", params=window).json()
    assert len(every["items"]) == 3 and every["clash_minutes"] == 30
    for team, ids in made.items():
        page = client.get("/api/v1/calendar", params={**window, "team": team}).json()
        assert [item["release_id"] for item in page["items"]] == ids
        assert page["clash_minutes"] == (90 if team == "payments" else 30)
    padded = client.get("/api/v1/calendar", params={**window, "team": "search "}).json()
    assert [item["release_id"] for item in padded["items"]] == made["search"]
    assert client.get("/api/v1/calendar", params={**window, "team": "ads"}).json()["items"] == []


def test_the_icalendar_feed_of_one_team_holds_its_bookings_only(client: TestClient) -> None:
    made = _decide_all(client)

    text = client.get(
        "/api/v1/calendar.ics", params={"from": BEFORE.isoformat(), "team": "payments"}
    ).text
    assert text.count("BEGIN:VEVENT") == 2
    assert all(release_id in text for release_id in made["payments"])
    assert made["search"][0] not in text
    assert "DTEND:20261124T103000Z" in text  # payments' slots last its 90 minutes


@pytest.mark.parametrize("path", ["/api/v1/calendar", "/api/v1/calendar.ics"])
@pytest.mark.parametrize("team", ["pay|ments", "-payments", "a" * 101])
def test_a_bad_team_filter_is_refused_with_422(client: TestClient, path: str, team: str) -> None:
    problem = only_problem(client.get(path, params={"team": team}), 422)

    assert problem["field"] == "team"


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_the_calendar_command_lists_one_teams_bookings(
    tmp_path: Path, database_url: str, decided: list[DecisionRecord]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[teams.payments.calendar]\nclash_minutes = 90\n", encoding="utf-8")
    common = ["calendar", "--from", BEFORE.isoformat(), "--db", database_url]

    listed = _cli(*common, "--team", "payments", "--json")
    assert listed.exit_code == 0, listed.output
    assert [b["release_id"] for b in json.loads(listed.output)] == booked(decided, "payments")
    table = _cli(*common, "--team", "ads team")
    assert table.exit_code == 0 and booked(decided, "ads team")[0] in table.output
    assert booked(decided, "payments")[0] not in table.output
    ics = _cli(*common, "--team", "payments", "--ics", "--policy", str(policy))
    assert ics.exit_code == 0 and ics.output.count("BEGIN:VEVENT") == 2
    assert _cli(*common, "--team", "nobody").output.startswith("no bookings")


@pytest.mark.parametrize("command", [["calendar"], ["overrides"], ["shadow-report"]])
def test_a_bad_team_filter_exits_2_naming_the_option(database_url: str, command: list[str]) -> None:
    result = _cli(*command, "--team", "pay|ments", "--db", database_url)

    assert result.exit_code == 2, result.output
    assert "--team" in result.output and "not a team name" in result.output


# -- the audit log of overrides -------------------------------------------------------------


def test_the_audit_log_of_one_team_holds_its_overrides_only(
    store: Store, database_url: str, decided: list[DecisionRecord]
) -> None:
    agent = Agent(store, parse_policy(POLICY))
    for record in decided[:3]:  # payments, search, payments
        agent.override(record.release_id, Decision.NO_GO, "ops", f"hold {record.release_id}")

    ids = [e.release_id for e in store.override_history(team="payments")]
    assert ids == [decided[0].release_id, decided[2].release_id]
    assert [e.release_id for e in store.override_history(team="search")] == [decided[1].release_id]
    assert store.override_history(team="default") == []
    assert len(store.override_history()) == 3
    assert store.override_history(decided[1].release_id, team="payments") == []

    listed = _cli("overrides", "--team", "payments", "--json", "--db", database_url)
    assert listed.exit_code == 0, listed.output
    assert [e["release_id"] for e in json.loads(listed.output)] == ids
    text = _cli("overrides", "--team", "search", "--db", database_url).output
    assert decided[1].release_id in text and decided[0].release_id not in text


# -- the shadow report ------------------------------------------------------------------------


def test_the_shadow_report_of_one_team_counts_its_shadow_decisions_only(
    store: Store, database_url: str
) -> None:
    agent = Agent(store, parse_policy(POLICY))
    for i, team in enumerate(["payments", "payments", "search", "payments"]):
        agent.decide(request(team, f"svc{i}", hours=2 * i, shadow=True))
    agent.decide(request("payments", "svc9", hours=9))  # not a shadow decision

    assert store.shadow_report().total.total == 4
    assert store.shadow_report(team="payments").total.total == 3
    assert store.shadow_report(team="search").total.total == 1
    assert store.shadow_report(team="default").total.total == 0

    report = _cli("shadow-report", "--team", "payments", "--json", "--db", database_url)
    assert report.exit_code == 0, report.output
    data = json.loads(report.output)
    assert data["decisions"] == 3
    text = _cli("shadow-report", "--team", "search", "--db", database_url).output
    assert text.startswith("shadow decisions: 1;")
