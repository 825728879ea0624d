"""The change calendar over HTTP: the bookings as JSON and as iCalendar, and freeing the
slot of a release that did not go out.

    GET  /api/v1/calendar?from=&to=&env=&team=      the open bookings, earliest first
    GET  /api/v1/calendar.ics?from=&to=&env=&team=  the same as text/calendar (RFC 5545)
    POST /api/v1/calendar/{release_id}/cancel     free a slot: the release did not go
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ..agent import Agent
from ..domain.calendar import Booking
from ..domain.errors import InvalidInput
from ..domain.models import NAME_PATTERN
from ..integrations.ics import calendar as to_ics
from .openapi import Documenter

API = "/api/v1"
ICS_TYPE = "text/calendar; charset=utf-8"


class CalendarPage(BaseModel):
    """The open bookings from ``from`` to ``to``, earliest first; a freed booking (a
    NO_GO, a superseded DELAY, a cancelled release) is never listed."""

    model_config = ConfigDict(extra="forbid")

    items: list[Booking]
    start: datetime = Field(description="the first moment listed (the query's from)")
    end: datetime | None = Field(description="listed up to this moment, or null: no end")
    clash_minutes: int = Field(description="two releases this near clash")


class Cancelled(BaseModel):
    """The booking freed."""

    model_config = ConfigDict(extra="forbid")

    freed: Booking


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
MOMENT = {"format": "date-time"}

From = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=40,
        description="first moment listed, RFC 3339 with a UTC offset (default: now)",
        json_schema_extra=MOMENT,
    ),
]
To = Annotated[
    str | None,
    Query(
        alias="to",
        max_length=40,
        description="list bookings before this moment (at or before from: none)",
        json_schema_extra=MOMENT,
    ),
]
Env = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=NAME_PATTERN.pattern,
        description="only this environment (prod = production)",
    ),
]
Team = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=NAME_PATTERN.pattern,
        description="only this team's bookings (its clash_minutes, too)",
    ),
]


def moment(text: str | None, field: str) -> datetime | None:
    """An RFC 3339 time with its UTC offset, or None; InvalidInput naming ``field``."""
    if text is None:
        return None
    example = "an RFC 3339 time with a UTC offset, e.g. 2026-11-27T16:00:00+01:00"
    if not _RFC3339.fullmatch(text):
        raise InvalidInput(f"must be {example}", field=field)
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        raise InvalidInput(f"{text!r} is no such time; must be {example}", field=field) from None


def span(
    start: str | None, end: str | None, env: str | None
) -> tuple[datetime, datetime | None, str | None]:
    """The query's bounds (``from`` defaults to now) and environment, checked;
    InvalidInput (422) naming the parameter otherwise."""
    # A ``to`` at or before ``from`` is an empty span, not an error: it lists nothing.
    first = moment(start, "from") or datetime.now(UTC)
    last = moment(end, "to")
    if env is not None:
        env = env.strip()
        if not NAME_PATTERN.match(env):
            raise InvalidInput(
                "must be 1-100 characters of letters, digits, '.', '_', '-', '/' or space",
                field="env",
            )
        env = env.lower()
    return first, last, env


def team_filter(team: str | None) -> str | None:
    """A ``team`` query parameter as the team is stored (a request's team is stripped);
    InvalidInput (422) naming ``team`` for one that is no team name."""
    if team is None:
        return None
    name = team.strip()
    if not NAME_PATTERN.match(name):
        raise InvalidInput(
            "must be 1-100 characters of letters, digits, '.', '_', '-', '/' or space, "
            "starting with a letter or digit",
            field="team",
        )
    return name


def install(app: FastAPI, agent: Agent, doc: Documenter, write_lock: threading.Lock) -> None:
    """Add the calendar's routes to ``app``."""

    def clash_minutes(team: str | None) -> int:
        """The team's ``[calendar] clash_minutes`` (the organisation's without a team)."""
        policy = agent.policy if team is None else agent.policy.for_team(team)
        return policy.calendar.clash_minutes

    @app.get(f"{API}/calendar", tags=["calendar"], responses=doc.fails(422, 503))
    def calendar(
        start: From = None, end: To = None, env: Env = None, team: Team = None
    ) -> CalendarPage:
        """The slots booked by GO decisions (at their time) and DELAYs (at their
        window), earliest first; ``team``: only that team's."""
        first, last, chosen = span(start, end, env)
        items = agent.store.calendar(first, last, chosen, team=team_filter(team))
        minutes = clash_minutes(team_filter(team))
        return CalendarPage(items=items, start=first, end=last, clash_minutes=minutes)

    @app.get(
        f"{API}/calendar.ics",
        tags=["calendar"],
        response_class=Response,
        responses={
            200: {
                "description": "The bookings as an iCalendar (RFC 5545) to subscribe to",
                "content": {"text/calendar": {"schema": {"type": "string"}}},
            },
            **doc.fails(422, 503),
        },
    )
    def calendar_ics(
        start: From = None, end: To = None, env: Env = None, team: Team = None
    ) -> Response:
        """The same bookings as ``/calendar``, one event each, as text/calendar."""
        first, last, chosen = span(start, end, env)
        items = agent.store.calendar(first, last, chosen, team=team_filter(team))
        text = to_ics(items, clash_minutes(team_filter(team)))
        return Response(text, media_type=ICS_TYPE)

    @app.post(
        f"{API}/calendar/{{release_id}}/cancel",
        tags=["calendar"],
        responses=doc.fails(404, 409, 503),
    )
    def cancel(release_id: str) -> Cancelled:
        """Free the slot of a release that did not go out (the id or a unique prefix).
        404 for an unknown id, 409 when it holds no slot."""
        with write_lock:
            return Cancelled(freed=agent.store.cancel_booking(release_id))
