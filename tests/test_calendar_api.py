"""The change calendar over HTTP and as iCalendar: the JSON listing, the text/calendar
export read back by the ``icalendar`` package, escaping of untrusted names, cancelling,
and 422 on bad parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from fastapi.testclient import TestClient

from api_support import body, client_of, new_app, only_problem
from release_agent.domain.calendar import Booking
from release_agent.domain.models import Decision
from release_agent.integrations import ics

FROM = "2026-11-01T00:00:00Z"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return client_of(new_app(tmp_path))


def decide(client: TestClient, **fields: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/decisions", json=body(**fields))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def booking(service: str, at: datetime, **fields: Any) -> Booking:
    data: dict[str, Any] = {
        "release_id": f"id-{service[:8]}",
        "service": service,
        "env": "prod",
        "decision": Decision.GO,
        "at": at,
        "booked_at": at - timedelta(days=1),
        **fields,
    }
    return Booking.model_validate(data)


def events(text: str) -> list[Any]:
    parsed = icalendar.Calendar.from_ical(text)
    return list(parsed.walk("VEVENT"))


def test_the_calendar_lists_what_was_booked(client: TestClient) -> None:
    go = decide(client, service="search")
    delay = decide(client, service="checkout")
    assert delay["decision"] == "DELAY"
    assert delay["context"]["clashes"] == ["search"]
    listed = client.get("/api/v1/calendar", params={"from": FROM})
    assert listed.status_code == 200
    page = listed.json()
    assert [(b["service"], b["decision"]) for b in page["items"]] == [
        ("search", "GO"),
        ("checkout", "DELAY"),
    ]
    assert page["items"][0]["release_id"] == go["release_id"]
    assert page["clash_minutes"] == 30
    assert (
        client.get("/api/v1/calendar", params={"from": FROM, "env": "staging"}).json()["items"]
        == []
    )
    early = client.get("/api/v1/calendar", params={"from": FROM, "to": "2026-11-02T00:00:00Z"})
    assert early.json()["items"] == []
    backwards = client.get("/api/v1/calendar", params={"from": FROM, "to": "2026-10-01T00:00:00Z"})
    assert backwards.status_code == 200 and backwards.json()["items"] == []  # an empty span


def test_the_ics_export_is_valid_icalendar_with_one_event_per_booking(client: TestClient) -> None:
    go = decide(client, service="search")
    delay = decide(client, service="checkout")
    answer = client.get("/api/v1/calendar.ics", params={"from": FROM})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    found = events(answer.text)
    assert [str(e["UID"]) for e in found] == [
        f"{go['release_id']}@release-agent",
        f"{delay['release_id']}@release-agent",
    ]
    first = found[0]
    assert first.decoded("DTSTART") == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert first.decoded("DTEND") == datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert first.decoded("DTSTAMP").tzinfo is not None
    assert str(first["SUMMARY"]) == "search release (prod)"
    assert "\r\n" in answer.text and all(
        len(line.encode()) <= 75 for line in answer.text.split("\r\n")
    )


def test_an_untrusted_name_cannot_inject_a_line_or_an_event() -> None:
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    evil = "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:pwned;a,b\\c"
    text = ics.calendar([booking(evil, at, ref="r;1,2")], 30)
    found = events(text)
    assert len(found) == 1
    summary = "x\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:pwned;a,b\\c release (prod)"
    assert str(found[0]["SUMMARY"]) == summary
    assert "ref r;1,2" in str(found[0]["DESCRIPTION"])
    lines = text.split("\r\n")
    assert lines.count("BEGIN:VEVENT") == 1
    assert not any(line.startswith("SUMMARY:pwned") for line in lines)


def test_long_and_non_ascii_lines_are_folded_and_read_back_whole() -> None:
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    name = "zürich-" + "é" * 60 + "-service"
    found = events(ics.calendar([booking(name, at)], 15))
    assert str(found[0]["SUMMARY"]) == f"{name} release (prod)"
    assert found[0].decoded("DTEND") - found[0].decoded("DTSTART") == timedelta(minutes=15)


def test_cancelling_frees_the_slot(client: TestClient) -> None:
    go = decide(client, service="search")
    freed = client.post(f"/api/v1/calendar/{go['release_id']}/cancel")
    assert freed.status_code == 200, freed.text
    assert freed.json()["freed"]["release_id"] == go["release_id"]
    assert client.get("/api/v1/calendar", params={"from": FROM}).json()["items"] == []
    assert only_problem(client.post(f"/api/v1/calendar/{go['release_id']}/cancel"), 409)
    assert only_problem(client.post("/api/v1/calendar/nope-nope/cancel"), 404)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-01T00:00:00"}, "from"),  # no offset
        ({"to": "2026-11-01T00:00:00"}, "to"),
        ({"env": "-bad"}, "env"),
        ({"env": "x" * 101}, "env"),
    ],
)
def test_bad_parameters_answer_422_naming_them(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    for path in ("/api/v1/calendar", "/api/v1/calendar.ics"):
        problem = only_problem(client.get(path, params=params), 422)
        assert problem["field"] == field, problem


def test_the_openapi_document_types_the_calendar(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    listing = document["paths"]["/api/v1/calendar"]["get"]
    schema = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/CalendarPage")
    assert {p["name"] for p in listing["parameters"]} == {"from", "to", "env", "team"}
    assert "422" in listing["responses"]
    export = document["paths"]["/api/v1/calendar.ics"]["get"]
    assert "text/calendar" in export["responses"]["200"]["content"]
    booked = document["components"]["schemas"]["Booking"]
    assert {"release_id", "service", "env", "decision", "at"} <= set(booked["properties"])
