"""The calendar stage: the clashes a release finds in the change calendar by itself.

A decision is handed the open bookings of its environment around its moment
(:class:`Calendar`). At any moment it considers — the requested time, or a DELAY's
candidate window — a booking clashes when it is

- another release within ``[calendar] clash_minutes`` (either side, inclusive): source
  ``calendar``;
- a release of a service this one depends on (``[services.NAME] depends_on``) within
  ``depends_minutes``: source ``depends_on``.

The release's own earlier bookings are not clashes. With a ``ref``, those are the
bookings of the same ref (another ref of the same service is another release, and
clashes). Without one, every booking of the same service may be the release itself, so
none clashes; and a re-ask at a DELAY's window (``delays`` > 0) supersedes the DELAY of
the same service booked within ``clash_minutes`` of the requested time. A new decision
frees the bookings it supersedes (:attr:`Calendar.own`) as it is stored.

The calendar is read before the decision and written after it, so the store checks the
slot again as it books it (:class:`Recheck`, under a lock of the environment): a booking
that clashes there and that the decision did not see makes it decide again.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..domain.calendar import Booking, CalendarSettings
from ..domain.models import Decision, ReleaseRequest, canonical_env
from ..domain.policy import Policy
from .trace import Note

CALLER, CALENDAR, DEPENDS_ON = "caller", "calendar", "depends_on"
"""Where a clash came from: the request's ``clashes``, the calendar, a dependency."""


@dataclass(frozen=True)
class Clash:
    """One clash of a release at one moment, with where it came from."""

    service: str
    source: str
    release_id: str | None = None
    at: datetime | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "service": self.service,
            "source": self.source,
            "release_id": self.release_id,
            "at": self.at.isoformat() if self.at else None,
        }


@dataclass(frozen=True)
class Calendar:
    """The bookings one decision sees: the open bookings of its environment around its
    moment, less its own."""

    bookings: tuple[Booking, ...] = ()
    settings: CalendarSettings = field(default_factory=CalendarSettings)
    depends_on: frozenset[str] = frozenset()
    own: tuple[str, ...] = ()
    """The release ids of the release's own earlier bookings: superseded by this one."""
    seen: frozenset[tuple[str, datetime]] = frozenset()
    """Every booking read (release id, moment), own ones too: what the decision knew."""
    _times: list[datetime] = field(init=False, repr=False, compare=False, default_factory=list)

    def __post_init__(self) -> None:
        # In time order, so that a moment's neighbours are found by bisection: a window
        # search asks about every hour of its horizon.
        ordered = tuple(sorted(self.bookings, key=lambda b: b.at))
        object.__setattr__(self, "bookings", ordered)
        object.__setattr__(self, "_times", [b.at for b in ordered])

    def clashes_at(self, moment: datetime) -> list[Clash]:
        """The bookings that clash with a release at ``moment``, nearest first; one per
        service (its nearest booking)."""
        near = timedelta(minutes=self.settings.clash_minutes)
        depends = timedelta(minutes=self.settings.dependency_window)
        low = bisect.bisect_left(self._times, moment - depends)
        high = bisect.bisect_right(self._times, moment + depends)
        found: dict[str, tuple[timedelta, Clash]] = {}
        for booking in self.bookings[low:high]:
            gap = abs(booking.at - moment)
            if gap <= near:
                source = DEPENDS_ON if booking.service in self.depends_on else CALENDAR
            elif gap <= depends and booking.service in self.depends_on:
                source = DEPENDS_ON
            else:
                continue
            clash = Clash(booking.service, source, booking.release_id, booking.at)
            if booking.service not in found or gap < found[booking.service][0]:
                found[booking.service] = (gap, clash)
        return [clash for _, clash in sorted(found.values(), key=lambda pair: pair[0])]

    def booked(self, moment: datetime) -> bool:
        """Whether the slot at ``moment`` is taken: some booking clashes there."""
        return bool(self.clashes_at(moment))

    def reach(self) -> timedelta:
        """How far from a moment a booking can still clash with it."""
        return timedelta(minutes=self.settings.dependency_window)


