"""Freezes from iCalendar (ICS) files: every event of a team's calendar is a freeze.

A policy lists calendars in ``[[freeze.ics]]`` tables::

    [[freeze.ics]]
    source = "freezes.ics"          # a file (relative to the policy file) or an https URL
    envs = ["prod", "prod-*"]       # glob patterns; omit to apply to every environment
    name = "release calendar"       # optional: how reasons name the calendar
    timeout_seconds = 5             # a URL: how long to wait for it
    max_age_minutes = 15            # a URL: how long a fetched copy is used

Every VEVENT is a freeze over its span, ``start <= t < end``: recurrences (RRULE,
RDATE), exceptions (EXDATE, and occurrences moved by RECURRENCE-ID) and time zones
(TZID) are expanded by ``recurring-ical-events``; an all-day event covers whole days in
the policy's time zone, as do times without a zone (floating times); an event or
occurrence whose STATUS is CANCELLED freezes nothing; an event without an end lasts one
day when it is all-day, else no time at all. A freeze's name is the event's SUMMARY,
which is untrusted text: control and bidirectional characters are written as visible
escapes and it is cut to :data:`MAX_SUMMARY` characters.

This module parses and queries; it reads no file and fetches nothing (the policy loader
reads local files, ``release_agent.memory.ics_cache`` fetches URLs).
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from pydantic import BaseModel, StrictFloat, StrictInt, StrictStr, field_validator

from .environments import matches_any, pattern_fault
from .freezes import TABLE_CONFIG, OnceFreeze, refusal

MAX_SUMMARY = 120
"""How many characters of an event's SUMMARY a reason repeats."""
CHUNK = timedelta(days=7)
"""Occurrences are expanded a week at a time (and kept), not once per moment asked."""
_PAD = timedelta(days=2)
"""Expanded beyond each chunk: floating and all-day times may be read in any zone."""
_KEPT_CHUNKS = 256


class IcsError(ValueError):
    """A calendar that cannot be read as iCalendar, with why."""


def visible_text(text: str, limit: int = MAX_SUMMARY) -> str:
    """``text`` on one line, with control, format (bidirectional) and separator
    characters written as escapes, cut to ``limit`` characters: untrusted text shown as
    data."""
    out = []
    for char in text:
        category = unicodedata.category(char)
        if char == " " or category[0] not in "CZ":
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
    shown = "".join(out).strip()
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def is_url(source: str) -> bool:
    return source.strip().lower().startswith(("http://", "https://"))


def url_label(url: str) -> str:
    """A URL as reasons may show it: scheme, host and the file name only. A calendar's
    URL often carries its key (in the path or the query), which is never shown."""
    parts = urlsplit(url.strip())
    name = parts.path.rstrip("/").rsplit("/", 1)[-1]
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…/{name}" if name else f"{parts.scheme}://{host}{port}"


