"""The console end to end, in a real headless Chromium against a real server.

The server is uvicorn in a thread over a temporary SQLite database; the browser is Debian's
``chromium`` driven by Playwright. The tests skip, saying why, where either is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "console.png"
# The README's screenshot is rewritten only when asked (or missing), so that running the
# tests leaves the working tree clean.
UPDATE_SCREENSHOT = "RELEASE_AGENT_UPDATE_SCREENSHOT"
INJECTION = "<img src=x onerror=alert(1)>"
TOKEN = "console-secret-for-tests"
# The console fixture's browser: a fixed zone and a 12-hour locale, so that the screenshot
# is stable and a time formatted by the locale would show its AM/PM.
BROWSER_ZONE = "Europe/Berlin"
BROWSER_LOCALE = "en-US"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 at a free port; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    instance = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from release_agent.api import create_app

    db = tmp_path_factory.mktemp("console") / "console.db"
    with serving(create_app(db_url=f"sqlite:///{db}")) as base:
        yield base


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright; skips the test where it is missing."""
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


class Console:
    """A page on the console that records dialogs and console errors."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self) -> None:
        """Load the console and wait until it has fetched its data."""
        self.page.goto(self.base + "/")
        self.page.wait_for_selector("body[data-ready=true]")

    def wait_decided(self) -> dict[str, Any]:
        self.page.wait_for_selector("#pipeline[data-state=done]")
        self.page.wait_for_selector("#verdict .verdict-decision")
        release_id = self.page.text_content("#release-id")
        assert release_id
        answer = httpx.get(f"{self.base}/api/v1/decisions/{release_id}")
        assert answer.status_code == 200
        return answer.json()

    def submit_request(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Submit the request form; the body the console sent and the stored decision, once
        the console shows that decision."""
        page = self.page
        with page.expect_response(
            lambda r: r.url.endswith("/api/v1/decisions") and r.request.method == "POST"
        ) as answer:
            page.click("#submit-request")
        response = answer.value
        assert response.status == 201, response.text()
        sent = json.loads(response.request.post_data or "null")
        release_id = response.json()["release_id"]
        page.wait_for_function(
            "id => document.querySelector('#release-id').textContent === id"
            " && document.querySelector('#pipeline').dataset.state === 'done'",
            arg=release_id,
        )
        return sent, httpx.get(f"{self.base}/api/v1/decisions/{release_id}").json()


@contextmanager
def open_console(browser: Any, base: str, **options: Any) -> Iterator[Console]:
    """A fresh browser context on ``base``; ``options`` override the context's defaults
    (a 1280x800 viewport, BROWSER_ZONE, BROWSER_LOCALE)."""
    settings = {
        "viewport": {"width": 1280, "height": 800},
        "timezone_id": BROWSER_ZONE,
        "locale": BROWSER_LOCALE,
    }
    context = browser.new_context(**(settings | options))
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield Console(page, base)
    finally:
        context.close()


@pytest.fixture
def console(browser: Any, server: str) -> Iterator[Console]:
    with open_console(browser, server) as instance:
        yield instance


def test_console_loads_scenarios_and_health_without_errors(console: Console) -> None:
    console.open()
    page = console.page
    assert page.locator("#scenarios button[data-scenario]").count() == 5
    assert "store ok" in (page.text_content("#health") or "")
    stages = page.locator("#pipeline .stage").evaluate_all("rows => rows.map(r => r.dataset.stage)")
    assert stages == [
        "context",
        "guardrails",
        "heuristics",
        "planner",
        "red_team",
        "reflection",
        "decision",
        "memory",
    ]
    assert console.errors == []


