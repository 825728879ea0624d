"""Worlds that change: factors limited in time, as the simulator and the oracle see them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import numpy as np
import pytest

from release_agent.domain.models import Decision, Level
from release_agent.simulation import Setting, build_report, simulate
from release_agent.simulation.arrivals import Clock, Release, generate_releases
from release_agent.simulation.baselines import AlwaysGo, StaticRules
from release_agent.simulation.decisions import Action, DecisionPoint
from release_agent.simulation.draws import Draws
from release_agent.simulation.oracle import Oracle, expected_cost
from release_agent.simulation.runner import BASELINES
from release_agent.simulation.world import World, load_world, parse_world

BLOG = 2
START = datetime.fromisoformat("2026-01-05T00:00:00+00:00")


def drifting(bounds: dict[str, str], times: float = 4.0) -> World:
    """The documented example plus a factor on blog limited by ``bounds``."""
    shipped = resources.files("release_agent") / "data" / "worlds" / "default.json"
    data: dict[str, Any] = json.loads(shipped.read_text(encoding="utf-8"))
    data["factors"].append({"when": {"service": "blog"}, "times": times, **bounds})
    return parse_world(data)


def setting_of(world: World) -> Setting:
    return Setting(world, Clock(world), Draws(world.seed, world.clash_rate), world.seed)


def blog(slot: int) -> Release:
    return Release(index=0, slot=slot, service=BLOG, risk=0)


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat()


@pytest.mark.parametrize(
    ("since", "first_slot"),
    [(10.0, 10), (10.5, 11), (9.999, 10)],
)
def test_a_factor_begins_at_the_first_slot_at_or_after_its_from(
    since: float, first_slot: int
) -> None:
    setting = setting_of(drifting({"from": at(since)}))
    base, fragile = 0.05, 0.2
    assert setting.probability(blog(first_slot - 1), first_slot - 1, False) == pytest.approx(base)
    assert setting.probability(blog(first_slot), first_slot, False) == pytest.approx(fragile)
    assert setting.world.era_starts.tolist() == [0, first_slot]


@pytest.mark.parametrize(("until", "last_slot"), [(12.0, 11), (12.5, 12)])
def test_a_factor_ends_before_the_first_slot_at_or_after_its_until(
    until: float, last_slot: int
) -> None:
    setting = setting_of(drifting({"until": at(until)}))
    assert setting.probability(blog(last_slot), last_slot, False) == pytest.approx(0.2)
    assert setting.probability(blog(last_slot + 1), last_slot + 1, False) == pytest.approx(0.05)


def test_bounds_before_the_start_change_nothing_during_the_run() -> None:
    world = drifting({"from": at(-100), "until": at(-50)})
    assert world.changes == () and world.era_starts.tolist() == [0]
    assert setting_of(world).probability(blog(0), 0, False) == pytest.approx(0.05)


def test_a_factor_that_comes_and_goes_makes_three_eras() -> None:
    world = drifting({"from": at(100), "until": at(200)})
    assert world.era_starts.tolist() == [0, 100, 200]
    assert [world.era(s) for s in (0, 99, 100, 199, 200, 10**6)] == [0, 0, 1, 1, 2, 2]
    tables = [world.probability_table(era) for era in range(3)]
    assert np.array_equal(tables[0], tables[2]) and not np.array_equal(tables[0], tables[1])
    with pytest.raises(IndexError):
        world.probability_table(3)


def test_expected_probabilities_across_a_change_read_each_slot_in_its_era() -> None:
    world = drifting({"from": at(30), "until": at(40)})
    setting = setting_of(world)
    release = blog(0)
    window = setting.expected_probabilities(release, 20, 30)
    rate = world.clash_rate
    for k, slot in enumerate(range(20, 50)):
        both = [setting.probability(release, slot, clash) for clash in (False, True)]
        assert window[k] == pytest.approx(both[0] * (1 - rate) + both[1] * rate)


def test_the_oracle_waits_for_a_fix_it_knows_is_coming() -> None:
    # blog fails nine times in ten until slot 200; a delay of a few hours costs little.
    world = drifting({"until": at(200)}, times=18.0)
    setting = setting_of(world)
    point = DecisionPoint(blog(197), 197, clash=False, delays=0, day=0, hour=10)
    action, cost = Oracle(setting).options(point)
    assert action.decision is Decision.DELAY and action.window is not None
    assert action.window >= 200
    assert cost == pytest.approx(expected_cost(setting, point, action))
    # Before the fix is in sight it refuses: waiting 72 hours does not reach it.
    early = DecisionPoint(blog(20), 20, clash=False, delays=0, day=0, hour=10)
    assert Oracle(setting).decide(early).decision is Decision.NO_GO


def test_the_oracle_deploys_before_a_service_turns_fragile() -> None:
    world = drifting({"from": at(200)}, times=18.0)
    setting = setting_of(world)
    point = DecisionPoint(blog(199), 199, clash=False, delays=0, day=0, hour=10)
    assert Oracle(setting).decide(point) == Action(
        Decision.GO, risk=setting.probability(blog(199), 199, False)
    )
    later = DecisionPoint(blog(200), 200, clash=False, delays=0, day=0, hour=10)
    assert Oracle(setting).decide(later).decision is not Decision.GO


def test_failures_follow_the_era_of_each_deploy() -> None:
    world = load_world("drifting-checkout")
    result = simulate(world, 1500, policies={"always_go": AlwaysGo})
    score = result.scores["always_go"]
    checkout = [s.name for s in world.services].index("checkout")
    fragile_from, fixed_at = (int(x) for x in world.era_starts[1:])
    eras: dict[str, list[int]] = {"before": [], "fragile": [], "after": []}
    for release in result.releases:
        if release.service != checkout or release.feature_risk is not Level.LOW:
            continue
        era = world.era(release.slot)
        eras[("before", "fragile", "after")[era]].append(release.index)
    assert fragile_from < fixed_at
    for name, indices in eras.items():
        assert len(indices) > 40, name
    rate = {name: score.failed[indices].mean() for name, indices in eras.items()}
    truth = {name: score.true_risk[indices].mean() for name, indices in eras.items()}
    assert truth["fragile"] > 4 * truth["before"] and truth["after"] == pytest.approx(
        truth["before"], rel=0.2
    )
    assert rate["fragile"] > 2 * max(rate["before"], rate["after"])


def test_the_report_gives_the_regret_after_the_change() -> None:
    world = load_world("drifting-checkout")
    result = simulate(world, 700, policies={"agent": StaticRules, **BASELINES})
    after = build_report(result)["regret"]["after_change"]
    assert after is not None and after["at"].startswith("2026-04-06T00:00:00-04:00")
    first = next(r.index for r in result.releases if r.slot >= world.era_starts[1])
    assert after["releases"] == 700 - first > 0
    steady = simulate(load_world("default"), 100, policies={"agent": StaticRules, **BASELINES})
    assert build_report(steady)["regret"]["after_change"] is None


def test_generate_releases_does_not_depend_on_the_factors() -> None:
    # Drift changes what deploys risk, not which releases arrive.
    plain, moving = drifting({"from": at(10**6)}), drifting({"from": at(10)})
    assert generate_releases(plain, 3, 200, Clock(plain)) == generate_releases(
        moving, 3, 200, Clock(moving)
    )
