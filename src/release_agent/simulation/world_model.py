"""A validated world: its services, its factors, and the true failure probability of a deploy.

The file format and its validation are in :mod:`release_agent.simulation.world`; this
module holds what a parsed world *means*. A factor may be limited in time (``since`` /
``until``, the file's ``from`` / ``until``): it applies to deploys at ``since <= t <
until``. The simulator deploys at the start of hour slots, so the boundaries cut the run
into *eras* of slots in which the same factors are in force; each era has its own
precomputed probability table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ..domain.conditions import describe, matches
from ..domain.models import DAYS, Level
from ..domain.policy import Costs

LEVELS: tuple[Level, ...] = tuple(Level)
WORLD_ENV = "prod"
"""Every simulated release goes to production."""

WORLD_ATTRIBUTES: tuple[str, ...] = (
    "service",
    "service_criticality",
    "feature_risk",
    "day_of_week",
    "hour_of_day",
    "clash",
    "env",
)
_HOUR = timedelta(hours=1)
_GRID_AXES = 5
"""A probability table's axes: service, feature risk, weekday, hour, clash."""


@dataclass(frozen=True)
class Service:
    name: str
    criticality: Level
    weight: float = 1.0
    """Relative share of the releases (the file's ``weight``; all equal by default)."""


@dataclass(frozen=True)
class Factor:
    when: dict[str, Any]
    """A normalized condition (see :func:`release_agent.domain.conditions.normalize`)."""
    times: float
    since: datetime | None = None
    """First moment the factor applies (the file's ``from``); None: from the beginning."""
    until: datetime | None = None
    """First moment it no longer applies; None: for ever."""

    def applies_at(self, moment: datetime) -> bool:
        """Whether the factor is in force for a deploy at ``moment`` (an aware date-time)."""
        return (self.since is None or self.since <= moment) and (
            self.until is None or moment < self.until
        )

    def describe(self) -> str:
        """``day_of_week=FRI & hour_of_day=14..23 ×2.5``, with its time bounds if any."""
        text = f"{describe(self.when)} ×{self.times:g}"
        if self.since is not None:
            text += f" from {self.since.isoformat()}"
        if self.until is not None:
            text += f" until {self.until.isoformat()}"
        return text


