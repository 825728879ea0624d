"""Teams in the console, in a real headless Chromium (see test_console_e2e.py): the
request form sends its team, a decision shows its team, the team filter narrows the
history and the calendar (and the link to its iCalendar feed), a bad team is shown on
its field with nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from test_console_e2e import Console, browser, open_console, serving  # noqa: F401

pytestmark = pytest.mark.e2e


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    from release_agent.api import create_app

    with serving(create_app(db_url=f"sqlite:///{tmp_path / 'teams.db'}")) as url:
        yield url


def upcoming_tuesday() -> datetime:
    """A Tuesday 10:00 UTC a few weeks ahead: upcoming whatever day the test runs."""
    ahead = datetime.now(UTC) + timedelta(days=21)
    return (ahead + timedelta(days=(1 - ahead.weekday()) % 7)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )


def decide(base: str, service: str, team: str | None, at: datetime) -> dict[str, Any]:
    body = {
        "service": service,
        "env": "prod",
        "feature_risk": "LOW",
        "service_criticality": "MEDIUM",
        "at": at.isoformat(),
    }
    if team is not None:
        body["team"] = team
    answer = httpx.post(f"{base}/api/v1/decisions", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_console_asks_for_a_team_shows_it_and_filters_by_it(
    browser: Any,  # noqa: F811
    base: str,
) -> None:
    tuesday = upcoming_tuesday()
    theirs = decide(base, "search", "search team", tuesday)
    ours = decide(base, "ledger", "payments", tuesday + timedelta(hours=2))
    assert theirs["decision"] == ours["decision"] == "GO"

    with open_console(browser, base) as console:
        console.open()
        page = console.page
        page.click("#tab-request")
        page.fill("#pane-request input[name=service]", "billing")
        page.fill("#pane-request input[name=team]", " payments ")
        page.fill("#at", "2026-11-24T10:00")
        sent, record = console.submit_request()

        assert sent["team"] == "payments"
        assert record["request"]["team"] == "payments"
        assert page.text_content("#verdict .verdict-team") == "team payments"
        facts = page.locator("#decision-extra dt").all_text_contents()
        values = page.locator("#decision-extra dd").all_text_contents()
        assert values[facts.index("Team")] == "payments"
        row = page.locator(f"#history tbody tr[data-id='{theirs['release_id']}']")
        assert row.locator("[data-mark=team]").text_content() == "team search team"

        page.fill("#history-filter input[name=team]", "payments")
        with page.expect_response(lambda r: "/api/v1/calendar?team=payments" in r.url):
            page.click("#history-filter button[type=submit]")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#history tbody tr')].length === 2"
        )
        shown = page.locator("#history tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
        assert shown == [record["release_id"], ours["release_id"]]
        marks = page.locator("#history tbody [data-mark=team]").all_text_contents()
        assert marks == ["team payments", "team payments"]
        slots = page.locator("#calendar tbody tr td.mono").all_text_contents()
        assert slots == [ours["release_id"]]
        assert page.get_attribute("#calendar-ics", "href") == "/api/v1/calendar.ics?team=payments"
        assert console.errors == []


def test_an_empty_team_is_the_default_and_a_bad_one_is_shown_on_its_field(
    browser: Any,  # noqa: F811
    base: str,
) -> None:
    with open_console(browser, base) as console:
        console.open()
        page = console.page
        page.click("#tab-request")
        page.fill("#pane-request input[name=service]", "billing")
        page.fill("#at", "2026-11-24T10:00")
        sent, record = console.submit_request()
        assert sent["team"] == "default" and record["request"]["team"] == "default"

        before = httpx.get(f"{base}/healthz").json()["decisions"]
        page.fill("#pane-request input[name=team]", "pay|ments")
        page.click("#submit-request")
        page.wait_for_selector(".field[data-field=team].invalid")
        error = page.text_content(".field[data-field=team] .field-error") or ""
        assert error.startswith("team:")
        assert httpx.get(f"{base}/healthz").json()["decisions"] == before
