"""The console's Override panel, end to end in headless Chromium against a real server:
a NO_GO overridden to GO shows the agent's decision and the human's, with who, why and
when (24-hour, the viewer's zone), text from the request never run as markup; a decision
with an outcome offers no override."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from test_console_e2e import INJECTION, chromium, open_console, serving

pytestmark = pytest.mark.e2e

FRIDAY = "2026-11-27T16:00:00+01:00"
TIME_24H = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{4}-\d\d-\d\d [0-2]\d:[0-5]\d [+-]\d\d:\d\d$"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from release_agent.api import create_app

    db: Path = tmp_path_factory.mktemp("override-console") / "console.db"
    with serving(create_app(db_url=f"sqlite:///{db}")) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


def decide(server: str, service: str, risk: str, at: str) -> dict[str, Any]:
    body = {"service": service, "feature_risk": risk, "service_criticality": risk, "at": at}
    answer = httpx.post(f"{server}/api/v1/decisions", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def open_record(console: Any, release_id: str) -> None:
    console.open()
    page = console.page
    page.click(f"#history tbody tr[data-id='{release_id}'] button")
    page.wait_for_function(
        "id => document.querySelector('#release-id').textContent === id", arg=release_id
    )


def test_override_button_records_and_shows_the_override(browser: Any, server: str) -> None:
    record = decide(server, "payments", "HIGH", FRIDAY)
    assert record["decision"] == "NO_GO"
    with open_console(browser, server) as console:
        open_record(console, record["release_id"])
        page = console.page
        page.select_option("#override-form select[name=decision]", "GO")
        page.fill("#override-form input[name=by]", INJECTION)
        page.fill("#override-form input[name=reason]", f"CAB approved {INJECTION}")
        with page.expect_response(lambda r: r.url.endswith("/override")) as answer:
            page.click("#override-form button[type=submit]")
        assert answer.value.status == 201
        page.wait_for_selector("#override-summary")

        summary = page.text_content("#override-summary") or ""
        assert f"Agent said NO_GO; {INJECTION} decided GO at" in summary
        assert page.text_content("#override-reason") == f"CAB approved {INJECTION}"
        assert page.get_attribute("#verdict", "data-decision") == "GO"
        stamp = page.locator("#override-summary time")
        assert TIME_24H.match(stamp.text_content() or ""), stamp.text_content()
        assert stamp.get_attribute("data-zone") == "Europe/Berlin"
        assert page.locator("#override-summary img").count() == 0
        row = page.locator(f"#history tbody tr[data-id='{record['release_id']}']")
        row.locator("[data-mark=override]").wait_for()  # the history is read again after it
        assert "override (agent: NO_GO)" in (row.text_content() or "")
        assert console.dialogs == [] and console.errors == []
    stored = httpx.get(f"{server}/api/v1/decisions/{record['release_id']}").json()
    assert stored["override"]["by"] == INJECTION and stored["decision"] == "GO"


def test_a_failed_override_says_why_and_a_deployed_one_offers_none(
    browser: Any, server: str
) -> None:
    record = decide(server, "search", "LOW", "2026-11-24T10:00:00+01:00")
    with open_console(browser, server) as console:
        open_record(console, record["release_id"])
        page = console.page
        page.fill("#override-form input[name=by]", "   ")
        page.fill("#override-form input[name=reason]", "why")
        page.click("#override-form button[type=submit]")
        page.wait_for_selector("#message:not([hidden])")
        assert "by" in (page.text_content("#message") or "")

        outcome = httpx.post(
            f"{server}/api/v1/decisions/{record['release_id']}/outcome", json={"result": "success"}
        )
        assert outcome.status_code == 201
        open_record(console, record["release_id"])
        assert page.locator("#override-form").count() == 0
        assert "outcome is recorded" in (page.text_content("#override-panel") or "")