def first_slot_at_or_after(start: datetime, moment: datetime) -> int:
    """The first hour slot of a world starting at ``start`` that begins at or after
    ``moment``, in exact integer arithmetic (negative when ``moment`` precedes ``start``)."""
    micros = (moment - start) // timedelta(microseconds=1)
    hour = _HOUR // timedelta(microseconds=1)
    return -(-micros // hour)


@dataclass(frozen=True, eq=False)
class World:
    """A validated world. Build it with :func:`~release_agent.simulation.world.parse_world`
    or :func:`~release_agent.simulation.world.load_world`."""

    name: str
    seed: int
    start: datetime
    timezone: ZoneInfo
    services: tuple[Service, ...]
    feature_risk_mix: dict[Level, float]
    """Probabilities that sum to 1."""
    releases_per_day: float
    arrival_hours: tuple[float, ...]
    arrival_days: tuple[float, ...]
    clash_rate: float
    base_failure_rate: float
    max_failure_rate: float
    factors: tuple[Factor, ...]
    costs: Costs
    description: str = ""
    source: str | None = field(default=None, compare=False)

    def attributes(
        self, service: int, feature_risk: Level, day: int, hour: int, clash: bool
    ) -> dict[str, Any]:
        """The attributes a factor's ``when`` is matched against (day 0 = Monday)."""
        svc = self.services[service]
        return {
            "service": svc.name,
            "service_criticality": svc.criticality.value,
            "feature_risk": feature_risk.value,
            "day_of_week": DAYS[day].value,
            "hour_of_day": hour,
            "clash": clash,
            "env": WORLD_ENV,
        }

    def failure_probability(
        self,
        service: int,
        feature_risk: Level,
        day: int,
        hour: int,
        clash: bool,
        at: datetime | None = None,
    ) -> float:
        """The true chance that a deploy under these conditions fails, in [0, max rate].

        ``at`` is the moment of the deploy, which decides the factors limited in time;
        None is the world's start.
        """
        moment = self.start if at is None else at
        attributes = self.attributes(service, feature_risk, day, hour, clash)
        product = self.base_failure_rate
        for factor in self.factors:
            if factor.applies_at(moment) and matches(factor.when, attributes):
                product *= factor.times
        return min(self.max_failure_rate, product)

    # --- time: eras of slots in which the same factors are in force -------------------

    @cached_property
    def changes(self) -> tuple[datetime, ...]:
        """The moments after the start at which a factor begins or ends, in order."""
        bounds = {b for f in self.factors for b in (f.since, f.until) if b is not None}
        return tuple(sorted(b for b in bounds if b > self.start))

    @cached_property
    def era_starts(self) -> np.ndarray:
        """The first slot of each era: ``[0, ...]``, one more entry per distinct change."""
        slots = {first_slot_at_or_after(self.start, moment) for moment in self.changes}
        return np.array(sorted({0} | {s for s in slots if s > 0}), dtype=np.int64)

    def era(self, slot: int) -> int:
        """The era of ``slot`` (0 for a world whose factors are not limited in time)."""
        if len(self.era_starts) == 1:
            return 0
        return int(np.searchsorted(self.era_starts, slot, side="right")) - 1

    def eras(self, slots: np.ndarray) -> np.ndarray:
        """:meth:`era` of each slot of an array."""
        return np.searchsorted(self.era_starts, slots, side="right") - 1

    def _in_force(self, era: int) -> tuple[bool, ...]:
        """Which factors apply throughout ``era`` (a factor's bounds fall on era starts)."""
        moment = self.start + _HOUR * int(self.era_starts[era])
        return tuple(factor.applies_at(moment) for factor in self.factors)

    # --- the precomputed truth ---------------------------------------------------------

    @cached_property
    def _factor_masks(self) -> tuple[np.ndarray, ...]:
        """For each factor, where its ``when`` matches on the (service, risk, day, hour,
        clash) grid. A condition is a conjunction over attributes, so it is evaluated one
        attribute (one axis) at a time and the axes combined by broadcasting."""
        axes: dict[str, tuple[int, list[Any]]] = {
            "service": (0, [s.name for s in self.services]),
            "service_criticality": (0, [s.criticality.value for s in self.services]),
            "feature_risk": (1, [level.value for level in LEVELS]),
            "day_of_week": (2, [day.value for day in DAYS]),
            "hour_of_day": (3, list(range(24))),
            "clash": (4, [False, True]),
        }
        shape = (len(self.services), len(LEVELS), 7, 24, 2)
        masks = []
        for factor in self.factors:
            mask = np.ones(shape, dtype=bool)
            for attribute, expected in factor.when.items():
                if attribute not in axes:  # env: the same for every deploy
                    mask &= matches({attribute: expected}, {attribute: WORLD_ENV})
                    continue
                axis, values = axes[attribute]
                hit = np.array([matches({attribute: expected}, {attribute: v}) for v in values])
                view = [1] * _GRID_AXES
                view[axis] = len(values)
                mask &= hit.reshape(view)
            masks.append(mask)
        return tuple(masks)

    @cached_property
    def _tables(self) -> dict[int, np.ndarray]:
        return {}

    def probability_table(self, era: int = 0) -> np.ndarray:
        """``table[service, risk, day, hour, clash]``: :meth:`failure_probability` during
        ``era``, computed on first use. Risk is indexed in :data:`LEVELS` order, clash as
        0/1. Read-only. Raises IndexError for an era the world does not have."""
        if not 0 <= era < len(self.era_starts):
            raise IndexError(f"era {era} of a world with {len(self.era_starts)} eras")
        cached = self._tables.get(era)
        if cached is not None:
            return cached
        table = np.full((len(self.services), len(LEVELS), 7, 24, 2), self.base_failure_rate)
        # The factors multiply in file order, as in failure_probability, so that the
        # table and the direct computation agree to the last bit.
        for factor, mask, applies in zip(
            self.factors, self._factor_masks, self._in_force(era), strict=True
        ):
            if applies:
                table = np.where(mask, table * factor.times, table)
        table = np.minimum(table, self.max_failure_rate)
        table.flags.writeable = False
        self._tables[era] = table
        return table

    @cached_property
    def failure_costs(self) -> np.ndarray:
        """The cost of a failure of each service, indexed like :attr:`services`."""
        return np.array([float(self.costs.failure[s.criticality]) for s in self.services])

    @cached_property
    def service_shares(self) -> np.ndarray:
        """Each service's probability of being the one a release changes."""
        weights = np.array([s.weight for s in self.services])
        return np.asarray(weights / weights.sum())

    @property
    def uniform_services(self) -> bool:
        """True when every service is released equally often."""
        return len({s.weight for s in self.services}) == 1

    def describe_factors(self) -> list[str]:
        """Each factor in short human form: ``day_of_week=FRI & hour_of_day=14..23 ×2.5``."""
        return [f.describe() for f in self.factors]
