"""What a simulated policy sees, what it answers, and the true model behind the scores.

A policy is asked once per decision: when a release arrives and again each time a DELAY
brings it back. It answers an :class:`Action`. Only the oracle and the scoring read the
true failure model (:meth:`Setting.probability`); the agent never does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from ..domain.models import Decision
from .arrivals import Clock, Release
from .draws import Draws
from .world import World

MAX_DELAYS = 3
"""A release's third DELAY counts as NO_GO: it is not brought back a third time."""


@dataclass(frozen=True)
class DecisionPoint:
    """One decision about one release, at the start of ``slot``."""

    release: Release
    slot: int
    clash: bool
    """Whether another change clashes in this slot (known to every policy)."""
    delays: int
    """DELAYs this release has already waited out."""
    day: int
    """Local weekday of the slot, 0 = Monday."""
    hour: int
    """Local hour of the slot."""

    @property
    def last_chance(self) -> bool:
        """True when a DELAY now would count as NO_GO."""
        return self.delays + 1 >= MAX_DELAYS


class Action(NamedTuple):
    decision: Decision
    window: int | None = None
    """For DELAY: the slot at which the release comes back (later than the current one)."""
    risk: float | None = None
    """For GO: the failure probability the policy states for this deploy, if it states
    one; the report checks it against what happens (calibration). It never changes the
    score."""


class SimPolicy(Protocol):
    """A policy under test. ``observe`` reports the outcome of each of its GOs at once."""

    name: str

    def decide(self, point: DecisionPoint) -> Action: ...

    def observe(self, point: DecisionPoint, failed: bool) -> None: ...


@dataclass
class Setting:
    """Everything shared by the policies of one run: the world, its clock and its draws."""

    world: World
    clock: Clock
    draws: Draws
    seed: int

    def probability(self, release: Release, slot: int, clash: bool) -> float:
        """True failure probability of deploying ``release`` in ``slot`` with this clash
        (with the factors in force at that slot's time)."""
        day, hour = self.clock.day(slot), self.clock.hour(slot)
        table = self.world.probability_table(self.world.era(slot))
        return float(table[release.service, release.risk, day, hour, int(clash)])

    def expected_probabilities(self, release: Release, first: int, count: int) -> np.ndarray:
        """True failure probability of a deploy in each slot ``first .. first+count-1``
        whose clash is not known yet: averaged over the world's clash rate."""
        self.clock.ensure(first + count)
        days = self.clock.days[first : first + count]
        hours = self.clock.hours[first : first + count]
        world = self.world
        eras = world.eras(np.arange(first, first + count))
        lowest, highest = int(eras[0]), int(eras[-1])
        if lowest == highest:
            table = world.probability_table(lowest)
            both = table[release.service, release.risk][days, hours]
        else:
            # The window spans a change of the world: each slot reads its own era.
            both = np.empty((count, 2))
            for era in range(lowest, highest + 1):
                here = eras == era
                table = world.probability_table(era)
                both[here] = table[release.service, release.risk][days[here], hours[here]]
        rate = self.world.clash_rate
        return both[:, 0] * (1.0 - rate) + both[:, 1] * rate

    def failure_cost(self, release: Release) -> float:
        return float(self.world.failure_costs[release.service])

    def point(self, release: Release, slot: int, delays: int) -> DecisionPoint:
        """The decision point of ``release`` in ``slot``, its clash drawn for that slot."""
        return DecisionPoint(
            release=release,
            slot=slot,
            clash=self.draws.clash(release.index, slot),
            delays=delays,
            day=self.clock.day(slot),
            hour=self.clock.hour(slot),
        )


PolicyFactory = Callable[[Setting], SimPolicy]
"""Builds a fresh policy for one run."""
