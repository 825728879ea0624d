"""The run: releases, common draws across policies, the oracle, and the delay limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.domain.models import Decision
from release_agent.simulation import MAX_DELAYS, Action, DecisionPoint, Setting, simulate
from release_agent.simulation.arrivals import Clock, generate_releases
from release_agent.simulation.baselines import AlwaysGo, StaticRules
from release_agent.simulation.draws import Draws, uniform
from release_agent.simulation.oracle import HORIZON_HOURS, Oracle, expected_cost
from release_agent.simulation.runner import BASELINES, run_policy
from release_agent.simulation.world import Service, World, load_world, shipped_worlds


@pytest.fixture(scope="module")
def world() -> World:
    return load_world("default")


def setting_for(world: World, seed: int | None = None) -> Setting:
    seed = world.seed if seed is None else seed
    return Setting(world, Clock(world), Draws(seed, world.clash_rate), seed)


# --- the stream of releases --------------------------------------------------------------


def test_releases_arrive_in_order_at_the_documented_rate(world: World) -> None:
    clock = Clock(world)
    releases = generate_releases(world, 1, 3000, clock)
    slots = [r.slot for r in releases]
    assert slots == sorted(slots)
    assert [r.index for r in releases] == list(range(3000))
    days = (slots[-1] + 1) / 24
    assert 3000 / days == pytest.approx(world.releases_per_day, rel=0.1)


def test_arrivals_follow_the_hour_and_day_weights(world: World) -> None:
    clock = Clock(world)
    releases = generate_releases(world, 7, 6000, clock)
    days = np.array([clock.day(r.slot) for r in releases])
    hours = np.array([clock.hour(r.slot) for r in releases])
    # Weekdays weigh 1, weekend days 0.3; working hours 1, the small hours 0.2.
    assert (days < 5).mean() / 5 == pytest.approx(1 / 5.6, rel=0.1)
    assert np.isin(hours, range(8, 18)).mean() > 5 * np.isin(hours, range(0, 7)).mean()


def test_the_risk_mix_and_services_are_drawn_as_stated(world: World) -> None:
    releases = generate_releases(world, 3, 6000, Clock(world))
    risks = np.bincount([r.risk for r in releases], minlength=3) / 6000
    assert risks == pytest.approx([0.6, 0.3, 0.1], abs=0.03)
    services = np.bincount([r.service for r in releases], minlength=3) / 6000
    assert services == pytest.approx([1 / 3] * 3, abs=0.03)


def test_a_longer_run_extends_a_shorter_one(world: World) -> None:
    short = generate_releases(world, 5, 100, Clock(world))
    long = generate_releases(world, 5, 700, Clock(world))
    assert long[:100] == short


def test_the_clock_reads_local_time_across_daylight_saving(world: World) -> None:
    clock = Clock(world)
    # 2026-01-05T00:00Z is Monday 01:00 in Berlin (UTC+1).
    assert (clock.day(0), clock.hour(0)) == (0, 1)
    # 2026-07-06T00:00Z is Monday 02:00 in Berlin (UTC+2).
    summer = clock.slot_at_or_after(world.start.replace(month=7, day=6))
    assert (clock.day(summer), clock.hour(summer)) == (0, 2)


# --- common random numbers ---------------------------------------------------------------


@given(st.integers(0, 2**63), st.integers(0, 10), st.integers(0, 10**6), st.integers(0, 10**6))
def test_a_draw_depends_only_on_its_arguments(
    seed: int, stream: int, release: int, slot: int
) -> None:
    value = uniform(seed, stream, release, slot)
    assert 0.0 <= value < 1.0
    uniform(seed + 1, stream, release, slot)  # another draw in between changes nothing
    assert uniform(seed, stream, release, slot) == value


@given(
    st.integers(0, 2**32),
    st.integers(0, 5000),
    st.integers(0, 20000),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_a_riskier_deploy_fails_whenever_a_safer_one_does(
    seed: int, release: int, slot: int, p: float, q: float
) -> None:
    draws = Draws(seed, 0.1)
    low, high = sorted((p, q))
    if draws.fails(release, slot, low):
        assert draws.fails(release, slot, high)
    assert not draws.fails(release, slot, 0.0)
    assert draws.fails(release, slot, 1.0)


@dataclass
class Recorder:
    """Wraps a policy and records the conditions and result of each of its deploys."""

    inner: object
    name: str = "recorded"
    deploys: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)
    points: list[DecisionPoint] = field(default_factory=list)

    def decide(self, point: DecisionPoint) -> Action:
        self.points.append(point)
        return self.inner.decide(point)  # type: ignore[attr-defined]

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        self.deploys[(point.release.index, point.slot)] = (point.clash, failed)
        self.inner.observe(point, failed)  # type: ignore[attr-defined]


class Jittery:
    """Deterministic but arbitrary: GO, NO_GO or DELAY by a hash of the release."""

    name = "jittery"

    def __init__(self, setting: Setting) -> None:
        self.setting = setting

    def decide(self, point: DecisionPoint) -> Action:
        u = uniform(99, 0, point.release.index, point.slot)
        if u < 0.5:
            return Action(Decision.GO)
        if u < 0.55:
            return Action(Decision.NO_GO)
        return Action(Decision.DELAY, point.slot + 1 + int(u * 100) % 30)

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_deploy_conditions_give_the_same_result_under_every_policy(
    world: World, seed: int
) -> None:
    recorders: dict[str, Recorder] = {}

    def recorded(factory: Callable[[Setting], object]) -> Callable[[Setting], Recorder]:
        def build(setting: Setting) -> Recorder:
            recorder = Recorder(factory(setting))
            recorders[getattr(recorder.inner, "name", "?")] = recorder
            return recorder

        return build

    factories = {**BASELINES, "jittery": Jittery}
    simulate(world, 300, seed=seed, policies={k: recorded(f) for k, f in factories.items()})
    seen: dict[tuple[int, int], tuple[bool, bool]] = {}
    shared = 0
    for recorder in recorders.values():
        for key, result in recorder.deploys.items():
            if key in seen:
                shared += 1
                assert seen[key] == result, key
            seen[key] = result
    assert shared > 300  # the policies overlap a lot, so the check has teeth
    # A failure is the common uniform below the true probability of those conditions.
    setting = setting_for(world, seed)
    releases = generate_releases(world, seed, 300, setting.clock)
    for (index, slot), (clash, failed) in seen.items():
        p = setting.probability(releases[index], slot, clash)
        assert failed == (setting.draws.failure_uniform(index, slot) < p)


def test_the_order_in_which_policies_run_does_not_matter(world: World) -> None:
    names = ["always_go", "static_rules", "oracle"]
    forward = simulate(world, 200, policies={n: BASELINES[n] for n in names})
    backward = simulate(world, 200, policies={n: BASELINES[n] for n in reversed(names)})
    for name in names:
        assert np.array_equal(forward.scores[name].costs, backward.scores[name].costs)


def test_every_release_ends_as_one_deploy_or_one_no_go(world: World) -> None:
    result = simulate(world, 400, policies={**BASELINES, "jittery": Jittery})
    for score in result.scores.values():
        assert score.deploys + score.no_gos == 400
        assert score.failures <= score.deploys
        assert score.cost == pytest.approx(score.costs.sum())


def test_a_seed_replaces_the_worlds_seed(world: World) -> None:
    same = simulate(world, 100, seed=world.seed).scores["always_go"].costs
    assert np.array_equal(same, simulate(world, 100).scores["always_go"].costs)
    other = simulate(world, 100, seed=world.seed + 1).scores["always_go"].costs
    assert not np.array_equal(same, other)


# --- the delay limit ---------------------------------------------------------------------


class AlwaysDelay:
    name = "always_delay"

    def __init__(self, setting: Setting, hours: int = 5) -> None:
        self.hours = hours

    def decide(self, point: DecisionPoint) -> Action:
        return Action(Decision.DELAY, point.slot + self.hours)

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        raise AssertionError("never deployed")


def test_three_delays_become_a_no_go(world: World) -> None:
    setting = setting_for(world)
    releases = generate_releases(world, world.seed, 50, setting.clock)
    recorder = Recorder(AlwaysDelay(setting))
    score = run_policy(setting, releases, recorder, "always_delay")  # type: ignore[arg-type]
    assert MAX_DELAYS == 3
    assert score.deploys == 0 and score.no_gos == 50 and score.forced_no_gos == 50
    # Two waits are served; the third DELAY is the NO_GO.
    assert score.delays == 2 * 50 and score.delay_hours == 2 * 5 * 50
    costs = world.costs
    assert score.costs == pytest.approx(np.full(50, costs.no_go + 10 * costs.delay_per_hour))
    for release in releases:
        mine = [p for p in recorder.points if p.release.index == release.index]
        assert [p.delays for p in mine] == [0, 1, 2]
        assert [p.slot for p in mine] == [release.slot, release.slot + 5, release.slot + 10]


class DelayTwiceThenGo:
    name = "patient"

    def __init__(self, setting: Setting) -> None:
        pass

    def decide(self, point: DecisionPoint) -> Action:
        if point.delays < 2:
            return Action(Decision.DELAY, point.slot + 1)
        return Action(Decision.GO)

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        pass


def test_two_delays_then_go_deploys(world: World) -> None:
    result = simulate(world, 60, policies={"patient": DelayTwiceThenGo})
    score = result.scores["patient"]
    assert score.deploys == 60 and score.no_gos == 0 and score.delays == 120


def test_a_delay_that_does_not_move_forward_waits_one_hour(world: World) -> None:
    class Stuck(AlwaysDelay):
        def decide(self, point: DecisionPoint) -> Action:
            return Action(Decision.DELAY, point.slot)

    score = simulate(world, 10, policies={"stuck": Stuck}).scores["stuck"]
    assert score.delay_hours == 20


# --- the baselines -----------------------------------------------------------------------


def test_static_rules_delay_to_the_next_working_morning(world: World) -> None:
    setting = setting_for(world)
    rules = StaticRules(setting)
    clock = setting.clock
    releases = generate_releases(world, world.seed, 400, clock)
    for release in releases:
        point = setting.point(release, release.slot, 0)
        action = rules.decide(point)
        service = world.services[release.service]
        if service.criticality.value == "HIGH" and release.feature_risk.value == "HIGH":
            assert action.decision is Decision.NO_GO
            continue
        weekend = point.day >= 5
        friday_afternoon = point.day == 4 and point.hour >= 12
        out_of_hours = not 8 <= point.hour < 18
        if weekend or friday_afternoon or out_of_hours:
            assert action.decision is Decision.DELAY and action.window is not None
            assert clock.day(action.window) < 5 and clock.hour(action.window) == 8
            assert action.window - point.slot <= HORIZON_HOURS
        else:
            assert action.decision is Decision.GO


# --- the oracle --------------------------------------------------------------------------


@pytest.mark.parametrize("name", shipped_worlds())
def test_the_oracle_is_never_beaten_in_expectation_by_a_baseline(name: str) -> None:
    world = load_world(name)
    setting = setting_for(world)
    oracle, always, rules = Oracle(setting), AlwaysGo(setting), StaticRules(setting)
    for release in generate_releases(world, world.seed, 500, setting.clock):
        point = setting.point(release, release.slot, 0)
        best, best_cost = oracle.options(point)
        assert expected_cost(setting, point, best) == pytest.approx(best_cost)
        for policy in (always, rules):
            assert best_cost <= expected_cost(setting, point, policy.decide(point)) + 1e-12


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, 299),
    delays=st.integers(0, MAX_DELAYS - 1),
    choice=st.sampled_from(list(Decision)),
    wait=st.integers(1, HORIZON_HOURS),
    world_name=st.sampled_from(["default", "fridays-safe", "fragile-service"]),
)
def test_no_action_beats_the_oracle_in_expectation(
    index: int, delays: int, choice: Decision, wait: int, world_name: str
) -> None:
    world = _worlds[world_name]
    setting = _settings[world_name]
    release = _releases[world_name][index]
    point = setting.point(release, release.slot + wait // 3, delays)
    action = Action(choice, point.slot + wait if choice is Decision.DELAY else None)
    _, best_cost = Oracle(setting).options(point)
    assert best_cost <= expected_cost(setting, point, action) + 1e-12
    assert world.costs.no_go >= best_cost


_worlds = {name: load_world(name) for name in ["default", "fridays-safe", "fragile-service"]}
_settings = {name: setting_for(world) for name, world in _worlds.items()}
_releases = {
    name: generate_releases(world, world.seed, 300, _settings[name].clock)
    for name, world in _worlds.items()
}


def test_the_oracle_costs_less_than_the_baselines_over_a_run(world: World) -> None:
    scores = simulate(world, 1000).scores
    assert scores["oracle"].cost < scores["always_go"].cost
    assert scores["oracle"].cost < scores["static_rules"].cost


def test_the_oracle_delays_a_clashing_high_risk_deploy(world: World) -> None:
    setting = setting_for(world)
    release = next(
        r
        for r in generate_releases(world, world.seed, 500, setting.clock)
        if r.service == 0 and r.feature_risk.value == "HIGH"
    )
    clashing = replace(setting.point(release, release.slot, 0), clash=True)
    assert setting.probability(release, clashing.slot, True) >= 0.6
    assert Oracle(setting).decide(clashing).decision is not Decision.GO


# --- service weights ---------------------------------------------------------------------


def test_services_are_drawn_by_their_weights() -> None:
    world = load_world("long-tail")
    releases = generate_releases(world, 11, 20_000, Clock(world))
    counts = np.bincount([r.service for r in releases], minlength=len(world.services))
    assert counts / 20_000 == pytest.approx(world.service_shares, abs=0.01)
    rare = [s.name for s in world.services].index("legacy-billing")
    assert 0 < counts[rare] < 0.01 * 20_000


def test_equal_weights_draw_the_same_stream_as_none(world: World) -> None:
    doubled = replace(
        world, services=tuple(Service(s.name, s.criticality, 2.0) for s in world.services)
    )
    assert generate_releases(doubled, 4, 500, Clock(doubled)) == generate_releases(
        world, 4, 500, Clock(world)
    )
