"""The world file: its format, its validation and the meaning of its factors."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.domain.errors import InvalidInput
from release_agent.domain.models import Level
from release_agent.simulation.world import (
    LEVELS,
    World,
    load_world,
    parse_world,
    shipped_worlds,
)

MON, TUE, FRI, SAT = 0, 1, 4, 5
PAYMENTS, SEARCH, BLOG = 0, 1, 2

ISSUE_EXAMPLE: dict[str, Any] = {
    "name": "default",
    "seed": 1,
    "start": "2026-01-05T00:00:00+00:00",
    "timezone": "Europe/Berlin",
    "services": [
        {"name": "payments", "criticality": "HIGH"},
        {"name": "search", "criticality": "MEDIUM"},
        {"name": "blog", "criticality": "LOW"},
    ],
    "feature_risk_mix": {"LOW": 0.6, "MEDIUM": 0.3, "HIGH": 0.1},
    "releases_per_day": 6,
    "arrival": {
        "hours": [0.2] * 7 + [0.6] + [1] * 10 + [0.8] + [0.4] * 5,
        "days": [1, 1, 1, 1, 1, 0.3, 0.3],
    },
    "clash_rate": 0.1,
    "base_failure_rate": 0.05,
    "max_failure_rate": 0.95,
    "factors": [
        {"when": {"feature_risk": "HIGH"}, "times": 4.0},
        {"when": {"day_of_week": ["FRI"], "hour_of_day": {"from": 14, "to": 23}}, "times": 2.5},
        {"when": {"clash": True}, "times": 3.0},
        {"when": {"service": "search", "feature_risk": ["MEDIUM", "HIGH"]}, "times": 0.5},
    ],
    "costs": {"failure": {"LOW": 5, "MEDIUM": 15, "HIGH": 40}, "delay_per_hour": 0.05, "no_go": 4},
}


def example(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ISSUE_EXAMPLE)
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def world() -> World:
    return parse_world(ISSUE_EXAMPLE)


def test_the_default_world_is_the_documented_example() -> None:
    shipped = json.loads(
        (Path(__file__).parents[1] / "src/release_agent/data/worlds/default.json").read_text()
    )
    assert shipped == ISSUE_EXAMPLE


def test_at_least_three_worlds_ship_and_all_load() -> None:
    names = shipped_worlds()
    assert {"default", "fridays-safe", "fragile-service"} <= set(names)
    for name in names:
        assert load_world(name).name == name


def test_a_world_loads_from_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(example(name="mine")))
    assert load_world(path).name == "mine"
    assert load_world(str(path)).source == str(path)


def test_an_unknown_world_name_lists_the_shipped_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_world("no-such-world")
    assert caught.value.field == "world"
    assert caught.value.allowed is not None and "default" in caught.value.allowed


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_world(path)


# --- factor matching ---------------------------------------------------------------------


def test_a_scalar_factor_matches_equal_values(world: World) -> None:
    assert world.failure_probability(BLOG, Level.HIGH, TUE, 10, False) == pytest.approx(0.2)
    assert world.failure_probability(BLOG, Level.MEDIUM, TUE, 10, False) == pytest.approx(0.05)


def test_a_list_factor_matches_any_member(world: World) -> None:
    # search × (MEDIUM or HIGH) halves the risk; LOW is not in the list.
    assert world.failure_probability(SEARCH, Level.MEDIUM, TUE, 10, False) == pytest.approx(0.025)
    assert world.failure_probability(SEARCH, Level.HIGH, TUE, 10, False) == pytest.approx(0.1)
    assert world.failure_probability(SEARCH, Level.LOW, TUE, 10, False) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("day", "hour", "expected"),
    [
        (FRI, 13, 0.05),
        (FRI, 14, 0.125),  # the range is inclusive at both ends
        (FRI, 23, 0.125),
        (SAT, 0, 0.05),
        (TUE, 15, 0.05),  # every key of `when` must match: the hour alone is not enough
    ],
)
def test_an_hour_range_factor_is_inclusive(
    world: World, day: int, hour: int, expected: float
) -> None:
    assert world.failure_probability(PAYMENTS, Level.LOW, day, hour, False) == pytest.approx(
        expected
    )


def test_matching_factors_multiply_and_are_capped(world: World) -> None:
    # 0.05 × 4 (HIGH) × 2.5 (Friday evening) × 3 (clash) = 1.5, capped at 0.95.
    assert world.failure_probability(PAYMENTS, Level.HIGH, FRI, 16, True) == 0.95
    # 0.05 × 4 × 3 = 0.6 stays below the cap.
    assert world.failure_probability(PAYMENTS, Level.HIGH, TUE, 16, True) == pytest.approx(0.6)


def test_the_env_of_a_world_is_prod() -> None:
    data = example(factors=[{"when": {"env": "prod"}, "times": 2.0}])
    assert parse_world(data).failure_probability(BLOG, Level.LOW, TUE, 3, False) == 0.1
    data = example(factors=[{"when": {"env": "staging"}, "times": 2.0}])
    assert parse_world(data).failure_probability(BLOG, Level.LOW, TUE, 3, False) == 0.05


def test_an_hour_range_may_wrap_past_midnight() -> None:
    data = example(factors=[{"when": {"hour_of_day": {"from": 22, "to": 5}}, "times": 2.0}])
    night = parse_world(data)
    assert night.failure_probability(BLOG, Level.LOW, TUE, 23, False) == 0.1
    assert night.failure_probability(BLOG, Level.LOW, TUE, 5, False) == 0.1
    assert night.failure_probability(BLOG, Level.LOW, TUE, 6, False) == 0.05


@settings(max_examples=200, deadline=None)
@given(
    service=st.integers(0, 2),
    risk=st.sampled_from(LEVELS),
    day=st.integers(0, 6),
    hour=st.integers(0, 23),
    clash=st.booleans(),
    base=st.floats(0.0, 1.0),
    cap=st.floats(0.0, 1.0),
    times=st.lists(st.floats(0.001, 10.0), min_size=4, max_size=4),
)
def test_failure_probability_is_the_capped_product_of_matching_factors(
    service: int,
    risk: Level,
    day: int,
    hour: int,
    clash: bool,
    base: float,
    cap: float,
    times: list[float],
) -> None:
    data = example(base_failure_rate=base, max_failure_rate=cap)
    for factor, value in zip(data["factors"], times, strict=True):
        factor["times"] = value
    world = parse_world(data)
    applies = [
        risk is Level.HIGH,
        day == FRI and 14 <= hour <= 23,
        clash,
        service == SEARCH and risk in (Level.MEDIUM, Level.HIGH),
    ]
    product = base
    for value, applied in zip(times, applies, strict=True):
        product *= value if applied else 1.0
    probability = world.failure_probability(service, risk, day, hour, clash)
    assert probability == pytest.approx(min(cap, product))
    assert 0.0 <= probability <= cap
    table = world.probability_table()[service, LEVELS.index(risk), day, hour, int(clash)]
    assert table == probability


# --- validation --------------------------------------------------------------------------


def refused(data: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_world(data)
    return caught.value


def test_an_unknown_top_level_key_is_refused_by_name() -> None:
    error = refused(example(colour="blue"))
    assert error.field == "colour"
    assert "colour" in str(error)
    assert error.allowed is not None and "factors" in error.allowed


@pytest.mark.parametrize(
    ("path", "key"),
    [
        (("services", 0), "owner"),
        (("factors", 1), "weight"),
        (("costs",), "per_failure"),
        (("costs", "failure"), "CRITICAL"),
        (("arrival",), "minutes"),
        (("feature_risk_mix",), "EXTREME"),
    ],
)
def test_an_unknown_nested_key_is_refused_by_name(path: tuple[Any, ...], key: str) -> None:
    data = example()
    target: Any = data
    for step in path:
        target = target[step]
    target[key] = 1
    error = refused(data)
    assert error.field is not None and error.field.endswith(key)
    assert key in str(error)


def test_an_unknown_factor_attribute_is_refused_by_name() -> None:
    data = example()
    data["factors"][0]["when"] = {"weekday": "FRI"}
    error = refused(data)
    assert error.field == "factors[0].when.weekday"
    assert error.allowed is not None and "day_of_week" in error.allowed


def test_heuristic_only_attributes_are_not_world_keys() -> None:
    data = example()
    data["factors"][0]["when"] = {"weekend": True}
    assert refused(data).field == "factors[0].when.weekend"


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("services", 0, "criticality"), "EXTREME", "services[0].criticality"),
        (("factors", 1, "when", "day_of_week"), ["FRIDAY"], "factors[1].when.day_of_week[0]"),
        (("factors", 0, "when", "feature_risk"), "SEVERE", "factors[0].when.feature_risk"),
        (("factors", 3, "when", "service"), "checkout", "factors[3].when.service"),
        (("timezone",), "Mars/Olympus", "timezone"),
    ],
)
def test_an_unknown_value_is_refused_by_name(path: tuple[Any, ...], value: Any, field: str) -> None:
    data = example()
    _set(data, path, value)
    error = refused(data)
    assert error.field == field
    shown = value[0] if isinstance(value, list) else value
    assert shown in str(error)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"clash_rate": 1.5}, "clash_rate"),
        ({"base_failure_rate": -0.1}, "base_failure_rate"),
        ({"releases_per_day": 0}, "releases_per_day"),
        ({"start": "2026-01-05T00:00:00"}, "start"),
        ({"arrival": {"hours": [1] * 23}}, "arrival.hours"),
        ({"arrival": {"days": [0] * 7}}, "arrival.days"),
        ({"services": []}, "services"),
        ({"seed": -1}, "seed"),
    ],
)
def test_values_out_of_range_are_refused(changes: dict[str, Any], field: str) -> None:
    assert refused(example(**changes)).field == field


def test_a_missing_required_key_is_named() -> None:
    data = example()
    del data["costs"]
    assert refused(data).field == "costs"
    data = example()
    del data["costs"]["failure"]["LOW"]
    assert refused(data).field == "costs.failure.LOW"


def test_a_duplicate_service_is_refused() -> None:
    data = example()
    data["services"].append({"name": "blog", "criticality": "LOW"})
    assert refused(data).field == "services[3].name"


def test_optional_keys_have_documented_defaults() -> None:
    data = example()
    for key in ("arrival", "factors", "seed", "clash_rate", "max_failure_rate"):
        del data[key]
    world = parse_world(data)
    assert world.arrival_hours == (1.0,) * 24 and world.arrival_days == (1.0,) * 7
    assert world.factors == () and world.seed == 0
    assert world.clash_rate == 0.0 and world.max_failure_rate == 1.0


def test_the_risk_mix_is_normalized() -> None:
    world = parse_world(example(feature_risk_mix={"LOW": 3, "HIGH": 1}))
    assert world.feature_risk_mix == {Level.LOW: 0.75, Level.MEDIUM: 0.0, Level.HIGH: 0.25}


# --- every number finite and in range ----------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 10**400, True, "1"])
@pytest.mark.parametrize(
    "path",
    [
        ("releases_per_day",),
        ("clash_rate",),
        ("base_failure_rate",),
        ("max_failure_rate",),
        ("factors", 0, "times"),
        ("costs", "failure", "HIGH"),
        ("costs", "delay_per_hour"),
        ("costs", "no_go"),
        ("feature_risk_mix", "LOW"),
        ("arrival", "hours", 3),
        ("arrival", "days", 6),
        ("services", 1, "weight"),
    ],
)
def test_a_number_that_is_not_finite_is_refused_by_name(path: tuple[Any, ...], bad: Any) -> None:
    data = example()
    _set(data, path, bad)
    field = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
    assert refused(data).field == field.lstrip(".")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("releases_per_day",), -6),
        (("releases_per_day",), 0.01),  # a run would need centuries of simulated hours
        (("releases_per_day",), 5000),
        (("base_failure_rate",), 1.01),
        (("max_failure_rate",), -0.5),
        (("clash_rate",), -0.01),
        (("factors", 0, "times"), 0),
        (("factors", 0, "times"), -2.0),
        (("factors", 0, "times"), 1e-6),
        (("factors", 0, "times"), 1e6),
        (("costs", "failure", "LOW"), -5),
        (("costs", "failure", "MEDIUM"), 1e12),
        (("costs", "delay_per_hour"), -0.05),
        (("costs", "no_go"), -1),
        (("feature_risk_mix", "HIGH"), -0.1),
        (("feature_risk_mix", "HIGH"), 1e300),
        (("arrival", "hours", 0), -1),
        (("arrival", "days", 0), 1e300),
        (("services", 0, "weight"), -1),
        (("seed",), 2**63),
    ],
)
def test_a_number_out_of_range_is_refused_with_its_range(path: tuple[Any, ...], value: Any) -> None:
    data = example()
    _set(data, path, value)
    error = refused(data)
    field = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
    assert error.field == field.lstrip(".")
    assert "from" in str(error) or "integer" in str(error)


@pytest.mark.parametrize("rate", [0.1, 1000])
def test_the_bounds_of_releases_per_day_are_accepted(rate: float) -> None:
    assert parse_world(example(releases_per_day=rate)).releases_per_day == rate


@pytest.mark.parametrize("times", [0.001, 1000])
def test_the_bounds_of_a_factor_are_accepted(times: float) -> None:
    data = example()
    data["factors"][0]["times"] = times
    assert parse_world(data).factors[0].times == times


def test_too_many_services_or_factors_are_refused() -> None:
    services = [{"name": f"s{i}", "criticality": "LOW"} for i in range(501)]
    assert refused(example(services=services)).field == "services"
    factors = [{"when": {"clash": True}, "times": 1.1}] * 101
    assert refused(example(factors=factors)).field == "factors"


def test_services_need_one_positive_weight() -> None:
    data = example()
    for service in data["services"]:
        service["weight"] = 0
    assert refused(data).field == "services"


def test_a_service_weight_sets_its_share_of_releases() -> None:
    data = example()
    data["services"][0]["weight"] = 3
    world = parse_world(data)
    assert world.service_shares.tolist() == pytest.approx([0.6, 0.2, 0.2])
    assert not world.uniform_services
    assert parse_world(example()).uniform_services


# --- factors limited in time: "from" and "until" -----------------------------------------


def timed(**bounds: str) -> dict[str, Any]:
    """The example with one more factor, on blog, limited in time by ``bounds``."""
    data = example()
    data["factors"].append({"when": {"service": "blog"}, "times": 4.0, **bounds})
    return data


MARCH_1 = "2026-03-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("bounds", "field"),
    [
        ({"from": "2026-03-01T00:00:00"}, "factors[4].from"),  # no offset
        ({"until": "2026-03-01"}, "factors[4].until"),
        ({"until": "next tuesday"}, "factors[4].until"),
        ({"from": 20260301}, "factors[4].from"),
        ({"from": MARCH_1, "until": MARCH_1}, "factors[4].until"),
        ({"from": MARCH_1, "until": "2026-02-28T23:00:00+00:00"}, "factors[4].until"),
    ],
)
def test_bad_time_bounds_are_refused_by_name(bounds: dict[str, Any], field: str) -> None:
    error = refused(timed(**bounds))
    assert error.field == field
    assert field in str(error)


def test_time_bounds_compare_instants_whatever_their_offsets() -> None:
    # 01:00+01:00 is midnight UTC: "until" is an hour after "from", not before it.
    bounds = {"from": "2026-03-01T00:00:00+00:00", "until": "2026-03-01T02:00:00+01:00"}
    world = parse_world(timed(**bounds))
    assert world.factors[4].until is not None and world.factors[4].since is not None
    assert world.factors[4].until > world.factors[4].since


def test_a_factor_applies_from_its_from_inclusive_to_its_until_exclusive() -> None:
    since = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    until = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
    world = parse_world(timed(**{"from": since.isoformat(), "until": until.isoformat()}))
    tick = timedelta(microseconds=1)

    def blog_at(moment: datetime) -> float:
        return world.failure_probability(BLOG, Level.LOW, TUE, 10, False, at=moment)

    assert blog_at(since - tick) == pytest.approx(0.05)
    assert blog_at(since) == pytest.approx(0.2)
    assert blog_at(until - tick) == pytest.approx(0.2)
    assert blog_at(until) == pytest.approx(0.05)
    assert blog_at(world.start) == pytest.approx(0.05)  # the default moment is the start
    assert (
        "from 2026-03-02T09:00:00+00:00 until 2026-04-06T09:00:00+00:00"
        in (world.describe_factors()[4])
    )


def test_an_open_ended_factor_applies_on_one_side_only() -> None:
    cut = datetime(2026, 3, 2, tzinfo=UTC)
    since = parse_world(timed(**{"from": cut.isoformat()}))
    until = parse_world(timed(**{"until": cut.isoformat()}))
    before, after = cut - timedelta(seconds=1), cut + timedelta(days=400)

    def probability(world: World, at: datetime) -> float:
        return world.failure_probability(BLOG, Level.LOW, TUE, 10, False, at=at)

    assert (probability(since, before), probability(since, after)) == pytest.approx((0.05, 0.2))
    assert (probability(until, before), probability(until, after)) == pytest.approx((0.2, 0.05))


# --- the shipped worlds ------------------------------------------------------------------


def test_every_shipped_world_describes_itself() -> None:
    for name in shipped_worlds():
        world = load_world(name)
        assert name == "default" or len(world.description) > 40, name


def test_the_drifting_world_changes_twice_within_a_run() -> None:
    world = load_world("drifting-checkout")
    assert len(world.changes) == 2 and len(world.era_starts) == 3
    # At six releases a day both changes fall within the first 2,000 releases.
    assert world.era_starts[-1] / 24 * world.releases_per_day < 1500
    checkout = [s.name for s in world.services].index("checkout")
    p = [world.probability_table(era)[checkout, 0, 1, 10, 0] for era in range(3)]
    assert p[1] == pytest.approx(5 * p[0]) and p[2] == p[0]


def test_the_long_tail_world_has_many_rarely_released_services() -> None:
    world = load_world("long-tail")
    assert len(world.services) >= 20
    shares = np.sort(world.service_shares)[::-1]
    assert shares[:4].sum() > 0.8 and (shares < 0.01).sum() >= 10


def test_in_labels_say_little_the_label_and_clashes_carry_little() -> None:
    world = load_world("labels-say-little")
    assert world.feature_risk_mix[Level.HIGH] >= 0.8
    table = world.probability_table()
    high, low = LEVELS.index(Level.HIGH), LEVELS.index(Level.LOW)
    assert np.all(table[:, high] <= 1.25 * table[:, low])
    assert np.array_equal(table[..., 0], table[..., 1])  # a clash changes nothing
    assert world.clash_rate >= 0.3
