"""Simulated time and the stream of releases that arrive in it.

Time runs in hour slots from the world's ``start``: slot ``s`` is ``start + s hours``.
The :class:`Clock` gives each slot's local weekday and hour in the world's time zone
(daylight saving included). Releases arrive at the start of a slot; a DELAY moves a
release to a later slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ..domain.models import Level
from .world import LEVELS, World

_BLOCK = 24 * 7 * 4
"""Slots generated at a time; fixed so that a run's releases do not depend on its length."""


class Clock:
    """Local weekday (0 = Monday) and hour of every slot, computed once and cached."""

    def __init__(self, world: World) -> None:
        self.start = world.start
        self.timezone = world.timezone
        self.days = np.empty(0, dtype=np.int64)
        self.hours = np.empty(0, dtype=np.int64)

    def ensure(self, slots: int) -> None:
        """Make :attr:`days` and :attr:`hours` cover at least ``slots`` slots."""
        have = len(self.days)
        if slots <= have:
            return
        want = max(slots, have * 2, _BLOCK)
        local = [self.moment(s) for s in range(have, want)]
        self.days = np.concatenate([self.days, np.array([m.weekday() for m in local])])
        self.hours = np.concatenate([self.hours, np.array([m.hour for m in local])])

    def moment(self, slot: int) -> datetime:
        """The local, aware date-time at which ``slot`` begins."""
        return (self.start + timedelta(hours=slot)).astimezone(self.timezone)

    def slot_at_or_after(self, moment: datetime) -> int:
        """The first slot that begins at or after ``moment`` (which must be aware)."""
        return math.ceil((moment - self.start).total_seconds() / 3600 - 1e-9)

    def day(self, slot: int) -> int:
        self.ensure(slot + 1)
        return int(self.days[slot])

    def hour(self, slot: int) -> int:
        self.ensure(slot + 1)
        return int(self.hours[slot])


@dataclass(frozen=True)
class Release:
    """One release of the stream; ``index`` is its place in arrival order."""

    index: int
    slot: int
    service: int
    """Index into the world's services."""
    risk: int
    """Index into :data:`release_agent.simulation.world.LEVELS` (the feature risk)."""

    @property
    def feature_risk(self) -> Level:
        return LEVELS[self.risk]


def arrival_rates(world: World, clock: Clock, first: int, count: int) -> np.ndarray:
    """Expected arrivals in each slot ``first .. first+count-1``.

    Proportional to ``arrival.hours[local hour] × arrival.days[local weekday]`` and scaled
    so that an average week receives ``7 × releases_per_day`` releases.
    """
    clock.ensure(first + count)
    hours = np.asarray(world.arrival_hours)
    days = np.asarray(world.arrival_days)
    weights = hours[clock.hours[first : first + count]] * days[clock.days[first : first + count]]
    mean_weight = float(np.outer(hours, days).mean())
    return weights * (world.releases_per_day / 24.0 / mean_weight)


def generate_releases(world: World, seed: int, count: int, clock: Clock) -> list[Release]:
    """The first ``count`` releases of the world's stream for ``seed``, in arrival order.

    Arrivals per slot are Poisson with :func:`arrival_rates`; each release's service is
    drawn by the services' weights (uniform by default) and its feature risk follows
    ``feature_risk_mix``.
    The stream is a pure function of (world, seed): a longer run extends a shorter one.
    """
    if count < 0:
        raise ValueError("count must be non-negative")
    root = np.random.SeedSequence([seed, 0x5EED])
    arrivals_seq, services_seq, risks_seq = root.spawn(3)
    arrivals = np.random.default_rng(arrivals_seq)
    services = np.random.default_rng(services_seq)
    risks = np.random.default_rng(risks_seq)
    cumulative = np.cumsum([world.feature_risk_mix[level] for level in LEVELS])
    cumulative[-1] = 1.0

    slots: list[int] = []
    first = 0
    while len(slots) < count:
        per_slot = arrivals.poisson(arrival_rates(world, clock, first, _BLOCK))
        slots.extend(np.repeat(np.arange(first, first + _BLOCK), per_slot).tolist())
        first += _BLOCK
    slots = slots[:count]
    # Floats, not integers: numpy's float stream does not depend on how it is batched.
    service_u = services.random(count)
    risk_u = risks.random(count)
    n_services = len(world.services)
    if world.uniform_services:
        service_idx = np.minimum((service_u * n_services).astype(np.int64), n_services - 1)
    else:
        shares = np.cumsum(world.service_shares)
        shares[-1] = 1.0
        service_idx = np.minimum(np.searchsorted(shares, service_u, side="right"), n_services - 1)
    risk_idx = np.minimum(np.searchsorted(cumulative, risk_u, side="right"), len(LEVELS) - 1)
    return [Release(i, int(slots[i]), int(service_idx[i]), int(risk_idx[i])) for i in range(count)]
