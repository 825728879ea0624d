"""Freezes from iCalendar files and URLs: every event a freeze, with recurrences,
exceptions, time zones, all-day and cancelled events; URLs fetched with a timeout and
kept on disk; an unreadable calendar never lets a release go."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from release_agent.agent import Agent
from release_agent.cli import main
from release_agent.decide import ics as ics_stage
from release_agent.decide.context import evaluate
from release_agent.decide.guardrails import check
from release_agent.decide.scheduling import candidate_times
from release_agent.domain.errors import PolicyError
from release_agent.domain.ics import IcsSource, parse_ics
from release_agent.domain.models import Decision, Level, ReleaseRequest
from release_agent.domain.policy import Policy, load_policy, parse_policy
from release_agent.memory.ics_cache import CACHE_ENV, CalendarCache
from release_agent.memory.store import Store


def calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{event.strip()}\r\nEND:VEVENT\r\n" for event in events)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//freezes//EN\r\n{body}END:VCALENDAR\r\n"
    ).replace("\n\n", "\n")


def lines(*parts: str) -> str:
    return "\r\n".join(parts)


WEEKLY = lines(
    "UID:weekly@tests",
    "SUMMARY:Monday release freeze",
    "DTSTART;TZID=Europe/Berlin:20261019T090000",
    "DTEND;TZID=Europe/Berlin:20261019T120000",
    "RRULE:FREQ=WEEKLY;BYDAY=MO",
    "EXDATE;TZID=Europe/Berlin:20261102T090000",
)
ALL_DAY = lines(
    "UID:thanksgiving@tests",
    "SUMMARY:Thanksgiving",
    "DTSTART;VALUE=DATE:20261126",
    "DTEND;VALUE=DATE:20261127",
)
CANCELLED = lines(
    "UID:cancelled@tests",
    "SUMMARY:Called off",
    "DTSTART:20261124T080000Z",
    "DTEND:20261124T200000Z",
    "STATUS:CANCELLED",
)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'm.db'}")


def write_policy(tmp_path: Path, text: str, ics: str | None = None) -> Path:
    folder = tmp_path / "team"
    folder.mkdir(exist_ok=True)
    if ics is not None:
        (folder / "freezes.ics").write_text(ics, encoding="utf-8")
    path = folder / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def local_policy(tmp_path: Path, *events: str, head: str = "", envs: str = "") -> Policy:
    text = f'{head}\n[[freeze.ics]]\nsource = "freezes.ics"\n{envs}\n'
    return load_policy(write_policy(tmp_path, text, calendar(*events)))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def names(policy: Policy, moment: str, env: str = "prod") -> list[str]:
    return [freeze.name for freeze, _ in policy.active_freezes(at(moment), env)]


def request(moment: str, env: str = "prod") -> ReleaseRequest:
    return ReleaseRequest(
        service="search",
        env=env,
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=at(moment),
    )


# -- local files -----------------------------------------------------------------------


def test_a_weekly_event_freezes_each_occurrence_but_its_exdate(tmp_path: Path) -> None:
    policy = local_policy(tmp_path, WEEKLY)
    assert names(policy, "2026-10-19T07:30:00Z") == ["Monday release freeze"]  # 09:30 CEST
    assert names(policy, "2026-11-09T08:30:00Z") == ["Monday release freeze"]  # 09:30 CET
    assert names(policy, "2026-11-02T08:30:00Z") == []  # the EXDATE
    assert names(policy, "2026-11-10T08:30:00Z") == []  # a Tuesday


def test_a_tzid_event_keeps_its_wall_time_across_the_change_of_clocks(tmp_path: Path) -> None:
    # Berlin leaves summer time on 2026-10-25: 09:00 is 07:00 UTC before, 08:00 after.
    policy = local_policy(tmp_path, WEEKLY)
    assert names(policy, "2026-10-19T07:00:00Z") == ["Monday release freeze"]
    assert names(policy, "2026-10-19T10:00:00Z") == []  # 12:00 CEST: over
    assert names(policy, "2026-10-26T07:30:00Z") == []  # 08:30 CET: not yet
    assert names(policy, "2026-10-26T08:00:00Z") == ["Monday release freeze"]
    assert names(policy, "2026-10-26T10:59:00Z") == ["Monday release freeze"]
    ends = [end for _, end in policy.active_freezes(at("2026-10-26T08:00:00Z"), "prod")]
    assert ends == [at("2026-10-26T11:00:00Z")]


def test_an_all_day_event_is_a_whole_day_in_the_policy_s_time_zone(tmp_path: Path) -> None:
    policy = local_policy(tmp_path, ALL_DAY, head='timezone = "America/New_York"')
    assert names(policy, "2026-11-26T04:59:00Z") == []  # 23:59 the day before, New York
    assert names(policy, "2026-11-26T05:00:00Z") == ["Thanksgiving"]
    assert names(policy, "2026-11-27T04:59:00Z") == ["Thanksgiving"]
    assert names(policy, "2026-11-27T05:00:00Z") == []
    utc = local_policy(tmp_path, ALL_DAY)
    assert names(utc, "2026-11-26T00:30:00Z") == ["Thanksgiving"]


def test_a_cancelled_event_freezes_nothing(tmp_path: Path) -> None:
    policy = local_policy(tmp_path, CANCELLED, WEEKLY)
    assert names(policy, "2026-11-24T12:00:00Z") == []


def test_a_cancelled_occurrence_of_a_series_freezes_nothing(tmp_path: Path) -> None:
    moved = lines(
        "UID:weekly@tests",
        "SUMMARY:Monday release freeze",
        "RECURRENCE-ID;TZID=Europe/Berlin:20261116T090000",
        "DTSTART;TZID=Europe/Berlin:20261116T090000",
        "DTEND;TZID=Europe/Berlin:20261116T120000",
        "STATUS:CANCELLED",
    )
    policy = local_policy(tmp_path, WEEKLY, moved)
    assert names(policy, "2026-11-16T08:30:00Z") == []
    assert names(policy, "2026-11-23T08:30:00Z") == ["Monday release freeze"]


def test_an_rdate_adds_an_occurrence(tmp_path: Path) -> None:
    extra = (
        WEEKLY.replace("UID:weekly", "UID:extra") + "\r\nRDATE;TZID=Europe/Berlin:20261111T090000"
    )
    policy = local_policy(tmp_path, extra)
    assert names(policy, "2026-11-11T08:30:00Z") == ["Monday release freeze"]


def test_an_event_freezes_only_the_envs_of_its_calendar(tmp_path: Path) -> None:
    policy = local_policy(tmp_path, WEEKLY, envs='envs = ["prod", "prod-*"]')
    assert names(policy, "2026-10-19T07:30:00Z", "prod-eu") == ["Monday release freeze"]
    assert names(policy, "2026-10-19T07:30:00Z", "staging") == []


def test_a_relative_source_is_read_beside_the_policy_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    policy = local_policy(tmp_path, WEEKLY)
    assert policy.ics[0].source == str(tmp_path / "team" / "freezes.ics")
    assert names(policy, "2026-10-19T07:30:00Z") == ["Monday release freeze"]


def test_a_decision_in_an_event_is_not_go_and_names_its_summary(
    tmp_path: Path, store: Store
) -> None:
    record = Agent(store, local_policy(tmp_path, WEEKLY)).decide(request("2026-10-19T07:30:00Z"))
    assert record.decision is not Decision.GO
    assert "freeze 'Monday release freeze' (calendar " in record.guardrails[0]
    assert "Monday release freeze" in record.reason
    if record.next_window is not None:
        assert record.next_window >= at("2026-10-19T10:00:00Z")


def test_the_window_search_skips_calendar_freezes(tmp_path: Path) -> None:
    long_freeze = lines(
        "UID:long@tests",
        "SUMMARY:Migration",
        "DTSTART:20261124T100000Z",
        "DTEND:20261125T040000Z",
    )
    policy = local_policy(tmp_path, long_freeze)
    before = request("2026-11-24T08:30:00Z")
    guard = check(evaluate(before, policy.settings), policy)
    assert guard.forbid_go is False
    times = candidate_times(before.at, "prod", policy, guard)
    frozen = [t for t in times if at("2026-11-24T10:00:00Z") <= t < at("2026-11-25T04:00:00Z")]
    assert frozen == []
    assert at("2026-11-24T09:00:00Z") in times and at("2026-11-25T04:00:00Z") in times
    inside = check(evaluate(request("2026-11-24T12:00:00Z"), policy.settings), policy)
    assert inside.forbid_go and inside.open_at == at("2026-11-25T04:00:00Z")


def test_a_summary_s_control_characters_are_shown_as_escapes(tmp_path: Path) -> None:
    hostile = lines(
        "UID:x@tests",
        "SUMMARY:Freeze\\, \x1b[31mred\x1b[0m \u202eevil",
        "DTSTART:20261124T100000Z",
        "DTEND:20261124T120000Z",
    )
    policy = local_policy(tmp_path, hostile)
    [name] = names(policy, "2026-11-24T11:00:00Z")
    assert "\x1b" not in name and "\u202e" not in name
    assert "\\x1b[31mred" in name and "\\u202eevil" in name


# -- errors at load --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "this is not a calendar",
        calendar(lines("UID:a", "SUMMARY:No start", "DTEND:20261124T120000Z")),
        calendar(lines("UID:a", "SUMMARY:Bad", "DTSTART:2026-11-24", "DTEND:20261124T120000Z")),
        calendar(
            lines("UID:a", "DTSTART:20261124T100000Z", "DURATION:PT1H", "RRULE:FREQ=SOMETIMES")
        ),
    ],
)
def test_a_broken_local_calendar_is_a_policy_error_naming_it(tmp_path: Path, content: str) -> None:
    path = write_policy(tmp_path, '[[freeze.ics]]\nsource = "freezes.ics"\n', content)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.field == "freeze.ics[0].source"
    assert "freezes.ics" in str(caught.value)


def test_a_missing_local_calendar_is_a_policy_error(tmp_path: Path) -> None:
    path = write_policy(tmp_path, '[[freeze.ics]]\nsource = "nowhere.ics"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert "nowhere.ics" in str(caught.value)


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('source = ""', "freeze.ics[0].source"),
        ('source = "ftp://host/f.ics"', "freeze.ics[0].source"),
        ('source = "https://h/f.ics"\ntimeout_seconds = 0', "freeze.ics[0].timeout_seconds"),
        ('source = "https://h/f.ics"\nenvs = "prod"', "freeze.ics[0].envs"),
        ('source = "https://h/f.ics"\ncolour = 1', "freeze.ics[0].colour"),
    ],
)
def test_a_bad_ics_table_is_refused_naming_the_key(table: str, field: str) -> None:
    import tomllib

    with pytest.raises(PolicyError) as caught:
        parse_policy(tomllib.loads(f"[[freeze.ics]]\n{table}\n"))
    assert caught.value.field == field


def test_the_cli_exits_2_naming_a_broken_calendar(tmp_path: Path) -> None:
    path = write_policy(tmp_path, '[[freeze.ics]]\nsource = "freezes.ics"\n', "garbage")
    db = tmp_path / "cli.db"
    result = CliRunner().invoke(
        main,
        [
            *("decide", "--service", "s", "--risk", "LOW", "--criticality", "LOW"),
            *("--at", "2026-11-24T10:00:00Z", "--policy", str(path), "--db", f"sqlite:///{db}"),
        ],
    )
    assert result.exit_code == 2
    assert "freezes.ics" in result.output
    assert "freeze.ics[0].source" in result.output


# -- URLs ------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    instance = HTTPServer(host="127.0.0.1")
    instance.start()
    yield instance
    if instance.is_running():
        instance.clear()
        instance.stop()


def url_policy(url: str, extra: str = "") -> Policy:
    import tomllib

    return parse_policy(tomllib.loads(f'[[freeze.ics]]\nsource = "{url}"\n{extra}\n'))


def test_a_calendar_url_is_fetched_and_its_events_freeze(
    server: HTTPServer, store: Store, _cache_dir: Path
) -> None:
    server.expect_request("/team/freezes.ics").respond_with_data(
        calendar(WEEKLY), content_type="text/calendar"
    )
    policy = url_policy(server.url_for("/team/freezes.ics"))
    record = Agent(store, policy).decide(request("2026-10-19T07:30:00Z"))
    assert record.decision is not Decision.GO
    assert "Monday release freeze" in record.guardrails[0]
    assert record.warnings == []
    assert len(list(_cache_dir.glob("*.ics"))) == 1
    # Within its max age the copy is used: the server is asked once.
    Agent(store, policy).decide(request("2026-10-20T07:30:00Z"))
    assert len(server.log) == 1


def test_a_url_not_read_yet_counts_as_unreadable() -> None:
    policy = url_policy("https://calendar.example/f.ics")
    assert [c.why for c in policy.unreadable_calendars("prod")] == ["not fetched"]


def test_a_404_without_a_copy_is_not_go_and_says_which_calendar_and_why(
    server: HTTPServer, store: Store
) -> None:
    server.expect_request("/private-s3cr3tk3y/basic.ics").respond_with_data("no", status=404)
    policy = url_policy(server.url_for("/private-s3cr3tk3y/basic.ics"))
    record = Agent(store, policy).decide(request("2026-11-24T10:00:00Z"))
    assert record.decision is Decision.NO_GO
    assert record.next_window is None
    [reason] = record.guardrails
    assert "HTTP 404" in reason and "basic.ics" in reason and "cannot be read" in reason
    text = json.dumps(record.to_json_dict())
    assert "s3cr3tk3y" not in text  # the URL's key is never shown


def test_a_timeout_without_a_copy_is_not_go(server: HTTPServer, store: Store) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(1.0)
        return Response(calendar(WEEKLY), content_type="text/calendar")

    server.expect_request("/slow.ics").respond_with_handler(slow)
    policy = url_policy(server.url_for("/slow.ics"), "timeout_seconds = 0.2")
    record = Agent(store, policy).decide(request("2026-11-24T10:00:00Z"))
    assert record.decision is Decision.NO_GO
    assert "no answer within 0.2 s" in record.guardrails[0]


def test_an_answer_that_is_not_a_calendar_is_unreadable(server: HTTPServer, store: Store) -> None:
    server.expect_request("/f.ics").respond_with_data("<html>login</html>")
    record = Agent(store, url_policy(server.url_for("/f.ics"))).decide(
        request("2026-11-24T10:00:00Z")
    )
    assert record.decision is Decision.NO_GO
    assert "not an iCalendar file" in record.guardrails[0]


def test_the_copy_is_used_when_the_server_is_down(
    server: HTTPServer, store: Store, _cache_dir: Path
) -> None:
    server.expect_request("/f.ics").respond_with_data(calendar(WEEKLY))
    policy = url_policy(server.url_for("/f.ics"), "max_age_minutes = 0")
    Agent(store, policy).decide(request("2026-10-19T07:30:00Z"))
    server.clear()
    server.stop()
    record = Agent(store, policy).decide(request("2026-10-26T08:30:00Z"))
    assert record.decision is not Decision.GO
    assert "Monday release freeze" in record.guardrails[0]
    [warning] = record.warnings
    assert "could not be fetched" in warning and "copy fetched at" in warning
    assert any(entry.stage == "warnings" for entry in record.trace)
    # Outside the calendar's events the copy lets a release go, still with the warning.
    free = Agent(store, policy).decide(request("2026-10-27T10:00:00Z"))
    assert free.guardrails == [] and free.warnings


def test_a_bad_answer_never_replaces_a_good_copy(tmp_path: Path) -> None:
    answers = [calendar(WEEKLY).encode(), b"not a calendar"]
    cache = CalendarCache(tmp_path / "c", fetch=lambda _url, _t: answers.pop(0))
    source = url_policy("https://cal.example/f.ics", "max_age_minutes = 0").ics[0]
    first = cache.read(source, ZoneInfo("UTC"))
    second = cache.read(source, ZoneInfo("UTC"))
    assert first.warning is None  # type: ignore[union-attr]
    assert "not an iCalendar file" in (second.warning or "")  # type: ignore[union-attr]
    assert cache.path_for(source.source).read_bytes() == calendar(WEEKLY).encode()


def test_a_copy_older_than_its_max_age_is_fetched_again(tmp_path: Path) -> None:
    fetched: list[str] = []

    def fetch(url: str, _timeout: float) -> bytes:
        fetched.append(url)
        return calendar(WEEKLY).encode()

    now = [1_000_000.0]
    cache = CalendarCache(tmp_path / "c", fetch=fetch, clock=lambda: now[0])
    source = url_policy("https://cal.example/f.ics", "max_age_minutes = 15").ics[0]
    cache.read(source, ZoneInfo("UTC"))
    path = cache.path_for(source.source)
    import os

    os.utime(path, (now[0], now[0]))
    now[0] += 14 * 60
    cache.read(source, ZoneInfo("UTC"))
    assert len(fetched) == 1
    now[0] += 2 * 60
    cache.read(source, ZoneInfo("UTC"))
    assert len(fetched) == 2


def test_resolve_leaves_a_policy_without_urls_alone(tmp_path: Path) -> None:
    policy = local_policy(tmp_path, WEEKLY)
    assert ics_stage.resolve(policy) is policy


# -- the invariant ---------------------------------------------------------------------

_INLINE = IcsSource(source="inline.ics")
_PARSED = Policy(ics=(_INLINE,), calendars=(parse_ics(calendar(WEEKLY), _INLINE, ZoneInfo("UTC")),))


@settings(max_examples=80, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2026, 10, 19), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    )
)
def test_a_weekly_event_covers_exactly_its_wall_hours_and_never_lets_go(moment: datetime) -> None:
    local = moment.astimezone(ZoneInfo("Europe/Berlin"))
    expected = local.weekday() == 0 and 9 <= local.hour < 12 and local.date() != date(2026, 11, 2)
    assert bool(_PARSED.active_freezes(moment, "prod")) is expected
    guard = check(evaluate(request(moment.isoformat()), _PARSED.settings), _PARSED)
    assert guard.forbid_go is expected


def test_an_unreadable_calendar_blocks_only_its_environments(
    server: HTTPServer, store: Store
) -> None:
    server.expect_request("/f.ics").respond_with_data("gone", status=410)
    policy = url_policy(server.url_for("/f.ics"), 'envs = ["prod*"]')
    blocked = Agent(store, policy).decide(request("2026-11-24T10:00:00Z", "prod-eu"))
    assert blocked.decision is Decision.NO_GO and "HTTP 410" in blocked.guardrails[0]
    free = Agent(store, policy).decide(request("2026-11-24T10:00:00Z", "staging"))
    assert free.guardrails == []


def test_a_url_is_shown_without_its_credentials_or_query() -> None:
    policy = url_policy("https://bot:pw@cal.example:8443/private-k3y/basic.ics?token=t0k")
    label = policy.ics[0].label
    assert label == "https://cal.example:8443/…/basic.ics"
    assert "pw" not in label and "k3y" not in label and "t0k" not in label
    named = url_policy("https://cal.example/x.ics", 'name = "blackouts"').ics[0]
    assert named.label == "blackouts"
