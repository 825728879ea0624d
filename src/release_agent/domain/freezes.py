"""Freeze windows: spans of time in which nothing may go out, each in its own time zone.

Freezes are the ``[freeze]`` table of the policy file (see :mod:`.policy`)::

    [[freeze.once]]             # a one-off date range, local to its time zone
    name = "year-end"
    start = "2026-12-20T00:00"  # or a TOML date-time or date
    end = "2027-01-04T00:00"
    timezone = "Europe/Berlin"  # an IANA name; default: the policy's timezone, else UTC
    envs = ["prod", "prod-*"]   # names or glob patterns; omit to apply to every environment

    [[freeze.weekly]]           # a span of the week: from FRI 18:00 to MON 06:00
    name = "weekend"
    start = "FRI 18:00"
    end = "MON 06:00"

    [[freeze.weekly]]           # or the same hours on some days; may cross midnight
    name = "nightly"
    days = ["MON", "TUE", "WED", "THU", "FRI"]
    start = "22:00"             # start == end freezes the whole day
    end = "06:00"

``[[freeze.ics]]`` lists calendars whose events are freezes (see :mod:`.ics`).

A freeze covers ``start <= t < end``. Wall times are local to the freeze's time zone, so
they hold across daylight saving changes; instants are compared in UTC.

Each table is a pydantic model that refuses unknown keys; a bad value raises a
``ValidationError`` whose location names the key, and :func:`.policy.parse_policy` turns
it into a :class:`~.errors.PolicyError`. Validators raise :func:`refusal`: a message
written for the user and, for a closed set, the values allowed.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .environments import matches_any, pattern_fault
from .models import DAYS, Day

DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES

TABLE_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
"""Every table of the policy file: unknown keys refused, immutable once read, and no
float is ever nan or infinite."""

_UTC = ZoneInfo("UTC")
_WEEKDAYS = [day.value for day in DAYS]
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)


def refusal(message: str, allowed: list[str] | None = None) -> PydanticCustomError:
    """A validation error written for the user, with the values allowed if a closed set."""
    return PydanticCustomError("policy", message, {"allowed": allowed} if allowed else None)


def _clock(text: str) -> int:
    """Minutes after midnight of ``HH:MM`` (``24:00`` is the end of the day)."""
    match = _CLOCK.fullmatch(text.strip())
    if match is not None:
        hours, minutes = int(match[1]), int(match[2])
        if (hours < 24 and minutes < 60) or (hours, minutes) == (24, 0):
            return hours * 60 + minutes
    raise refusal(f"{text!r} is not a time of day such as 18:00")


def _week_clock(text: str) -> int:
    """Minutes after Monday 00:00 of ``DAY HH:MM``."""
    parts = text.split()
    if len(parts) != 2 or parts[0].upper() not in _WEEKDAYS:
        raise refusal(f"{text!r} is not a weekday and time such as 'FRI 18:00'", allowed=_WEEKDAYS)
    return _WEEKDAYS.index(parts[0].upper()) * DAY_MINUTES + _clock(parts[1])


def _weekday(value: object) -> Day:
    if isinstance(value, str) and value.upper() in _WEEKDAYS:
        return Day(value.upper())
    raise refusal(f"{value!r} is not a weekday", allowed=_WEEKDAYS)


Weekday = Annotated[Day, BeforeValidator(_weekday)]
"""A day of the week, in any case (``"fri"`` is ``FRI``)."""


class Freeze(BaseModel):
    """A window in which nothing may go out (to the listed environments)."""

    model_config = TABLE_CONFIG

    name: StrictStr
    timezone: ZoneInfo = _UTC
    """The zone of the freeze's wall times (and of a one-off date-time without offset)."""
    envs: frozenset[str] | None = None
    """Environment names or glob patterns, lower case (see :mod:`.environments`); None:
    all."""

    @model_validator(mode="before")
    @classmethod
    def _policy_zone(cls, data: object, info: ValidationInfo) -> object:
        # A freeze without its own time zone is read in the policy's (parse_policy passes
        # it as the validation context); without one, in UTC.
        zone = (info.context or {}).get("timezone")
        if zone is not None and isinstance(data, dict) and "timezone" not in data:
            return {**data, "timezone": zone}
        return data

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise refusal("every freeze needs a name")
        return name.strip()

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> ZoneInfo:
        if isinstance(value, ZoneInfo):
            return value
        if isinstance(value, str):
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        raise refusal(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin")

    @field_validator("envs", mode="before")
    @classmethod
    def _envs(cls, value: object) -> frozenset[str] | None:
        if value is None:
            return None
        if not isinstance(value, list | tuple | frozenset | set) or any(
            pattern_fault(env) for env in value
        ):
            raise refusal('must be a list of environment names or patterns such as ["prod*"]')
        return frozenset(env.strip().lower() for env in value)

    def applies_to(self, env: str) -> bool:
        """True for every environment when none are listed, else when a name or glob
        pattern matches; ``prod`` and ``production`` name the same environment."""
        return self.envs is None or matches_any(env, self.envs)

    def label(self) -> str:
        """How a reason names this freeze."""
        return f"'{self.name}'"

    @abstractmethod
    def occurrence(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence of this freeze that contains ``moment`` (aware), or None."""


class OnceFreeze(Freeze):
    """A one-off range of date-times; naive ones are local to the freeze's time zone."""

    start: datetime
    end: datetime

    @field_validator("start", "end", mode="before")
    @classmethod
    def _local(cls, value: object, info: ValidationInfo) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time())
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise refusal(f"{value!r} is not a date-time such as 2026-12-20T00:00") from None
        else:
            raise refusal("must be a date-time such as 2026-12-20T00:00")
        # A bad time zone is reported on its own key; read the date-time in UTC meanwhile.
        zone = info.data.get("timezone", _UTC)
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end.astimezone(UTC) <= start.astimezone(UTC):
            raise refusal(f"must be after start ({start.isoformat()})")
        return end

    def occurrence(self, moment: datetime) -> tuple[datetime, datetime] | None:
        # Compare instants in UTC: Python compares two times of the same zone by their
        # wall clocks, which is wrong in the hour a clock change repeats.
        instant = moment.astimezone(UTC)
        if self.start.astimezone(UTC) <= instant < self.end.astimezone(UTC):
            return self.start, self.end
        return None


class WeeklyFreeze(Freeze):
    """A weekly span (``start = "FRI 18:00"``) or daily hours on some ``days``
    (``start = "22:00"``); either may cross midnight and the end of the week."""

    days: tuple[Weekday, ...] | None = None
    start: str
    """Normalised: ``HH:MM`` with ``days``, ``DAY HH:MM`` without."""
    end: str

    @field_validator("days", mode="before")
    @classmethod
    def _some_days(cls, value: object) -> object:
        if value is not None and (not isinstance(value, list | tuple) or not value):
            raise refusal('must be a non-empty list of weekdays such as ["MON", "FRI"]')
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _wall_time(cls, value: object, info: ValidationInfo) -> str:
        # Days that failed validation are absent: the value is then read as a span, and
        # the error on days is reported first.
        if info.data.get("days") is None:
            if not isinstance(value, str):
                raise refusal("must be a weekday and time such as 'FRI 18:00'")
            # SUN 24:00 is MON 00:00.
            day, minute = divmod(_week_clock(value) % WEEK_MINUTES, DAY_MINUTES)
            return f"{_WEEKDAYS[day]} {minute // 60:02d}:{minute % 60:02d}"
        if isinstance(value, time):
            if value.second or value.microsecond or value.tzinfo:
                raise refusal(f"{value.isoformat()} is not a whole minute such as 18:00")
            return f"{value.hour:02d}:{value.minute:02d}"
        if not isinstance(value, str):
            raise refusal("must be a time of day such as 18:00")
        minutes = _clock(value)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    @field_validator("end")
    @classmethod
    def _not_empty(cls, end: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if info.data.get("days") is None and start is not None and start == end:
            raise refusal("start and end are the same moment")
        return end

    @cached_property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """Occurrences as (start minute of the week, duration in minutes), local time."""
        if self.days is None:
            start, end = _week_clock(self.start), _week_clock(self.end)
            return ((start, (end - start) % WEEK_MINUTES),)
        start, end = _clock(self.start), _clock(self.end)
        # Equal start and end freeze the whole day.
        duration = (end - start) % DAY_MINUTES or DAY_MINUTES
        return tuple((_WEEKDAYS.index(day) * DAY_MINUTES + start, duration) for day in self.days)

    def occurrence(self, moment: datetime) -> tuple[datetime, datetime] | None:
        instant = moment.astimezone(UTC)
        local = moment.astimezone(self.timezone)
        monday = local.date() - timedelta(days=local.weekday())
        for start_minute, duration in self.spans:
            # An occurrence that began last week may still be running.
            for week in (0, -7):
                wall = datetime.combine(monday + timedelta(days=week), time()) + timedelta(
                    minutes=start_minute
                )
                start = wall.replace(tzinfo=self.timezone)
                end = (wall + timedelta(minutes=duration)).replace(tzinfo=self.timezone)
                if start.astimezone(UTC) <= instant < end.astimezone(UTC):
                    return start, end
        return None


class FreezeTable(BaseModel):
    """The ``[freeze]`` table: arrays of ``[[freeze.once]]`` and ``[[freeze.weekly]]``."""

    model_config = TABLE_CONFIG

    once: tuple[OnceFreeze, ...] = ()
    weekly: tuple[WeeklyFreeze, ...] = ()