def test_run_scenario_shows_decision_then_record_outcome(console: Console, server: str) -> None:
    for scenario in ("monday-low", "tuesday-low"):
        assert httpx.post(f"{server}/api/v1/scenarios/{scenario}/run").status_code == 201
    console.open()
    page = console.page
    page.click("button[data-scenario=friday-high-clash]")
    record = console.wait_decided()

    shown = page.text_content("#verdict .verdict-decision")
    assert shown == record["decision"]
    assert page.get_attribute("#verdict", "data-decision") == record["decision"]
    assert record["reason"] in (page.text_content("#verdict .verdict-reason") or "")
    statuses = dict(
        page.locator("#pipeline .stage").evaluate_all(
            "rows => rows.map(r => [r.dataset.stage, r.dataset.status])"
        )
    )
    traced = {entry["stage"] for entry in record["trace"]}
    for stage in ("context", "guardrails", "heuristics", "planner", "red_team", "decision"):
        assert statuses[stage] == "done", stage
    assert statuses["reflection"] == ("done" if "reflection" in traced else "skipped")
    row = page.locator(f"#history tbody tr[data-id='{record['release_id']}']")
    assert row.count() == 1
    assert page.locator("#history tbody tr").count() == 3

    shot = page.screenshot()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get(UPDATE_SCREENSHOT) or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(shot)

    if record["decision"] == "NO_GO":  # nothing deploys on a NO_GO until a human overrides it
        page.select_option("#override-form select[name=decision]", "GO")
        page.fill("#override-form input[name=by]", "alice")
        page.fill("#override-form input[name=reason]", "the payments fix could not wait")
        page.click("#override-form button[type=submit]")
        page.wait_for_selector("#override-summary")
    page.select_option("#outcome-form select[name=result]", "incident")
    page.fill("#outcome-form input[name=notes]", "payments timed out for 12 minutes")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector("#outcome .outcome-incident")
    stored = httpx.get(f"{server}/api/v1/decisions/{record['release_id']}").json()
    assert stored["outcome"]["result"] == "incident"
    assert stored["outcome"]["notes"] == "payments timed out for 12 minutes"
    page.wait_for_selector(
        f"#history tbody tr[data-id='{record['release_id']}'] .outcome-cell .outcome-incident"
    )
    assert console.errors == []
    assert console.dialogs == []


def test_history_filters_by_decision(console: Console, server: str) -> None:
    console.open()
    page = console.page
    decisions = page.locator("#history tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.decision)"
    )
    assert decisions, "the history is empty"
    wanted = decisions[0]
    page.select_option("#history-filter select[name=decision]", wanted)
    page.wait_for_function(
        "d => [...document.querySelectorAll('#history tbody tr')]"
        ".every(r => r.dataset.decision === d)",
        arg=wanted,
    )
    api = httpx.get(f"{server}/api/v1/decisions", params={"decision": wanted, "limit": 20}).json()
    assert page.locator("#history tbody tr").count() == len(api["items"])


def test_notes_with_html_show_as_text(console: Console, server: str) -> None:
    console.open()
    page = console.page
    page.click("#tab-request")
    page.fill("#pane-request input[name=service]", "billing")
    page.select_option("#pane-request select[name=feature_risk]", "LOW")
    page.fill("#at", "2026-11-24T10:00")
    page.fill("#pane-request textarea[name=notes]", INJECTION)
    _, record = console.submit_request()

    assert record["request"]["notes"] == INJECTION
    assert page.text_content("#request-notes") == INJECTION
    row_notes = page.locator(f"#history tbody tr[data-id='{record['release_id']}'] .notes-line")
    assert row_notes.text_content() == INJECTION
    assert page.locator("img").count() == 0
    page.wait_for_timeout(200)  # give a stray onerror handler time to fire
    assert console.dialogs == []
    assert console.errors == []


def test_a_bad_field_is_shown_on_it_and_nothing_is_stored(console: Console, server: str) -> None:
    before = httpx.get(f"{server}/healthz").json()["decisions"]
    console.open()
    page = console.page
    page.click("#tab-request")
    page.fill("#pane-request input[name=service]", "-billing")
    page.click("#submit-request")
    page.wait_for_selector(".field[data-field=service].invalid")
    error = page.text_content(".field[data-field=service] .field-error") or ""
    assert error.startswith("service:")
    assert page.is_visible("#message")
    assert httpx.get(f"{server}/healthz").json()["decisions"] == before


def test_with_a_token_the_console_asks_for_it(browser: Any, tmp_path: Path) -> None:
    from release_agent.api import create_app

    app = create_app(db_url=f"sqlite:///{tmp_path / 'auth.db'}", token=TOKEN)
    with serving(app) as base, open_console(browser, base) as console:
        console.open()
        page = console.page
        assert page.is_visible("#token-box")
        assert "writes need a token" in (page.text_content("#health") or "")

        page.click("button[data-scenario=monday-low]")
        page.wait_for_selector("#message:not([hidden])")
        assert "token" in (page.text_content("#message") or "")
        assert httpx.get(f"{base}/healthz").json()["decisions"] == 0

        page.fill("#token", TOKEN)
        page.press("#token", "Enter")
        page.click("button[data-scenario=monday-low]")
        record = console.wait_decided()
        assert record["request"]["service"] == "blog"
        assert httpx.get(f"{base}/healthz").json()["decisions"] == 1
        assert console.dialogs == []
