"""The world file: its format, its validation and the meaning of its factors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

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
    times=st.lists(st.floats(0.0, 10.0), min_size=4, max_size=4),
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
    table = world.probability_table[service, LEVELS.index(risk), day, hour, int(clash)]
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
