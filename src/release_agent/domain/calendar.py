"""The change calendar's records and settings.

Every GO books the slot of its requested time and every DELAY the slot of its window;
a booking is a :class:`Booking`. The policy says how near two releases may go out before
they clash, and what each service depends on::

    [calendar]
    clash_minutes = 30        # another release within ±30 minutes clashes
    depends_minutes = 120     # a release of a service this one depends on, within ±2 h

    [services.checkout]
    depends_on = ["payments", "search"]   # names as in --service; a cycle is fine

A booking is freed (and no longer shown) when a later decision of the same release
supersedes it, or when someone says the release did not go out (``calendar cancel``, or
the outcome ``not_deployed``).

Two decisions made at the same moment must not both take one slot: each reads the
calendar before it decides, so the store checks again as it writes the booking, under a
lock of the environment (:class:`SlotGuard`); a booking that clashes and that the
decision did not see aborts the write (:class:`SlotTaken`) and the decision is made
again (see :meth:`release_agent.agent.Agent.decide`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from .freezes import TABLE_CONFIG, refusal
from .models import NAME_PATTERN, Decision

CLASH_MINUTES_MAX = 24 * 60
"""The widest clash window: a day either side."""
BOOKED = (Decision.GO, Decision.DELAY)
"""The decisions that book a slot."""


def _minutes(value: int) -> int:
    if not 1 <= value <= CLASH_MINUTES_MAX:
        raise refusal(f"{value} is out of range; must be from 1 to {CLASH_MINUTES_MAX}")
    return value


def _service_name(value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise refusal(
            f"{value[:40]!r} is not a service name: 1-100 characters of letters, digits, "
            "'.', '_', '-', '/' or space, starting with a letter or digit"
        )
    return value


Minutes = Annotated[StrictInt, AfterValidator(_minutes)]
ServiceName = Annotated[str, AfterValidator(_service_name)]


class CalendarSettings(BaseModel):
    """The ``[calendar]`` table."""

    model_config = TABLE_CONFIG

    enabled: StrictBool = True
    """False: decisions neither book nor read the calendar (the simulator, whose world
    draws its own clashes)."""
    clash_minutes: Minutes = 30
    """Another booked release this near (before or after, inclusive) is a clash."""
    depends_minutes: Minutes = 120
    """A booked release of a service this one depends on this near is a clash (never
    narrower than ``clash_minutes``)."""

    @property
    def dependency_window(self) -> int:
        return max(self.clash_minutes, self.depends_minutes)


class ServiceSettings(BaseModel):
    """One ``[services.NAME]`` table."""

    model_config = TABLE_CONFIG

    depends_on: tuple[ServiceName, ...] = ()
    """The services whose releases this one's must keep away from."""


def check_services(services: dict[str, ServiceSettings]) -> dict[str, ServiceSettings]:
    """Refuse a table whose name is no service name, or a service depending on itself."""
    for name, settings in services.items():
        _service_name(name)
        if name in settings.depends_on:
            raise refusal(f"service {name!r} cannot depend on itself")
    return services


class FreedReason(StrEnum):
    superseded = "superseded"
    """A later decision of the same release replaced it."""
    not_deployed = "not_deployed"
    """Someone said the release did not go out."""
    overridden = "overridden"
    """A human override changed the decision to one that books nothing."""


class Booking(BaseModel):
    """A slot a release holds: the moment it deploys (UTC), in one environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    release_id: str = Field(description="the decision that booked it")
    service: str
    env: str = Field(description="the environment, as matched: prod and production are one")
    ref: str | None = Field(default=None, description="the caller's key for the release")
    decision: Decision = Field(description="GO (at its time) or DELAY (at its window)")
    at: datetime = Field(description="when the release deploys")
    booked_at: datetime = Field(description="when the decision was made")


class SlotGuard(Protocol):
    """What a decision saw of the calendar, to check again when its booking is written."""

    @property
    def reach(self) -> timedelta:
        """How far from a slot a booking can still clash with it."""
        ...

    def taken(self, at: datetime, bookings: Sequence[Booking]) -> list[str]:
        """The release ids of the ``bookings`` (open ones of the environment, within
        :attr:`reach` of ``at``) that clash with the release at ``at`` and that the
        decision did not see when it read the calendar."""
        ...


class SlotTaken(Exception):
    """Another release booked a slot that clashes with this decision's after the
    decision read the calendar: nothing was written, and the decision is to be made
    again with the calendar as it is now."""

    def __init__(self, release_ids: Sequence[str]) -> None:
        super().__init__(", ".join(release_ids))
        self.release_ids = tuple(release_ids)
