"""A heuristic's confidence reads the same everywhere: the CLI's `heuristics` (text and
--json), the API's /api/v1/heuristics and the console's heuristics table all show
``release_agent.stats.evidence.confidence_text``: the number, then its counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api_support import client_of
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.domain.models import Heuristic, HeuristicStatus
from release_agent.learn.imports import import_memory
from release_agent.memory.seedformat import load_file
from release_agent.memory.store import Store
from release_agent.stats.evidence import confidence_text

MEMORY = Path(__file__).resolve().parent / "data" / "memory.json"


@pytest.fixture
def imported(tmp_path: Path) -> Iterator[tuple[str, list[Heuristic]]]:
    """A SQLite memory with tests/data/memory.json imported: its URL and heuristics."""
    url = f"sqlite:///{tmp_path / 'views.db'}"
    store = Store.open(url)
    import_memory(store, load_file(MEMORY))
    heuristics = store.list_heuristics()
    store.close()
    assert {h.status for h in heuristics} >= {HeuristicStatus.active, HeuristicStatus.rejected}
    yield url, heuristics


def test_the_cli_and_the_api_show_the_same_text(imported: tuple[str, list[Heuristic]]) -> None:
    url, heuristics = imported
    texts = {h.id: confidence_text(h) for h in heuristics}
    # The import judged them by their counts: 9 of 9 LOW/WED/LOW deploys succeeded.
    assert "0.96 (9 of 9 deploys succeeded)" in texts.values()

    shown = CliRunner().invoke(main, ["heuristics", "--db", url], catch_exceptions=False)
    assert shown.exit_code == 0
    for h in heuristics:
        line = next(x for x in shown.output.splitlines() if x.startswith(f"#{h.id} "))
        assert f"confidence {texts[h.id]};" in line

    listed = CliRunner().invoke(main, ["heuristics", "--json", "--db", url])
    as_json = {item["id"]: item for item in json.loads(listed.output)}

    app = create_app(db_url=url)
    with client_of(app) as client:
        answer = client.get("/api/v1/heuristics")
    assert answer.status_code == 200
    from_api = {item["id"]: item for item in answer.json()["items"]}

    assert set(as_json) == set(from_api) == set(texts)
    for hid, text in texts.items():
        assert as_json[hid]["confidence_text"] == from_api[hid]["confidence_text"] == text
        assert as_json[hid]["confidence"] == from_api[hid]["confidence"]
        assert text.startswith(f"{from_api[hid]['confidence']:.2f}")


@pytest.mark.e2e
def test_the_console_shows_the_same_text(imported: tuple[str, list[Heuristic]]) -> None:
    console = pytest.importorskip("test_console_e2e", reason="the console's test helpers")
    url, heuristics = imported
    expected = sorted(confidence_text(h) for h in heuristics)
    with (
        console.chromium() as browser,
        console.serving(create_app(db_url=url)) as base,
        console.open_console(browser, base) as page,
    ):
        page.open()
        page.page.wait_for_selector("#heuristics tbody tr")
        cells: list[Any] = page.page.locator("#heuristics tbody td.confidence").evaluate_all(
            "cells => cells.map(c => c.textContent.trim())"
        )
        assert page.errors == []
    assert sorted(cells) == expected
