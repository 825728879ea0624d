"""``release-agent calendar``: the table, --json, --ics, --env, the bounds, bad input
(exit 2, nothing written) and ``calendar cancel``."""

from __future__ import annotations

import json
from pathlib import Path

import icalendar
from click.testing import CliRunner, Result

from release_agent.cli import main

AT = "2026-11-24T10:00:00+01:00"
FROM = "2026-11-01"


def run(*args: str, db: str) -> Result:
    return CliRunner().invoke(main, [*args, "--db", db], catch_exceptions=False)


def decide(service: str, db: str, *extra: str) -> dict[str, object]:
    result = run(
        "decide",
        "--service",
        service,
        "--risk",
        "LOW",
        "--criticality",
        "MEDIUM",
        "--at",
        AT,
        "--json",
        *extra,
        db=db,
    )
    return dict(json.loads(result.output))


def test_the_calendar_command_lists_json_table_and_ics(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    go = decide("search", db)
    delay = decide("checkout", db, "--clash", "db-migration")
    assert delay["decision"] == "DELAY"
    assert delay["context"]["clashes"] == ["db-migration", "search"]  # type: ignore[index]

    listed = json.loads(run("calendar", "--from", FROM, "--json", db=db).output)
    assert [(b["service"], b["decision"]) for b in listed] == [
        ("search", "GO"),
        ("checkout", "DELAY"),
    ]
    table = run("calendar", "--from", FROM, db=db)
    assert table.exit_code == 0
    assert table.output.splitlines()[0].startswith("2026-11-24 09:00Z  prod")
    assert str(go["release_id"]) in table.output

    ics = run("calendar", "--from", FROM, "--ics", db=db)
    events = list(icalendar.Calendar.from_ical(ics.output).walk("VEVENT"))
    assert len(events) == 2

    staging = json.loads(
        run("calendar", "--from", FROM, "--env", "staging", "--json", db=db).output
    )
    assert staging == []
    before = run("calendar", "--from", FROM, "--to", "2026-11-24T09:00:00Z", db=db)
    assert before.output.startswith("no bookings before")


def test_cancel_frees_a_slot(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    go = decide("search", db)
    cancelled = run("calendar", "cancel", str(go["release_id"]), "--json", db=db)
    assert cancelled.exit_code == 0
    assert json.loads(cancelled.output)["freed"]["service"] == "search"
    assert json.loads(run("calendar", "--from", FROM, "--json", db=db).output) == []
    again = run("calendar", "cancel", str(go["release_id"]), "--json", db=db)
    assert again.exit_code == 2
    assert json.loads(again.output)["detail"][0]["field"] == "release_id"


def test_bad_input_exits_2_naming_the_option(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    cases = [
        (["--from", "tomorrow"], "--from"),
        (["--to", "2026-11-24T09:00:00"], "--to"),
        (["--from", "2026-11-24T00:00:00Z", "--to", "2026-11-23T00:00:00Z"], "--to"),
        (["--env", "-bad"], "--env"),
        (["--json", "--ics"], "--ics"),
    ]
    for args, field in cases:
        result = run("calendar", *args, "--json", db=db)
        assert result.exit_code == 2, (args, result.output)
        assert json.loads(result.output)["detail"][0]["field"] == field
