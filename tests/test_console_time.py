"""Times in the console, in a real headless Chromium against a real server.

The planned-time picker must send ``at`` with the offset its time zone uses at that moment;
every time the console shows is 24-hour, ISO-like, with its offset, from one formatter; and
decisions carry their own names (NO_GO, never NO-GO). The zone arithmetic in time.js is
checked against Python's zoneinfo, which reads the same IANA rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release_agent.domain.models import Decision, Heuristic, HeuristicStatus, Provenance
from test_console_e2e import Console, chromium, open_console, serving

pytestmark = pytest.mark.e2e

# Zones whose rules are settled for the years tested, so that the browser's copy of the IANA
# database and the system's agree: whole-hour, half-hour and 45-minute offsets, northern and
# southern summers, a 30-minute DST shift (Lord Howe), and zones without DST.
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "UTC",
]
FIXED = ["+05:45", "-03:30", "+00:00", "+14:00"]
SHOWN = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) ([+-]\d{2}:\d{2})$"
)
TWELVE_HOUR = re.compile(r"(?<![A-Za-z])(?:AM|PM)(?![A-Za-z])")
# Every text node of the page, hidden ones too, one a line (textContent runs table cells
# together, so "07:42 PM" before "search" would read as "PMsearch").
PAGE_TEXT = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walker.nextNode()) parts.push(walker.currentNode.nodeValue);
  return parts.join("\\n");
}"""

# zonedInstant for each [wall, zone]: the ISO text, or null for a wall time the zone skips
ZONED = """async (cases) => {
  const t = await import("/static/time.js");
  return cases.map(([wall, zone]) => {
    try { return t.zonedInstant(wall, zone).iso; }
    catch (error) { if (error instanceof t.TimeError) return null; throw error; }
  });
}"""
FORMATTED = """async (cases) => {
  const t = await import("/static/time.js");
  return cases.map(([iso, zone]) => t.formatTime(iso, zone));
}"""