def read_span(request: ReleaseRequest, policy: Policy) -> tuple[datetime, datetime]:
    """The span of booking times a decision on ``request`` may meet: from the widest
    clash window before the requested time to the last window a DELAY may look at (every
    reschedule's horizon), and past the freeze a window may wait out."""
    settings = policy.settings
    reach = timedelta(minutes=policy.calendar.dependency_window)
    hours = settings.horizon_hours * (settings.max_reschedules + 1)
    start = request.at
    opened = policy.next_open(request.at, request.env)
    if opened is not None and opened > start:
        start = opened
    return request.at - reach, start + timedelta(hours=hours) + reach


def own_bookings(
    request: ReleaseRequest, bookings: Sequence[Booking], settings: CalendarSettings
) -> tuple[str, ...]:
    """The release ids of ``request``'s own earlier bookings among ``bookings``."""
    env = canonical_env(request.env)
    if request.ref is not None:
        return tuple(b.release_id for b in bookings if b.ref == request.ref and b.env == env)
    if request.delays == 0:
        return ()
    near = timedelta(minutes=settings.clash_minutes)
    candidates = [
        b
        for b in bookings
        if b.service == request.service
        and b.env == env
        and b.decision is Decision.DELAY
        and abs(b.at - request.at) <= near
    ]
    if not candidates:
        return ()
    nearest = min(candidates, key=lambda b: (abs(b.at - request.at), b.booked_at))
    return (nearest.release_id,)


def _same_release(request: ReleaseRequest, booking: Booking) -> bool:
    """Whether ``booking`` may be the requested release itself: one of the same service,
    when the request has no ref to tell two releases of a service apart (a re-run CI job
    asks again about the release it asked about)."""
    return request.ref is None and booking.service == request.service


def for_request(request: ReleaseRequest, policy: Policy, bookings: Sequence[Booking]) -> Calendar:
    """The calendar a decision on ``request`` sees, from the open bookings of its
    environment over :func:`read_span`."""
    own = own_bookings(request, bookings, policy.calendar)
    others = tuple(b for b in bookings if b.release_id not in own and not _same_release(request, b))
    service = policy.services.get(request.service)
    depends = frozenset(service.depends_on) if service is not None else frozenset()
    seen = frozenset((b.release_id, b.at) for b in bookings)
    return Calendar(others, policy.calendar, depends, own, seen)


@dataclass(frozen=True)
class Recheck:
    """The check of a decision's slot as its booking is written (a
    :class:`~release_agent.domain.calendar.SlotGuard`): the bookings that clash with the
    release at its slot, by the same rules as :func:`for_request`, that it did not see."""

    request: ReleaseRequest
    policy: Policy
    seen: frozenset[tuple[str, datetime]]

    @property
    def reach(self) -> timedelta:
        return timedelta(minutes=self.policy.calendar.dependency_window)

    def taken(self, at: datetime, bookings: Sequence[Booking]) -> list[str]:
        unseen = [b for b in bookings if (b.release_id, b.at) not in self.seen]
        if not unseen:
            return []
        later = for_request(self.request, self.policy, unseen)
        return [clash.release_id for clash in later.clashes_at(at) if clash.release_id]


def recheck(request: ReleaseRequest, policy: Policy, calendar: Calendar) -> Recheck:
    """The check of the slot a decision on ``request`` takes, seeing ``calendar``."""
    return Recheck(request, policy, calendar.seen)


def merged(caller: Sequence[str], found: Sequence[Clash]) -> list[str]:
    """The clashes' service names as the decision lists them: the caller's first, then
    the calendar's, each name once."""
    names = list(dict.fromkeys(caller))
    for clash in found:
        if clash.service not in names:
            names.append(clash.service)
    return names


def note(caller: Sequence[str], found: Sequence[Clash], calendar: Calendar) -> Note:
    """The stage's trace entry: every clash at the requested time and where it came
    from, and the bookings this decision supersedes."""
    clashes = [Clash(name, CALLER).to_dict() for name in dict.fromkeys(caller)]
    clashes += [clash.to_dict() for clash in found]
    if clashes:
        summary = ", ".join(f"{c['service']} ({c['source']})" for c in clashes)
    else:
        summary = "no clash"
    if calendar.own:
        summary += f"; supersedes {len(calendar.own)} earlier booking(s) of this release"
    return Note(
        "calendar",
        summary,
        {
            "clashes": clashes,
            "supersedes": list(calendar.own),
            "clash_minutes": calendar.settings.clash_minutes,
            "depends_minutes": calendar.settings.dependency_window,
            "depends_on": sorted(calendar.depends_on),
            "bookings_seen": len(calendar.bookings),
        },
    )
