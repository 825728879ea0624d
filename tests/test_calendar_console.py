"""The console's calendar panel, in a real headless Chromium (see test_console_e2e.py):
upcoming bookings in the viewer's zone, 24-hour ISO-like, names as text, and the link to
subscribe to the iCalendar feed."""

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

    with serving(create_app(db_url=f"sqlite:///{tmp_path / 'calendar.db'}")) as url:
        yield url


def test_the_calendar_panel_lists_upcoming_bookings(browser: Any, base: str) -> None:  # noqa: F811
    # A Tuesday 10:00 UTC a few weeks ahead: upcoming whatever day the test runs.
    ahead = datetime.now(UTC) + timedelta(days=21)
    tuesday = (ahead + timedelta(days=(1 - ahead.weekday()) % 7)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    body = {
        "service": "search",
        "env": "prod",
        "feature_risk": "LOW",
        "service_criticality": "MEDIUM",
        "at": tuesday.isoformat(),
    }
    decided = httpx.post(f"{base}/api/v1/decisions", json=body).json()
    assert decided["decision"] == "GO"
    past = httpx.post(
        f"{base}/api/v1/decisions", json={**body, "service": "blog", "at": "2026-01-06T10:00:00Z"}
    ).json()
    assert past["decision"] == "GO"

    with open_console(browser, base) as console:
        console.open()
        page = console.page
        rows = page.locator("#calendar tbody tr")
        assert rows.count() == 1  # the slot in the past is not upcoming
        cells = [c.strip() for c in rows.first.locator("td").all_text_contents()]
        berlin = tuesday.strftime("%Y-%m-%d") + " 11:00 +01:00"  # Europe/Berlin in winter
        summer = tuesday.strftime("%Y-%m-%d") + " 12:00 +02:00"
        assert cells[0].split(" ", 1)[1] in (berlin, summer)
        assert "AM" not in cells[0] and "PM" not in cells[0]
        assert cells[1:] == ["prod", "search", "GO", decided["release_id"]]
        assert page.get_attribute("#calendar-ics", "href") == "/api/v1/calendar.ics"
        assert "30 minutes" in (page.text_content("#calendar-note") or "")
        assert console.errors == []
