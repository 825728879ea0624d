"""The oracle: the least expected cost per decision, knowing the true failure model.

At each decision the oracle compares, under the world's true probabilities and costs:

- GO now: ``failure cost × p(now, the clash it sees)``;
- DELAY to each of the next :data:`HORIZON_HOURS` slots: ``delay_per_hour × hours +
  failure cost × p(then)``, where the clash of a future hour is not known yet, so
  ``p(then)`` averages over the world's clash rate;
- NO_GO: ``no_go``.

A DELAY that would be the release's last (it would count as NO_GO) is costed as NO_GO.
Ties go to the less strict action. :func:`expected_cost` is the same one-step model for
any action, which is how the tests show that no policy's choice beats the oracle's.
"""

from __future__ import annotations

import numpy as np

from ..domain.models import Decision
from .decisions import Action, DecisionPoint, Setting

HORIZON_HOURS = 72


def expected_cost(setting: Setting, point: DecisionPoint, action: Action) -> float:
    """The true expected cost of taking ``action`` at ``point``, one step ahead.

    Raises ValueError for a DELAY without a later window.
    """
    costs = setting.world.costs
    release = point.release
    if action.decision is Decision.GO:
        return setting.failure_cost(release) * setting.probability(release, point.slot, point.clash)
    if action.decision is Decision.NO_GO or point.last_chance:
        return costs.no_go
    if action.window is None or action.window <= point.slot:
        raise ValueError("a DELAY needs a window after the current slot")
    waited = action.window - point.slot
    later = float(setting.expected_probabilities(release, action.window, 1)[0])
    return costs.delay_per_hour * waited + setting.failure_cost(release) * later


class Oracle:
    """Knows the true probabilities; picks the action of least expected cost."""

    name = "oracle"

    def __init__(self, setting: Setting, horizon: int = HORIZON_HOURS) -> None:
        self.setting = setting
        self.horizon = horizon
        self._waits = np.arange(1, horizon + 1, dtype=float) * setting.world.costs.delay_per_hour

    def options(self, point: DecisionPoint) -> tuple[Action, float]:
        """The best action at ``point`` and its expected cost."""
        setting = self.setting
        release = point.release
        fail_cost = setting.failure_cost(release)
        now = setting.probability(release, point.slot, point.clash)
        best = Action(Decision.GO, risk=now)  # it states the truth: perfectly calibrated
        best_cost = fail_cost * now
        if not point.last_chance:
            later = self._waits + fail_cost * setting.expected_probabilities(
                release, point.slot + 1, self.horizon
            )
            k = int(np.argmin(later))
            if later[k] < best_cost:
                best, best_cost = Action(Decision.DELAY, point.slot + 1 + k), float(later[k])
        no_go = setting.world.costs.no_go
        if no_go < best_cost:
            best, best_cost = Action(Decision.NO_GO), no_go
        return best, best_cost

    def decide(self, point: DecisionPoint) -> Action:
        return self.options(point)[0]

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        """Knows everything already."""
