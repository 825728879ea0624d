"""Runs policies over the same stream of releases and scores what each decision cost.

Each policy sees the releases in time order: a release comes up at its arrival slot and
again at the window of each DELAY. Costs are booked to the release: a failed deploy costs
the failure cost of its service's criticality, every hour waited costs ``delay_per_hour``
and a NO_GO (or the DELAY that would be a release's third) costs ``no_go``. A GO's outcome
is drawn at once from the common draws and reported to the policy before the next
decision, which is how the agent learns.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..domain.models import Decision
from .arrivals import Clock, Release, generate_releases
from .baselines import AlwaysGo, StaticRules
from .decisions import Action, PolicyFactory, Setting, SimPolicy
from .draws import Draws
from .oracle import Oracle
from .world import World

BASELINES: dict[str, PolicyFactory] = {
    "always_go": AlwaysGo,
    "static_rules": StaticRules,
    "oracle": Oracle,
}
"""The policies that need nothing but the world; the agent is added by the caller."""

Progress = Callable[[int, int], None]
"""Called with (releases finished so far, releases to finish) over all the policies of a
run, after each release (for a progress bar)."""


@dataclass
class PolicyScore:
    """What one policy did over the run; ``costs[i]`` is what release ``i`` cost."""

    name: str
    costs: np.ndarray
    expected: np.ndarray
    """Like ``costs`` but each deploy charged its true expected failure cost instead of
    the draw: the same decisions without the luck, for comparing noisy windows."""
    deploys: int = 0
    failures: int = 0
    delays: int = 0
    """DELAYs waited out (a third DELAY counts as a NO_GO instead)."""
    delay_hours: int = 0
    no_gos: int = 0
    forced_no_gos: int = 0
    """NO_GOs that were a third DELAY."""
    failed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """``failed[i]``: release ``i`` was deployed and failed."""
    true_risk: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The true failure probability of release ``i``'s deploy; NaN if not deployed."""
    stated_risk: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The failure probability the policy stated for release ``i``'s deploy (see
    :attr:`Action.risk`); NaN if not deployed or not stated."""

    def __post_init__(self) -> None:
        count = len(self.costs)
        if len(self.failed) != count:
            self.failed = np.zeros(count, dtype=bool)
        if len(self.true_risk) != count:
            self.true_risk = np.full(count, np.nan)
        if len(self.stated_risk) != count:
            self.stated_risk = np.full(count, np.nan)

    @property
    def cost(self) -> float:
        return float(self.costs.sum())

    def cumulative(self) -> np.ndarray:
        """Cost of releases ``0..k`` for each ``k``, in arrival order."""
        return np.cumsum(self.costs)


@dataclass
class SimulationResult:
    world: World
    seed: int
    episodes: int
    scores: dict[str, PolicyScore] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    """The stream every policy faced, in arrival order."""


def run_policy(
    setting: Setting,
    releases: list[Release],
    policy: SimPolicy,
    name: str,
    progress: Callable[[int], None] | None = None,
) -> PolicyScore:
    """Run ``policy`` over ``releases`` in time order and score it; ``progress`` is
    called with 1 as each release is finished.

    Guarantees every release ends as exactly one deploy or one NO_GO, after at most
    ``MAX_DELAYS - 1`` waits. A DELAY whose window is not after the current slot is
    taken as a wait of one hour. Raises whatever the policy raises.
    """
    costs = setting.world.costs
    score = PolicyScore(name, np.zeros(len(releases)), np.zeros(len(releases)))
    queue: list[tuple[int, int, int]] = [(r.slot, r.index, 0) for r in releases]
    heapq.heapify(queue)
    while queue:
        slot, index, delays = heapq.heappop(queue)
        release = releases[index]
        point = setting.point(release, slot, delays)
        action: Action = policy.decide(point)
        if action.decision is Decision.DELAY and not point.last_chance:
            window = slot + 1 if action.window is None else max(action.window, slot + 1)
            waited = window - slot
            score.costs[index] += costs.delay_per_hour * waited
            score.expected[index] += costs.delay_per_hour * waited
            score.delays += 1
            score.delay_hours += waited
            heapq.heappush(queue, (window, index, delays + 1))
            continue
        if action.decision is Decision.GO:
            probability = setting.probability(release, slot, point.clash)
            failed = setting.draws.fails(index, slot, probability)
            score.deploys += 1
            score.expected[index] += setting.failure_cost(release) * probability
            score.true_risk[index] = probability
            if action.risk is not None:
                score.stated_risk[index] = action.risk
            if failed:
                score.failures += 1
                score.failed[index] = True
                score.costs[index] += setting.failure_cost(release)
            policy.observe(point, failed)
        else:
            score.no_gos += 1
            score.forced_no_gos += action.decision is Decision.DELAY
            score.costs[index] += costs.no_go
            score.expected[index] += costs.no_go
        if progress is not None:
            progress(1)
    return score


def simulate(
    world: World,
    episodes: int,
    seed: int | None = None,
    policies: Mapping[str, PolicyFactory] | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Score each policy on the first ``episodes`` releases of ``world``.

    ``seed`` replaces the world's seed; ``policies`` defaults to :data:`BASELINES`. Every
    policy faces the same releases and the same draws, so the order in which they run
    does not matter. A policy with a ``close()`` method is closed after its run.
    ``progress`` is called with (done, total) after each release of each policy, total
    being ``episodes`` × the number of policies. Raises ValueError for ``episodes < 1``.
    """
    if episodes < 1:
        raise ValueError("episodes must be at least 1")
    seed = world.seed if seed is None else seed
    clock = Clock(world)
    setting = Setting(world, clock, Draws(seed, world.clash_rate), seed)
    releases = generate_releases(world, seed, episodes, clock)
    result = SimulationResult(world, seed, episodes, releases=releases)
    chosen = policies if policies is not None else BASELINES
    step = None if progress is None else _counter(progress, episodes * len(chosen))
    for name, factory in chosen.items():
        policy = factory(setting)
        try:
            result.scores[name] = run_policy(setting, releases, policy, name, step)
        finally:
            close = getattr(policy, "close", None)
            if callable(close):
                close()
    return result


def _counter(progress: Progress, total: int) -> Callable[[int], None]:
    """Turns the runner's increments into the (done, total) calls of :data:`Progress`."""
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        progress(done, total)

    return step
