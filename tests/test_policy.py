"""Policy files: freeze windows in their own time zones, costs and settings, and the guardrails."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.decide import guardrails
from release_agent.decide.context import evaluate
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import DAYS, Decision, Level, ReleaseRequest
from release_agent.domain.options import Guardrails
from release_agent.domain.policy import (
    Costs,
    DecisionSettings,
    Policy,
    default_policy_path,
    load_policy,
    parse_policy,
)

BERLIN = ZoneInfo("Europe/Berlin")

YEAR_END = """
[[freeze.once]]
name = "year-end"
start = "2026-12-20T00:00"
end = "2027-01-04T00:00"
timezone = "Europe/Berlin"
envs = ["PROD"]
"""

WEEKEND = """
[[freeze.weekly]]
name = "weekend"
start = "FRI 18:00"
end = "MON 06:00"
timezone = "Europe/Berlin"
"""

NIGHTLY = """
[[freeze.weekly]]
name = "nightly"
days = ["MON", "TUE", "WED", "THU", "FRI"]
start = "22:00"
end = "06:00"
timezone = "UTC"
"""

NEW_YORK_WEEKEND = """
[[freeze.weekly]]
name = "us-weekend"
start = "FRI 18:00"
end = "MON 06:00"
timezone = "America/New_York"
envs = ["prod", "production"]
"""


def policy(text: str) -> Policy:
    return parse_policy(tomllib.loads(text))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def frozen(p: Policy, moment: str, env: str = "prod") -> list[str]:
    return [freeze.name for freeze, _ in p.active_freezes(at(moment), env)]


def refusal(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        policy(text)
    return caught.value


# -- one-off freezes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-12-19T23:59:59+01:00", []),
        ("2026-12-20T00:00:00+01:00", ["year-end"]),  # start is inclusive
        ("2026-12-19T23:00:00+00:00", ["year-end"]),  # the same instant, in UTC
        ("2026-12-19T18:00:00-05:00", ["year-end"]),
        ("2027-01-03T23:59:59+01:00", ["year-end"]),
        ("2027-01-04T00:00:00+01:00", []),  # end is exclusive
        ("2027-01-03T23:00:00+00:00", []),
    ],
)
def test_a_one_off_freeze_is_local_to_its_time_zone(moment: str, expected: list[str]) -> None:
    assert frozen(policy(YEAR_END), moment) == expected


def test_a_one_off_freeze_reports_the_end_of_its_occurrence() -> None:
    hits = policy(YEAR_END).active_freezes(at("2026-12-24T12:00+01:00"), "prod")

    assert [end for _, end in hits] == [datetime(2027, 1, 4, tzinfo=BERLIN)]
    assert hits[0][1] == at("2027-01-03T23:00:00+00:00")


def test_a_one_off_freeze_applies_only_to_its_envs() -> None:
    p = policy(YEAR_END)

    assert frozen(p, "2026-12-24T12:00+01:00", "prod") == ["year-end"]
    assert frozen(p, "2026-12-24T12:00+01:00", "PROD") == ["year-end"]
    assert frozen(p, "2026-12-24T12:00+01:00", "staging") == []


def test_a_freeze_without_envs_applies_to_every_environment() -> None:
    p = policy(YEAR_END.replace('envs = ["PROD"]', ""))

    assert p.freezes[0].envs is None
    for env in ("prod", "staging", "dev"):
        assert frozen(p, "2026-12-24T12:00+01:00", env) == ["year-end"]


def test_a_one_off_freeze_with_an_explicit_offset_keeps_it() -> None:
    p = policy(
        '[[freeze.once]]\nname = "cutover"\nstart = "2026-06-01T10:00:00-04:00"\n'
        'end = "2026-06-01T12:00:00-04:00"\ntimezone = "Europe/Berlin"'
    )

    assert frozen(p, "2026-06-01T14:00:00+00:00") == ["cutover"]
    assert frozen(p, "2026-06-01T13:59:59+00:00") == []


def test_toml_date_times_and_dates_are_read_in_the_freeze_s_zone() -> None:
    p = policy(
        '[[freeze.once]]\nname = "launch"\nstart = 2026-12-18T00:00:00\nend = 2026-12-19\n'
        'timezone = "Asia/Tokyo"'
    )

    assert frozen(p, "2026-12-17T15:00:00+00:00") == ["launch"]
    assert frozen(p, "2026-12-18T14:59:59+00:00") == ["launch"]
    assert frozen(p, "2026-12-18T15:00:00+00:00") == []


# -- weekly freezes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-27T17:59:59+01:00", []),  # FRI before 18:00
        ("2026-11-27T18:00:00+01:00", ["weekend"]),  # FRI 18:00, inclusive
        ("2026-11-27T23:59:00+01:00", ["weekend"]),  # across midnight
        ("2026-11-28T12:00:00+01:00", ["weekend"]),  # SAT
        ("2026-11-29T23:00:00+01:00", ["weekend"]),  # SUN night
        ("2026-11-30T00:00:00+01:00", ["weekend"]),  # into the next week
        ("2026-11-30T05:59:59+01:00", ["weekend"]),
        ("2026-11-30T06:00:00+01:00", []),  # MON 06:00, exclusive
        ("2026-11-25T12:00:00+01:00", []),  # WED
    ],
)
def test_a_weekly_span_crosses_midnight_and_the_weekend(moment: str, expected: list[str]) -> None:
    assert frozen(policy(WEEKEND), moment) == expected


def test_a_weekly_span_reports_monday_06_00_as_its_end() -> None:
    hits = policy(WEEKEND).active_freezes(at("2026-11-28T12:00+01:00"), "prod")

    assert [end for _, end in hits] == [datetime(2026, 11, 30, 6, 0, tzinfo=BERLIN)]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-23T21:59:00+00:00", []),  # MON 21:59
        ("2026-11-23T22:00:00+00:00", ["nightly"]),  # MON 22:00
        ("2026-11-24T03:00:00+00:00", ["nightly"]),  # TUE 03:00, MON's night
        ("2026-11-24T05:59:59+00:00", ["nightly"]),
        ("2026-11-24T06:00:00+00:00", []),
        ("2026-11-28T05:00:00+00:00", ["nightly"]),  # SAT 05:00, FRI's night
        ("2026-11-28T22:00:00+00:00", []),  # SAT night: no SAT in days
        ("2026-11-23T03:00:00+00:00", []),  # MON 03:00: SUN's night is not frozen
        ("2026-11-24T00:30:00+01:00", ["nightly"]),  # MON 23:30 UTC seen from +01:00
    ],
)
def test_daily_hours_on_some_days_cross_midnight(moment: str, expected: list[str]) -> None:
    assert frozen(policy(NIGHTLY), moment) == expected


def test_a_sunday_night_freeze_runs_into_monday() -> None:
    p = policy('[[freeze.weekly]]\nname = "sun"\ndays = ["sun"]\nstart = "22:00"\nend = "06:00"')

    assert frozen(p, "2026-11-29T22:00:00+00:00") == ["sun"]
    assert frozen(p, "2026-11-30T05:59:00+00:00") == ["sun"]
    assert frozen(p, "2026-11-30T06:00:00+00:00") == []
    assert frozen(p, "2026-11-30T22:00:00+00:00") == []


WALL_TIMES = st.tuples(
    st.sampled_from(["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]),
    st.integers(min_value=0, max_value=24),
    st.integers(min_value=0, max_value=59),
).filter(lambda t: t[1] < 24 or t[2] == 0)


@settings(deadline=None)  # a shared machine: a slow example is not a wrong one
@given(WALL_TIMES, WALL_TIMES)
def test_any_weekly_span_parses_or_is_refused_at_its_end(
    start: tuple[str, int, int], end: tuple[str, int, int]
) -> None:
    def minute(day: str, hours: int, minutes: int) -> int:
        return (DAYS.index(day) * 1440 + hours * 60 + minutes) % (7 * 1440)

    text = (
        '[[freeze.weekly]]\nname = "span"\n'
        f'start = "{start[0]} {start[1]:02d}:{start[2]:02d}"\n'
        f'end = "{end[0]} {end[1]:02d}:{end[2]:02d}"\n'
    )
    if minute(*start) == minute(*end):
        assert refusal(text).field == "freeze.weekly[0].end"
        return
    (span,) = policy(text).freezes[0].spans  # type: ignore[union-attr]

    assert span == (minute(*start), (minute(*end) - minute(*start)) % (7 * 1440))


def test_a_span_ending_at_sun_24_00_ends_at_monday_midnight() -> None:
    p = policy('[[freeze.weekly]]\nname = "late"\nstart = "SUN 22:00"\nend = "SUN 24:00"')

    assert frozen(p, "2026-11-29T23:59:00+00:00") == ["late"]
    assert frozen(p, "2026-11-30T00:00:00+00:00") == []


def test_a_freeze_in_another_time_zone_than_the_release() -> None:
    p = policy(NEW_YORK_WEEKEND)

    # FRI 18:00 in New York (EST, -05:00) is SAT 00:00 at +01:00
    assert frozen(p, "2026-11-27T23:59:59+01:00") == []
    assert frozen(p, "2026-11-28T00:00:00+01:00") == ["us-weekend"]
    # MON 06:00 in New York is MON 12:00 at +01:00
    assert frozen(p, "2026-11-30T11:59:59+01:00") == ["us-weekend"]
    assert frozen(p, "2026-11-30T12:00:00+01:00") == []
    # Friday 20:00 at +01:00 is still Friday 14:00 in New York
    assert frozen(p, "2026-11-27T20:00:00+01:00") == []


def test_the_same_instant_in_any_offset_gives_the_same_answer() -> None:
    p = policy(NEW_YORK_WEEKEND + NIGHTLY + WEEKEND)
    instant = at("2026-11-27T22:30:00+00:00")

    answers = {
        tuple(
            f.name
            for f, _ in p.active_freezes(instant.astimezone(timezone(timedelta(hours=h))), "prod")
        )
        for h in range(-11, 14)
    }

    assert answers == {("nightly", "weekend")}


# -- daylight saving time -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # autumn: the weekend starts in summer time and ends in winter time
        ("2026-10-23T17:59:59+02:00", []),
        ("2026-10-23T18:00:00+02:00", ["weekend"]),
        ("2026-10-26T05:59:59+01:00", ["weekend"]),
        ("2026-10-26T06:00:00+01:00", []),
        # spring: it starts in winter time and ends in summer time
        ("2026-03-27T17:59:59+01:00", []),
        ("2026-03-27T18:00:00+01:00", ["weekend"]),
        ("2026-03-30T05:59:59+02:00", ["weekend"]),
        ("2026-03-30T06:00:00+02:00", []),
    ],
)
def test_weekly_wall_times_hold_across_daylight_saving_changes(
    moment: str, expected: list[str]
) -> None:
    assert frozen(policy(WEEKEND), moment) == expected


def test_daily_wall_times_hold_on_the_night_the_clocks_go_back() -> None:
    p = policy(
        '[[freeze.weekly]]\nname = "sun-morning"\ndays = ["SUN"]\nstart = "00:00"\n'
        'end = "06:00"\ntimezone = "Europe/Berlin"'
    )

    # 00:00 CEST is 22:00 UTC; 06:00 CET is 05:00 UTC: seven hours, not six
    assert frozen(p, "2026-10-24T21:59:59+00:00") == []
    assert frozen(p, "2026-10-24T22:00:00+00:00") == ["sun-morning"]
    assert frozen(p, "2026-10-25T04:59:59+00:00") == ["sun-morning"]
    assert frozen(p, "2026-10-25T05:00:00+00:00") == []


def test_the_repeated_hour_is_judged_by_the_instant_not_the_wall_clock() -> None:
    p = policy(
        '[[freeze.weekly]]\nname = "early"\ndays = ["SUN"]\nstart = "00:00"\n'
        'end = "02:45"\ntimezone = "Europe/Berlin"'
    )
    # the second 02:30 of 2026-10-25 (CET) is 01:30 UTC, after 02:45 CEST (00:45 UTC)
    second_half_past_two = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)

    assert p.active_freezes(second_half_past_two.astimezone(UTC), "prod") == []
    assert p.active_freezes(second_half_past_two, "prod") == []


# -- next_open ----------------------------------------------------------------------------


def test_next_open_is_the_moment_itself_when_nothing_is_frozen() -> None:
    moment = at("2026-11-25T12:00:00+01:00")

    assert policy(WEEKEND).next_open(moment, "prod") == moment


def test_next_open_is_the_end_of_the_freeze() -> None:
    assert policy(WEEKEND).next_open(at("2026-11-28T12:00+01:00"), "prod") == datetime(
        2026, 11, 30, 6, 0, tzinfo=BERLIN
    )


def test_next_open_chains_overlapping_freezes() -> None:
    # MON 06:00 Berlin (05:00 UTC) is still inside the US weekend (until 11:00 UTC)
    p = policy(WEEKEND + NEW_YORK_WEEKEND)

    assert p.next_open(at("2026-11-28T12:00+01:00"), "prod") == at("2026-11-30T11:00:00+00:00")


def test_next_open_chains_a_one_off_freeze_into_a_weekly_one() -> None:
    # the year-end freeze ends on MON 2027-01-04 00:00 Berlin, inside the US weekend
    p = policy(YEAR_END + NEW_YORK_WEEKEND)

    assert p.next_open(at("2026-12-24T12:00+01:00"), "prod") == at("2027-01-04T11:00:00+00:00")
    # staging is not covered by either freeze
    assert p.next_open(at("2026-12-24T12:00+01:00"), "staging") == at("2026-12-24T12:00+01:00")


def test_next_open_skips_freezes_of_other_environments() -> None:
    p = policy(YEAR_END + WEEKEND)
    moment = at("2026-12-26T12:00+01:00")  # SAT, inside both for prod

    assert p.next_open(moment, "prod") == datetime(2027, 1, 4, 6, 0, tzinfo=BERLIN)
    assert p.next_open(moment, "staging") == datetime(2026, 12, 28, 6, 0, tzinfo=BERLIN)


def test_next_open_gives_up_after_its_limit() -> None:
    always = policy(
        '[[freeze.weekly]]\nname = "always"\n'
        'days = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]\nstart = "00:00"\nend = "00:00"'
    )

    assert always.next_open(at("2026-11-25T12:00+00:00"), "prod", limit=30) is None


# -- costs and settings ---------------------------------------------------------------------


def test_an_empty_policy_has_no_freezes_and_the_defaults() -> None:
    p = parse_policy({})

    assert p.freezes == ()
    assert p.costs == Costs()
    assert p.settings == DecisionSettings()
    # the defaults the issue and the context stage promise
    assert p.settings.heuristic_threshold == 0.6
    assert p.settings.extract_every == 5
    assert p.settings.business_hours == (8, 18)
    assert p.settings.friday_afternoon_from == 12
    assert set(p.costs.failure) == set(Level)
    assert p.costs.failure[Level.LOW] < p.costs.failure[Level.MEDIUM] < p.costs.failure[Level.HIGH]


def test_costs_and_settings_are_read() -> None:
    p = policy(
        """