def zone_of(name: str) -> tzinfo:
    if re.fullmatch(r"[+-]\d{2}:\d{2}", name):
        sign = -1 if name[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
    return ZoneInfo(name)


def expected_at(wall: datetime, zone: str) -> str | None:
    """What the picker must send for ``wall`` in ``zone``: ISO 8601 with the offset in force,
    the earlier instant when the wall time happens twice, None when the zone skips it."""
    tz = zone_of(zone)
    first = wall.replace(tzinfo=tz, fold=0)  # fold=0 is the earlier of two
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None  # clocks went forward over it: it names no instant
    return first.isoformat()


def shown(moment: datetime) -> str:
    """How formatTime must show an aware datetime, in its own offset."""
    offset = moment.strftime("%z")
    return f"{moment.strftime('%a %Y-%m-%d %H:%M')} {offset[:3]}:{offset[3:]}"


def transitions(zone: str, years: range) -> list[datetime]:
    """The UTC instants (to the hour) after which ``zone`` changes its offset."""
    tz = ZoneInfo(zone)
    moment = datetime(years.start, 1, 1, tzinfo=UTC)
    end = datetime(years.stop, 1, 1, tzinfo=UTC)
    found = []
    offset = moment.astimezone(tz).utcoffset()
    while moment < end:
        moment += timedelta(hours=1)
        now = moment.astimezone(tz).utcoffset()
        if now != offset:
            found.append(moment)
            offset = now
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from release_agent.api import create_app

    db = tmp_path_factory.mktemp("console-time") / "console.db"
    with serving(create_app(db_url=f"sqlite:///{db}")) as base:
        yield base


@pytest.fixture(scope="module")
def time_page(browser: Any, server: str) -> Iterator[Any]:
    """A console page to import /static/time.js in."""
    with open_console(browser, server) as console:
        console.open()
        yield console.page


# -- the picker, through the request the console sends -----------------------------------


def test_the_picker_sends_the_offset_of_the_chosen_zone_at_that_moment(
    browser: Any, server: str
) -> None:
    with open_console(browser, server, timezone_id="America/New_York") as console:
        console.open()
        page = console.page
        page.click("#tab-request")
        assert page.input_value("#zone") == "America/New_York", "defaults to the browser's zone"
        page.fill("#pane-request input[name=service]", "billing")
        page.select_option("#zone", "Europe/Berlin")
        for wall, at in [
            ("2026-01-15T10:00", "2026-01-15T10:00:00+01:00"),  # winter: CET
            ("2026-07-15T10:00", "2026-07-15T10:00:00+02:00"),  # summer: CEST
            ("2026-10-25T02:30", "2026-10-25T02:30:00+02:00"),  # twice: the first
        ]:
            page.fill("#at", wall)
            preview = page.text_content("#at-preview") or ""
            assert preview.startswith(f"at = {at}")
            assert ("happens twice" in preview) == wall.endswith("02:30")
            sent, record = console.submit_request()
            assert sent["at"] == at
            assert record["request"]["at"] == at
            assert page.text_content("#verdict time") == shown(datetime.fromisoformat(at))
        assert console.errors == []


def test_the_picker_defaults_to_the_browser_zone_and_empty_means_now(
    browser: Any, server: str
) -> None:
    zone = "America/St_Johns"  # -03:30 in winter, -02:30 in summer
    with open_console(browser, server, timezone_id=zone) as console:
        console.open()
        page = console.page
        page.click("#tab-request")
        page.fill("#pane-request input[name=service]", "billing")
        page.fill("#at", "2026-06-01T09:15")
        assert page.text_content("#at-preview") == "at = 2026-06-01T09:15:00-02:30"
        page.fill("#at", "")
        before = datetime.now(UTC).replace(microsecond=0)
        sent, _ = console.submit_request()
        after = datetime.now(UTC)
        at = datetime.fromisoformat(sent["at"])
        assert before <= at <= after
        assert at.utcoffset() == at.astimezone(ZoneInfo(zone)).utcoffset()


def test_a_time_the_zone_skips_is_refused_on_its_field_before_any_request(
    console_in_berlin: Console, server: str
) -> None:
    console = console_in_berlin
    before = httpx.get(f"{server}/healthz").json()["decisions"]
    page = console.page
    posted: list[str] = []

    def record(request: Any) -> None:
        if request.method == "POST":
            posted.append(request.url)

    page.on("request", record)
    page.click("#tab-request")
    page.fill("#pane-request input[name=service]", "billing")
    page.select_option("#zone", "Europe/Berlin")
    page.fill("#at", "2026-03-29T02:30")  # clocks go from 02:00 to 03:00
    assert "does not exist in Europe/Berlin" in (page.text_content("#at-preview") or "")
    page.click("#submit-request")
    page.wait_for_selector(".field[data-field=at].invalid")
    error = page.text_content(".field[data-field=at] .field-error") or ""
    assert error.startswith("at: 2026-03-29 02:30 does not exist in Europe/Berlin")
    assert page.is_visible("#message")
    assert posted == []
    assert httpx.get(f"{server}/healthz").json()["decisions"] == before


@pytest.fixture
def console_in_berlin(browser: Any, server: str) -> Iterator[Console]:
    with open_console(browser, server, timezone_id="Europe/Berlin") as console:
        console.open()
        yield console


# -- what the page shows -------------------------------------------------------------------


def test_every_time_shown_is_24_hour_with_its_offset_and_no_go_is_named_no_go(
    browser: Any, tmp_path: Path
) -> None:
    from release_agent.api import create_app
    from release_agent.domain.policy import parse_policy

    # A freeze over the Saturday makes its scenario a DELAY with a next window.
    frozen = parse_policy(
        {
            "freeze": {
                "once": [
                    {
                        "name": "saturday",
                        "start": "2026-11-28T00:00",
                        "end": "2026-11-29T00:00",
                        "timezone": "Europe/Berlin",
                    }
                ]
            }
        }
    )
    app = create_app(db_url=f"sqlite:///{tmp_path / 'times.db'}", policy=frozen)
    checked = datetime(2026, 11, 20, 15, 45, tzinfo=UTC)  # 07:45 AM in Los Angeles
    for recommendation in (Decision.NO_GO, Decision.DELAY):
        app.state.agent.store.insert_heuristic(
            Heuristic(
                when={"day_of_week": "FRI", "hour_of_day": {"from": 14, "to": 23}},
                recommendation=recommendation,
                confidence=0.8,
                support=10,
                failures=7,
                successes=3,
                provenance=Provenance.human,
                status=HeuristicStatus.active,
                created_at=checked - timedelta(days=3),
                last_checked=checked,
            )
        )
    viewer = "America/Los_Angeles"  # afternoon and evening there read as PM in en-US
    with serving(app) as base, open_console(browser, base, timezone_id=viewer) as console:
        for scenario in ("friday-low", "saturday-low"):  # DELAYs with a next window
            answer = httpx.post(f"{base}/api/v1/scenarios/{scenario}/run")
            assert answer.status_code == 201
            release_id = answer.json()["release_id"]
        outcome = httpx.post(
            f"{base}/api/v1/decisions/{release_id}/outcome", json={"result": "rolled_back"}
        )
        assert outcome.status_code == 201
        console.open()
        page = console.page
        page.click("button[data-scenario=friday-high-clash]")
        record = console.wait_decided()
        assert record["decision"] == "NO_GO"
        page.wait_for_selector("#heuristics tbody tr")
        assert page.text_content("#verdict .verdict-decision") == "NO_GO"
        assert page.text_content("#heuristics tbody tr .pill") == "NO_GO"
        check_times(page, viewer)
        page.click(f"#history tbody tr[data-id='{release_id}'] button")  # the rolled-back one
        page.wait_for_selector("#outcome .outcome-rolled_back")
        places = check_times(page, viewer)
        assert {"verdict", "history", "heuristics", "outcome", "scenarios"} <= places
        assert (page.text_content("#history .small time") or "").endswith("+01:00")
        assert console.errors == []


def check_times(page: Any, viewer: str) -> set[str]:
    """Assert the page names NO_GO and rolled_back as the API does, shows no 12-hour time,
    and shows every <time> as the instant it stands for, 24-hour, with the offset: in the
    viewer's zone for when something was recorded, else in the time's own offset. Returns
    the ids of the places that show a time."""
    text = page.evaluate(PAGE_TEXT)
    assert "NO-GO" not in text
    assert "rolled back" not in text
    twelve = TWELVE_HOUR.search(text)
    assert twelve is None, text[max(0, twelve.start() - 40) : twelve.end()]
    times = page.locator("time").evaluate_all(
        "nodes => nodes.map(n => [n.getAttribute('datetime'), n.textContent,"
        " n.dataset.zone ?? null, n.closest('[id]').id])"
    )
    for iso, text_shown, zone, place in times:
        assert SHOWN.match(text_shown), (text_shown, place)
        moment = datetime.fromisoformat(iso)
        if zone is not None:
            assert zone == viewer, place
            moment = moment.astimezone(ZoneInfo(zone))
        assert text_shown == shown(moment), (iso, text_shown, place)
    recorded = page.locator(
        "#verdict .decided time, #history td:first-child time, #outcome time, #heuristics time"
    ).evaluate_all("nodes => nodes.map(n => n.dataset.zone ?? null)")
    assert recorded and set(recorded) == {viewer}
    return {place for _, _, _, place in times}


# -- time.js against zoneinfo ----------------------------------------------------------------


def test_wall_times_around_every_transition_match_zoneinfo(time_page: Any) -> None:
    cases: list[tuple[str, str]] = []
    for zone in ZONES:
        tz = ZoneInfo(zone)
        for instant in transitions(zone, range(2025, 2028)):
            local = instant.astimezone(tz).replace(tzinfo=None)
            for quarter in range(-16, 17):  # four hours around it, every 15 minutes
                wall = local + timedelta(minutes=15 * quarter)
                cases.append((wall.strftime("%Y-%m-%dT%H:%M"), zone))
    assert len(cases) > 1000
    got = time_page.evaluate(ZONED, cases)
    want = [expected_at(datetime.fromisoformat(wall), zone) for wall, zone in cases]
    wrong = [(c, g, w) for c, g, w in zip(cases, got, want, strict=True) if g != w]
    assert wrong == []
    assert None in want, "some of these times fall in a gap"


walls = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(st.tuples(walls, st.sampled_from(ZONES + FIXED)), min_size=1, max_size=40))
def test_the_picker_offset_is_zoneinfos_for_any_wall_time(
    time_page: Any, cases: list[tuple[datetime, str]]
) -> None:
    got = time_page.evaluate(ZONED, [(w.strftime("%Y-%m-%dT%H:%M"), z) for w, z in cases])
    assert got == [expected_at(wall, zone) for wall, zone in cases]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cases=st.lists(
        st.tuples(
            st.datetimes(
                min_value=datetime(1990, 1, 1),
                max_value=datetime(2037, 12, 31),
                timezones=st.just(UTC),
            ),
            st.sampled_from(ZONES + FIXED),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_format_time_shows_the_instant_in_the_zone_or_its_own_offset(
    time_page: Any, cases: list[tuple[datetime, str, bool]]
) -> None:
    rows = []
    for moment, zone, own in cases:
        local = moment.astimezone(zone_of(zone))
        # "own": the text carries the zone's offset and formatTime keeps it
        rows.append((local.isoformat(), None) if own else (moment.isoformat(), zone))
    got = time_page.evaluate(FORMATTED, rows)
    assert got == [shown(moment.astimezone(zone_of(zone))) for moment, zone, _ in cases]