class IcsSource(BaseModel):
    """One ``[[freeze.ics]]`` table."""

    model_config = TABLE_CONFIG

    source: StrictStr
    """A path (relative ones resolve against the policy file's directory) or an http(s)
    URL."""
    envs: tuple[str, ...] | None = None
    """Glob patterns of the environments its events freeze; None: all."""
    name: StrictStr | None = None
    """How reasons name the calendar (default: the path, or the URL's host and file)."""
    timeout_seconds: StrictFloat | StrictInt = 5.0
    """A URL: how long to wait for an answer (0.1 to 60)."""
    max_age_minutes: StrictInt = 15
    """A URL: how long a fetched copy is used before fetching again (0 to 1440)."""

    @field_validator("timeout_seconds")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not 0.1 <= value <= 60:
            raise refusal(f"{value!r} is out of range; must be from 0.1 to 60")
        return float(value)

    @field_validator("max_age_minutes")
    @classmethod
    def _max_age(cls, value: int) -> int:
        if not 0 <= value <= 1440:
            raise refusal(f"{value!r} is out of range; must be from 0 to 1440")
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        value = value.strip()
        if not value or any(not char.isprintable() for char in value):
            raise refusal("must be a file path or an https URL of an iCalendar file")
        if "://" in value and not is_url(value):
            raise refusal(f"{value.split('://')[0]!r} URLs are not supported; use http(s)")
        return value

    @field_validator("envs", mode="before")
    @classmethod
    def _envs(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, list | tuple) or any(pattern_fault(v) for v in value):
            raise refusal('must be a list of environment names or patterns such as ["prod*"]')
        return tuple(v.strip().lower() for v in value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip() or len(value) > 200:
            raise refusal("must be 1-200 characters")
        return value.strip()

    @property
    def is_url(self) -> bool:
        return is_url(self.source)

    @property
    def label(self) -> str:
        if self.name:
            return visible_text(self.name)
        return url_label(self.source) if self.is_url else visible_text(self.source, 200)

    def resolved(self, base: Path | None) -> IcsSource:
        """This source with ``~`` expanded and a relative path made absolute against
        ``base``."""
        if self.is_url:
            return self
        path = Path(self.source).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
        return self if str(path) == self.source else self.model_copy(update={"source": str(path)})

    def applies_to(self, env: str) -> bool:
        return self.envs is None or matches_any(env, self.envs)


class CalendarFreeze(OnceFreeze):
    """One occurrence of a calendar's event, as a freeze."""

    calendar: str
    """The calendar's label."""

    def label(self) -> str:
        return f"'{self.name}' (calendar {self.calendar})"


@dataclass(frozen=True)
class Occurrence:
    summary: str
    start: datetime
    end: datetime


class IcsCalendar:
    """A parsed calendar: the freezes its events make, asked for by moment."""

    def __init__(
        self,
        source: IcsSource,
        calendar: icalendar.Calendar,
        zone: ZoneInfo,
        warning: str | None = None,
    ) -> None:
        self.source = source
        self.zone = zone
        self.warning = warning
        """Said in the decision, e.g. that an old copy was used."""
        self._query = recurring_ical_events.of(calendar)
        self._chunks: dict[int, tuple[Occurrence, ...]] = {}
        self._lock = threading.Lock()

    def with_warning(self, warning: str | None) -> IcsCalendar:
        copy = object.__new__(IcsCalendar)
        copy.__dict__.update(self.__dict__)
        copy.warning = warning
        return copy

    def covering(self, moment: datetime) -> list[Occurrence]:
        """The occurrences whose span contains ``moment`` (aware)."""
        instant = moment.astimezone(UTC)
        return [o for o in self._chunk(instant) if o.start <= instant < o.end]

    def _chunk(self, instant: datetime) -> tuple[Occurrence, ...]:
        index = int((instant - _EPOCH) // CHUNK)
        with self._lock:
            found = self._chunks.get(index)
        if found is not None:
            return found
        start = _EPOCH + index * CHUNK
        try:
            found = tuple(self._expand(start, start + CHUNK))
        except IcsError as error:
            # Fail closed: a week whose events cannot be expanded is frozen.
            found = (Occurrence(f"events that cannot be expanded ({error})", start, start + CHUNK),)
        with self._lock:
            if len(self._chunks) >= _KEPT_CHUNKS:
                self._chunks.clear()
            self._chunks[index] = found
        return found

    def _expand(self, start: datetime, end: datetime) -> list[Occurrence]:
        try:
            events = self._query.between(start - _PAD, end + _PAD)
            out = []
            for event in events:
                occurrence = _occurrence(event, self.zone)
                if occurrence is not None and occurrence.start < end and start < occurrence.end:
                    out.append(occurrence)
            return out
        except IcsError:
            raise
        except Exception as error:  # the library's faults on a malformed series
            raise IcsError(f"cannot expand its events: {visible_text(str(error), 200)}") from None


_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday


def _instant(value: object, zone: ZoneInfo) -> datetime:
    """An event's start or end as a UTC instant: dates and floating times are read in
    ``zone`` (the policy's)."""
    if isinstance(value, datetime):
        local = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return local.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone).astimezone(UTC)
    raise IcsError(f"{visible_text(repr(value), 60)} is not a date or date-time")


def _occurrence(event: Any, zone: ZoneInfo) -> Occurrence | None:
    if str(event.get("STATUS", "")).strip().upper() == "CANCELLED":
        return None
    start_value = event.get("DTSTART")
    if start_value is None:
        return None
    start_dt = start_value.dt
    end_value = event.get("DTEND")
    if end_value is not None:
        end_dt = end_value.dt
    elif event.get("DURATION") is not None:
        end_dt = start_dt + event.get("DURATION").dt
    elif isinstance(start_dt, datetime):
        end_dt = start_dt
    else:
        end_dt = start_dt + timedelta(days=1)
    start, end = _instant(start_dt, zone), _instant(end_dt, zone)
    if end <= start:
        return None
    summary = visible_text(str(event.get("SUMMARY", "") or "")) or "(no summary)"
    # Shown on the team's clock; compared as instants whatever the zone.
    return Occurrence(summary, start.astimezone(zone), end.astimezone(zone))


def parse_ics(data: bytes | str, source: IcsSource, zone: ZoneInfo) -> IcsCalendar:
    """The calendar ``data`` holds; raises IcsError saying what is wrong with it."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as error:
        raise IcsError(f"is not an iCalendar file: {visible_text(str(error), 200)}") from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise IcsError("is not an iCalendar file: it holds no VCALENDAR")
    for index, event in enumerate(calendar.walk("VEVENT")):
        _check_event(event, index)
    try:
        # Builds every series now: a rule that cannot be read fails here.
        return IcsCalendar(source, calendar, zone)
    except Exception as error:
        raise IcsError(
            f"has an event that cannot be read: {visible_text(str(error), 200)}"
        ) from None


def _check_event(event: Any, index: int) -> None:
    """Read every time an event states, so that a broken one fails when the calendar is
    read rather than when a decision expands it."""
    where = f"event {index + 1}"
    summary = event.get("SUMMARY")
    if summary is not None:
        where += f" ({visible_text(str(summary), 40)})"
    if event.get("DTSTART") is None:
        raise IcsError(f"{where} has no DTSTART")
    try:
        for key in ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
            value = event.get(key)
            if value is not None:
                _ = value.dt
        for key in ("EXDATE", "RDATE"):
            values = event.get(key)
            for value in values if isinstance(values, list) else [values] if values else []:
                _ = value.dts
        rule = event.get("RRULE")
        if rule is not None:
            rule.to_ical()
    except Exception as error:
        raise IcsError(f"{where}: {visible_text(str(error), 200)}") from None


@dataclass(frozen=True)
class UnreadableCalendar:
    """A calendar that could not be read and has no copy: whether it freezes a moment is
    unknown, so nothing it may cover is GO."""

    source: IcsSource
    why: str

    @property
    def reason(self) -> str:
        return (
            f"freeze calendar {self.source.label} cannot be read ({self.why}) and no copy "
            "is cached: whether a freeze is in force is unknown"
        )