[decision]
heuristic_threshold = 0.7
extract_every = 10
max_reschedules = 5
horizon_hours = 48
risk_quantile = 0.9
business_hours = [9, 17]
friday_afternoon_from = 14

[costs]
failure = { HIGH = 100 }
delay_per_hour = 0.5
no_go = 20
non_production_factor = 0.25
"""
    )

    assert p.settings == DecisionSettings(
        heuristic_threshold=0.7,
        extract_every=10,
        max_reschedules=5,
        horizon_hours=48,
        risk_quantile=0.9,
        business_hours=(9, 17),
        friday_afternoon_from=14,
    )
    # the levels not named keep their default cost
    defaults = Costs().failure
    assert p.costs.failure == {
        Level.LOW: defaults[Level.LOW],
        Level.MEDIUM: defaults[Level.MEDIUM],
        Level.HIGH: 100.0,
    }
    assert p.costs.delay_per_hour == 0.5
    assert p.costs.no_go == 20.0
    assert p.costs.failure_cost(Level.HIGH) == 100.0
    assert p.costs.failure_cost(Level.HIGH, production=False) == 25.0


# -- malformed policies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "allowed"),
    [
        (
            "colour = 1",
            "policy.colour",
            [
                "calendar",
                "costs",
                "decision",
                "freeze",
                "github",
                "non_production",
                "notify",
                "priors",
                "production",
                "services",
                "teams",
                "teams_dir",
                "timezone",
            ],
        ),
        ("[freeze]\nmonthly = []", "freeze.monthly", ["ics", "once", "weekly"]),
        (
            WEEKEND + 'colour = "red"',
            "freeze.weekly[0].colour",
            ["days", "end", "envs", "name", "start", "timezone"],
        ),
        (
            YEAR_END + "days = []",
            "freeze.once[0].days",
            ["end", "envs", "name", "start", "timezone"],
        ),
        (
            "[costs]\nrollback = 3",
            "costs.rollback",
            ["delay_per_hour", "failure", "no_go", "non_production_factor"],
        ),
        (
            "[costs]\nfailure = { CRITICAL = 3 }",
            "costs.failure.CRITICAL",
            ["HIGH", "LOW", "MEDIUM"],
        ),
        ("[decision]\nthreshold = 0.5", "decision.threshold", None),
    ],
)
def test_unknown_keys_are_named_with_the_allowed_ones(
    text: str, field: str, allowed: list[str] | None
) -> None:
    error = refusal(text)

    assert error.field == field
    if allowed is not None:
        assert error.allowed == allowed
    else:
        assert error.allowed is not None and "heuristic_threshold" in error.allowed


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (WEEKEND.replace("Europe/Berlin", "Mars/Olympus"), "freeze.weekly[0].timezone"),
        (WEEKEND.replace("Europe/Berlin", ""), "freeze.weekly[0].timezone"),
        (YEAR_END.replace("Europe/Berlin", "CEST+2"), "freeze.once[0].timezone"),
        (YEAR_END.replace("2027-01-04T00:00", "2026-12-19T00:00"), "freeze.once[0].end"),
        (YEAR_END.replace("2027-01-04T00:00", "2026-12-20T00:00"), "freeze.once[0].end"),
        (YEAR_END.replace("2026-12-20T00:00", "soon"), "freeze.once[0].start"),
        (YEAR_END.replace('start = "2026-12-20T00:00"', ""), "freeze.once[0].start"),
        (YEAR_END.replace('name = "year-end"', ""), "freeze.once[0].name"),
        (YEAR_END.replace('["PROD"]', '"prod"'), "freeze.once[0].envs"),
        (YEAR_END.replace('["PROD"]', '["prod", ""]'), "freeze.once[0].envs"),
        (WEEKEND.replace("FRI 18:00", "FRIDAY 18:00"), "freeze.weekly[0].start"),
        (WEEKEND.replace("MON 06:00", "MON"), "freeze.weekly[0].end"),
        (WEEKEND.replace("MON 06:00", "MON 6pm"), "freeze.weekly[0].end"),
        (WEEKEND.replace("FRI 18:00", "FRI 25:00"), "freeze.weekly[0].start"),
        (WEEKEND.replace("FRI 18:00", "FRI 18:60"), "freeze.weekly[0].start"),
        (WEEKEND.replace("MON 06:00", "FRI 18:00"), "freeze.weekly[0].end"),
        (WEEKEND.replace('end = "MON 06:00"', ""), "freeze.weekly[0].end"),
        (NIGHTLY.replace('"THU"', '"THURSDAY"'), "freeze.weekly[0].days[3]"),
        (NIGHTLY.replace('["MON", "TUE", "WED", "THU", "FRI"]', "[]"), "freeze.weekly[0].days"),
        (NIGHTLY.replace('"22:00"', '"22h"'), "freeze.weekly[0].start"),
        (NIGHTLY.replace('"06:00"', '"24:30"'), "freeze.weekly[0].end"),
        ("freeze = 3", "freeze"),
        ("[freeze]\nonce = 3", "freeze.once"),
        ("[freeze]\nweekly = [1]", "freeze.weekly[0]"),
        ("[costs]\nno_go = -1", "costs.no_go"),
        ('[costs]\ndelay_per_hour = "cheap"', "costs.delay_per_hour"),
        ("[costs]\nfailure = { LOW = true }", "costs.failure.LOW"),
        ("[costs]\nnon_production_factor = 2", "costs.non_production_factor"),
        ("[decision]\nheuristic_threshold = 1.5", "decision.heuristic_threshold"),
        ("[decision]\nextract_every = 0", "decision.extract_every"),
        ("[decision]\nmax_reschedules = 21", "decision.max_reschedules"),
        ("[decision]\nhorizon_hours = 0", "decision.horizon_hours"),
        ("[decision]\nrisk_quantile = 0.3", "decision.risk_quantile"),
        ("[decision]\nbusiness_hours = [18, 8]", "decision.business_hours"),
        ("[decision]\nbusiness_hours = [8]", "decision.business_hours"),
        ("[decision]\nbusiness_hours = [8, 25]", "decision.business_hours"),
        ("[decision]\nfriday_afternoon_from = 24", "decision.friday_afternoon_from"),
    ],
)
def test_malformed_policies_name_the_key(text: str, field: str) -> None:
    error = refusal(text)

    assert error.field == field
    assert str(error).startswith(field)


def test_a_bad_weekday_lists_the_weekdays() -> None:
    error = refusal(NIGHTLY.replace('"THU"', '"THURSDAY"'))

    assert error.allowed == ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


# -- loading files ------------------------------------------------------------------------


def test_load_policy_reads_an_explicit_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(WEEKEND, encoding="utf-8")

    p = load_policy(path)

    assert [f.name for f in p.freezes] == ["weekend"]
    assert p.source == str(path)


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "nowhere.toml")

    assert caught.value.field == "policy"
    assert "does not exist" in str(caught.value)


def test_a_missing_file_named_by_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASE_AGENT_POLICY", str(tmp_path / "nowhere.toml"))

    with pytest.raises(PolicyError) as caught:
        load_policy()

    assert caught.value.field == "policy"


def test_the_environment_names_the_policy_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "team.toml"
    path.write_text(NIGHTLY, encoding="utf-8")
    monkeypatch.setenv("RELEASE_AGENT_POLICY", str(path))

    assert [f.name for f in load_policy().freezes] == ["nightly"]


def test_a_missing_default_file_means_the_default_policy() -> None:
    assert not default_policy_path().exists()

    p = load_policy()

    assert p == Policy()
    assert p.freezes == ()


def test_the_default_file_is_read_when_present() -> None:
    path = default_policy_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(YEAR_END, encoding="utf-8")

    assert [f.name for f in load_policy().freezes] == ["year-end"]


def test_invalid_toml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[[freeze.weekly]\nname = ", encoding="utf-8")

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert caught.value.field == "policy"
    assert "not valid TOML" in str(caught.value)


def test_a_malformed_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(WEEKEND.replace("Europe/Berlin", "Nowhere/City"), encoding="utf-8")

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert caught.value.field == "freeze.weekly[0].timezone"


# -- guardrails -----------------------------------------------------------------------------


def context_at(moment: str, env: str = "prod"):  # type: ignore[no-untyped-def]
    request = ReleaseRequest(
        service="payments",
        env=env,
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=at(moment),
    )
    return evaluate(request, DecisionSettings())


def test_inside_a_freeze_go_is_forbidden_and_clamped_to_delay() -> None:
    p = policy(WEEKEND + NEW_YORK_WEEKEND)
    rails = guardrails.check(context_at("2026-11-28T12:00+01:00"), p)

    assert rails.forbid_go is True
    assert rails.ceiling is Decision.DELAY
    assert len(rails.reasons) == 2
    assert any("weekend" in reason for reason in rails.reasons)
    assert rails.open_at == at("2026-11-30T11:00:00+00:00")
    assert guardrails.clamp(Decision.GO, rails) is Decision.DELAY
    assert guardrails.clamp(Decision.DELAY, rails) is Decision.DELAY
    assert guardrails.clamp(Decision.NO_GO, rails) is Decision.NO_GO


def test_outside_a_freeze_nothing_is_forbidden() -> None:
    rails = guardrails.check(context_at("2026-11-25T12:00+01:00"), policy(WEEKEND))

    assert rails == Guardrails(forbid_go=False)
    assert guardrails.clamp(Decision.GO, rails) is Decision.GO


def test_a_freeze_of_another_environment_forbids_nothing() -> None:
    rails = guardrails.check(context_at("2026-12-24T12:00+01:00", env="staging"), policy(YEAR_END))

    assert rails.forbid_go is False


@given(st.sampled_from(list(Decision)), st.booleans())
def test_clamp_never_loosens(decision: Decision, forbid_go: bool) -> None:
    rails = Guardrails(forbid_go=forbid_go)
    clamped = guardrails.clamp(decision, rails)

    assert clamped.strictness >= decision.strictness
    assert clamped.strictness >= rails.ceiling.strictness
    assert clamped in (decision, rails.ceiling)
    assert guardrails.clamp(clamped, rails) is clamped
    if forbid_go:
        assert clamped is not Decision.GO


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    st.integers(min_value=-12, max_value=14),
    st.sampled_from(list(Decision)),
)
def test_inside_any_freeze_no_proposal_comes_out_as_go(
    naive: datetime, hours: int, proposal: Decision
) -> None:
    p = policy(WEEKEND + NIGHTLY + NEW_YORK_WEEKEND)
    moment = naive.replace(tzinfo=timezone(timedelta(hours=hours)))
    rails = guardrails.check(context_at(moment.isoformat()), p)
    clamped = guardrails.clamp(proposal, rails)

    assert rails.forbid_go == bool(p.active_freezes(moment, "prod"))
    if rails.forbid_go:
        assert clamped is not Decision.GO
        assert rails.open_at is not None and rails.open_at > moment
        assert p.active_freezes(rails.open_at, "prod") == []
    assert clamped.strictness >= proposal.strictness
