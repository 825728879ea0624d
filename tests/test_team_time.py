"""Team time: the policy's time zone (the day and hour a release is read in, "now", the
freezes without a zone) and its environment patterns (production, the freezes' envs,
the warning for an environment the policy does not name)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.decide.context import evaluate
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Day, Decision, Level, ReleaseRequest
from release_agent.domain.policy import DecisionSettings, parse_policy
from release_agent.memory.store import Store

BERLIN = {"timezone": "Europe/Berlin"}


def request(at: str, env: str = "prod") -> ReleaseRequest:
    return ReleaseRequest(
        service="search",
        env=env,
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=datetime.fromisoformat(at),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'm.db'}")


# -- the time zone ---------------------------------------------------------------------


def test_the_policy_names_its_time_zone_at_the_top_level() -> None:
    policy = parse_policy(BERLIN)
    assert policy.timezone == ZoneInfo("Europe/Berlin")
    assert policy.settings.zone == ZoneInfo("Europe/Berlin")
    assert parse_policy({}).timezone is None
    assert parse_policy({}).settings.zone is UTC


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "+01:00", 3])
def test_an_unknown_time_zone_is_refused_naming_the_key(zone: object) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"timezone": zone})
    assert caught.value.field == "timezone"
    assert "IANA" in str(caught.value)


def test_the_team_keys_belong_at_the_top_not_in_the_decision_table() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"decision": {"timezone": "Europe/Berlin"}})
    assert caught.value.field == "decision"
    assert "top-level" in str(caught.value)
    with pytest.raises(PolicyError) as unknown:
        parse_policy({"decision": {"colour": 1}})
    assert unknown.value.allowed is not None
    assert "timezone" not in unknown.value.allowed
    assert "horizon_hours" in unknown.value.allowed


def test_a_late_utc_hour_is_the_next_day_for_a_berlin_team() -> None:
    # FRI 23:30 UTC is SAT 00:30 in Berlin.
    berlin = evaluate(request("2026-11-27T23:30:00Z"), parse_policy(BERLIN).settings)
    assert (berlin.day_of_week, berlin.hour_of_day) == (Day.SAT, 0)
    assert berlin.attributes()["weekend"] is True
    assert berlin.attributes()["friday_afternoon"] is False
    # The moment keeps the caller's offset; only the reading moves.
    assert berlin.at.utcoffset() == timedelta(0)
    # Without a time zone, a time is read in its own offset, as before.
    own = evaluate(request("2026-11-27T23:30:00Z"), DecisionSettings())
    assert (own.day_of_week, own.hour_of_day) == (Day.FRI, 23)


def test_business_hours_and_friday_afternoon_are_the_team_s() -> None:
    # 07:30 UTC is 08:30 in Berlin in winter: within [8, 18).
    settings_ = parse_policy({**BERLIN, "decision": {"friday_afternoon_from": 12}}).settings
    morning = evaluate(request("2026-11-24T07:30:00Z"), settings_).attributes()
    assert morning["out_of_hours"] is False
    # FRI 11:30 UTC is 12:30 in Berlin: Friday afternoon there.
    friday = evaluate(request("2026-11-27T11:30:00Z"), settings_).attributes()
    assert friday["friday_afternoon"] is True
    assert (
        evaluate(request("2026-11-27T11:30:00Z"), DecisionSettings()).attributes()[
            "friday_afternoon"
        ]
        is False
    )


@settings(max_examples=60, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Apia"]),
    offset_hours=st.integers(-12, 14),
)
def test_day_and_hour_are_those_of_the_team_s_clock(
    instant: datetime, zone: str, offset_hours: int
) -> None:
    asked = instant.astimezone(timezone(timedelta(hours=offset_hours)))
    context = evaluate(request(asked.isoformat()), parse_policy({"timezone": zone}).settings)
    local = instant.astimezone(ZoneInfo(zone))
    assert context.day_of_week is Day.of(local)
    assert context.hour_of_day == local.hour


def test_a_weekly_freeze_without_a_zone_is_read_in_the_team_s(store: Store) -> None:
    weekend = {"name": "weekend", "start": "FRI 18:00", "end": "MON 06:00"}
    berlin = parse_policy({**BERLIN, "freeze": {"weekly": [weekend]}})
    utc = parse_policy({"freeze": {"weekly": [weekend]}})
    # FRI 17:30 UTC is 18:30 in Berlin: frozen there, not yet in UTC.
    moment = datetime.fromisoformat("2026-11-27T17:30:00+00:00")
    assert [f.name for f, _ in berlin.active_freezes(moment, "prod")] == ["weekend"]
    assert utc.active_freezes(moment, "prod") == []
    # A freeze with its own zone keeps it.
    own = {**weekend, "timezone": "UTC"}
    assert (
        parse_policy({**BERLIN, "freeze": {"weekly": [own]}}).active_freezes(moment, "prod") == []
    )
    record = Agent(store, berlin).decide(request("2026-11-27T17:30:00Z"))
    assert record.decision is not Decision.GO
    assert any("weekend" in reason for reason in record.guardrails)


def test_a_weekly_freeze_holds_its_wall_time_across_daylight_saving() -> None:
    policy = parse_policy(
        {
            **BERLIN,
            "freeze": {
                "weekly": [{"name": "standup", "days": ["MON"], "start": "09:00", "end": "10:00"}]
            },
        }
    )
    winter = datetime.fromisoformat("2026-03-23T08:30:00+00:00")  # 09:30 CET
    summer = datetime.fromisoformat("2026-03-30T07:30:00+00:00")  # 09:30 CEST
    summer_before = datetime.fromisoformat("2026-03-30T08:30:00+00:00")  # 10:30 CEST
    assert policy.active_freezes(winter, "prod")
    assert policy.active_freezes(summer, "prod")
    assert not policy.active_freezes(summer_before, "prod")


# -- now ---------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


DECIDE = ["decide", "--service", "search", "--risk", "LOW", "--criticality", "LOW", "--json"]


def test_decide_without_at_is_now_in_the_policy_s_time_zone(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('timezone = "Asia/Kolkata"\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'm.db'}"
    before = datetime.now(UTC)
    result = _cli(*DECIDE, "--policy", str(policy), "--db", db)
    after = datetime.now(UTC)
    assert result.exit_code in (0, 3, 4), result.output
    at = datetime.fromisoformat(json.loads(result.output)["request"]["at"])
    assert at.utcoffset() == timedelta(hours=5, minutes=30)
    assert before - timedelta(seconds=1) <= at <= after + timedelta(seconds=1)


def test_decide_without_at_and_without_a_time_zone_is_now_in_utc(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("", encoding="utf-8")
    result = _cli(*DECIDE, "--policy", str(policy), "--db", f"sqlite:///{tmp_path / 'm.db'}")
    at = datetime.fromisoformat(json.loads(result.output)["request"]["at"])
    assert at.utcoffset() == timedelta(0)


def test_the_api_without_at_is_now_in_the_policy_s_time_zone(tmp_path: Path) -> None:
    app = create_app(
        db_url=f"sqlite:///{tmp_path / 'api.db'}",
        policy=parse_policy({"timezone": "Asia/Kathmandu"}),
    )
    with TestClient(app, base_url="http://localhost") as client:
        answer = client.post(
            "/api/v1/decisions",
            json={"service": "search", "feature_risk": "LOW", "service_criticality": "LOW"},
        )
    assert answer.status_code == 201, answer.text
    at = datetime.fromisoformat(answer.json()["request"]["at"])
    assert at.utcoffset() == timedelta(hours=5, minutes=45)


# -- environments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "production"),
    [
        ("prod", True),
        ("production", True),
        ("prod-eu", True),
        ("live", True),
        ("staging", False),
        ("preprod", False),
        ("dev-1", False),
    ],
)
def test_production_is_matched_by_the_default_patterns(env: str, production: bool) -> None:
    context = evaluate(request("2026-11-24T10:00:00Z", env=env), DecisionSettings())
    assert context.production is production


def test_the_policy_sets_which_environments_are_production() -> None:
    team = parse_policy({"production": ["main", "eu-*"], "non_production": ["prod"]}).settings
    assert evaluate(request("2026-11-24T10:00:00Z", env="main"), team).production is True
    assert evaluate(request("2026-11-24T10:00:00Z", env="EU-West"), team).production is True
    assert evaluate(request("2026-11-24T10:00:00Z", env="prod"), team).production is False


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"production": []}, "production"),
        ({"production": [""]}, "production"),
        ({"production": "prod"}, "production"),
        ({"non_production": [1]}, "non_production"),
    ],
)
def test_bad_environment_patterns_are_refused(data: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(data)
    assert caught.value.field == field


def test_a_freeze_s_envs_are_glob_patterns(store: Store) -> None:
    policy = parse_policy(
        {
            "freeze": {
                "once": [
                    {
                        "name": "regional",
                        "start": "2026-11-24T00:00",
                        "end": "2026-11-25T00:00",
                        "envs": ["prod-*", "prod"],
                    }
                ]
            }
        }
    )
    moment = datetime.fromisoformat("2026-11-24T10:00:00+00:00")
    assert policy.active_freezes(moment, "prod-eu")
    assert policy.active_freezes(moment, "production")  # prod and production alike
    assert not policy.active_freezes(moment, "staging")
    assert not policy.active_freezes(moment, "preprod")
    record = Agent(store, policy).decide(request("2026-11-24T10:00:00Z", env="prod-us"))
    assert record.decision is not Decision.GO


def test_an_environment_the_policy_does_not_name_gets_a_warning(store: Store) -> None:
    record = Agent(store, parse_policy({})).decide(request("2026-11-24T10:00:00Z", "sandbox"))
    assert len(record.warnings) == 1
    assert "'sandbox'" in record.warnings[0]
    assert "non_production" in record.warnings[0]
    notes = [entry for entry in record.trace if entry.stage == "warnings"]
    assert notes and notes[0].detail["warnings"] == record.warnings
    assert record.to_json_dict()["warnings"] == record.warnings
    assert record.context.production is False
    # Stored and read back with it.
    assert store.get_decision(record.release_id).warnings == record.warnings


@pytest.mark.parametrize("env", ["prod", "prod-eu", "staging", "qa-2"])
def test_known_environments_get_no_warning(store: Store, env: str) -> None:
    record = Agent(store, parse_policy({})).decide(request("2026-11-24T10:00:00Z", env))
    assert record.warnings == []
    assert all(entry.stage != "warnings" for entry in record.trace)


def test_naming_an_environment_in_the_policy_silences_its_warning(store: Store) -> None:
    policy = parse_policy({"non_production": ["sandbox", "staging"]})
    record = Agent(store, policy).decide(request("2026-11-24T10:00:00Z", "sandbox"))
    assert record.warnings == []


def test_a_one_off_freeze_without_a_zone_is_in_the_team_s() -> None:
    once = {"name": "launch", "start": "2026-11-24T09:00", "end": "2026-11-24T10:00"}
    berlin = parse_policy({**BERLIN, "freeze": {"once": [once]}})
    assert berlin.active_freezes(datetime.fromisoformat("2026-11-24T08:30:00Z"), "prod")
    assert not berlin.active_freezes(datetime.fromisoformat("2026-11-24T09:30:00Z"), "prod")


def test_now_is_on_the_clock_of_the_team_that_asks(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'timezone = "Europe/Berlin"\n[teams.tokyo]\ntimezone = "Asia/Tokyo"\n', encoding="utf-8"
    )
    db = f"sqlite:///{tmp_path / 'm.db'}"
    tokyo = _cli(*DECIDE, "--team", "tokyo", "--policy", str(policy), "--db", db)
    at = datetime.fromisoformat(json.loads(tokyo.output)["request"]["at"])
    assert at.utcoffset() == timedelta(hours=9)
    other = _cli(*DECIDE, "--team", "web", "--policy", str(policy), "--db", db)
    at = datetime.fromisoformat(json.loads(other.output)["request"]["at"])
    assert at.utcoffset() in (timedelta(hours=1), timedelta(hours=2))


def test_the_text_output_shows_the_warning(tmp_path: Path) -> None:
    result = _cli(
        *DECIDE[:-1],
        *("--env", "sandbox", "--at", "2026-11-24T10:00:00Z"),
        *("--db", f"sqlite:///{tmp_path / 'm.db'}"),
    )
    assert "warnings:" in result.output
    assert "environment 'sandbox' matches no known name" in result.output
