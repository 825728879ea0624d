"""The baselines the agent is scored against: ``always_go`` and ``static_rules``.

``static_rules`` is common practice written down: no deploys on Friday afternoons, at
weekends or out of hours (DELAY to the next working morning), and NO_GO for a HIGH feature
risk on a HIGH criticality service. Working hours and the start of Friday afternoon are
those of :class:`release_agent.domain.policy.DecisionSettings` (08-18, Friday from 12:00), so the
baseline and the agent's own window flags mean the same thing.
"""

from __future__ import annotations

import numpy as np

from ..domain.models import Decision, Level
from ..domain.policy import DecisionSettings
from .decisions import Action, DecisionPoint, Setting

_FRIDAY = 4
_SEARCH = 24 * 8
"""Slots searched for the next working morning: more than any weekend plus holiday gap."""


class AlwaysGo:
    """Deploys everything at once."""

    name = "always_go"

    def __init__(self, setting: Setting) -> None:
        self.setting = setting

    def decide(self, point: DecisionPoint) -> Action:
        return Action(Decision.GO)

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        """Learns nothing."""


class StaticRules:
    """Fixed calendar rules; blind to clashes and to what happens."""

    name = "static_rules"

    def __init__(self, setting: Setting, settings: DecisionSettings | None = None) -> None:
        self.setting = setting
        settings = settings or DecisionSettings()
        self.open_hour, self.close_hour = settings.business_hours
        self.friday_from = settings.friday_afternoon_from

    def allowed(self, days: np.ndarray, hours: np.ndarray) -> np.ndarray:
        """Whether the rules let a deploy out at each local weekday and hour."""
        working_day = days < 5
        in_hours = (hours >= self.open_hour) & (hours < self.close_hour)
        friday_afternoon = (days == _FRIDAY) & (hours >= self.friday_from)
        return np.asarray(working_day & in_hours & ~friday_afternoon)

    def next_working_morning(self, slot: int) -> int:
        """The first slot after ``slot`` at which the rules allow a deploy.

        Every closed stretch ends at the opening hour of a working day, so this is the
        next working morning. Raises RuntimeError if no slot within eight days is open
        (only possible with settings that close every hour).
        """
        clock = self.setting.clock
        clock.ensure(slot + 1 + _SEARCH)
        days = clock.days[slot + 1 : slot + 1 + _SEARCH]
        hours = clock.hours[slot + 1 : slot + 1 + _SEARCH]
        open_slots = np.flatnonzero(self.allowed(days, hours))
        if not len(open_slots):
            raise RuntimeError("static rules leave no hour open within eight days")
        return slot + 1 + int(open_slots[0])

    def decide(self, point: DecisionPoint) -> Action:
        service = self.setting.world.services[point.release.service]
        if point.release.feature_risk is Level.HIGH and service.criticality is Level.HIGH:
            return Action(Decision.NO_GO)
        if self.allowed(np.array(point.day), np.array(point.hour)):
            return Action(Decision.GO)
        return Action(Decision.DELAY, self.next_working_morning(point.slot))

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        """Learns nothing."""
