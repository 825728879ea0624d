"""Every number in a policy is finite and in range, or refused with its key named.

A ``nan`` cost once made the riskiest request a GO: comparisons with nan are all false, so
a nan failure cost never outweighed anything. These tests hold every numeric key of the
policy file to its documented range, and every flag to a real boolean.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Level
from release_agent.domain.policy import (
    COST_MAX,
    EXTRACT_EVERY_MAX,
    HORIZON_HOURS_MAX,
    MAX_RESCHEDULES_MAX,
    Costs,
    DecisionSettings,
    Policy,
    load_policy,
    parse_policy,
)

# key -> (lowest, highest) value allowed, as documented in the README and the errors
FLOATS: dict[str, tuple[float, float]] = {
    "costs.failure.LOW": (0.0, COST_MAX),
    "costs.failure.MEDIUM": (0.0, COST_MAX),
    "costs.failure.HIGH": (0.0, COST_MAX),
    "costs.delay_per_hour": (0.0, COST_MAX),
    "costs.no_go": (0.0, COST_MAX),
    "costs.non_production_factor": (0.0, 1.0),
    "decision.heuristic_threshold": (0.0, 1.0),
    "decision.risk_quantile": (0.5, 0.99),
}
INTEGERS: dict[str, tuple[int, int]] = {
    "decision.extract_every": (1, EXTRACT_EVERY_MAX),
    "decision.max_reschedules": (0, MAX_RESCHEDULES_MAX),
    "decision.horizon_hours": (1, HORIZON_HOURS_MAX),
    "decision.friday_afternoon_from": (0, 23),
}
NUMBERS: dict[str, tuple[float, float]] = {**FLOATS, **INTEGERS}
NON_FINITE = ["nan", "+nan", "-nan", "inf", "+inf", "-inf"]


def toml(key: str, literal: str) -> str:
    """A policy file that sets only ``key`` (a dotted path) to the TOML ``literal``."""
    table, _, rest = key.partition(".")
    name, _, level = rest.partition(".")
    value = f"{{ {level} = {literal} }}" if level else literal
    return f"[{table}]\n{name} = {value}\n"


def read(key: str, policy: Policy) -> Any:
    table, _, rest = key.partition(".")
    name, _, level = rest.partition(".")
    holder = policy.costs if table == "costs" else policy.settings
    value = getattr(holder, name)
    return value[Level(level)] if level else value


def refusal(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(tomllib.loads(text))
    return caught.value


def assert_names(error: PolicyError, key: str) -> None:
    assert error.field == key
    assert str(error).startswith(f"{key}: ")


# -- nan and infinities -------------------------------------------------------------------


@pytest.mark.parametrize("literal", NON_FINITE)
@pytest.mark.parametrize("key", list(NUMBERS))
def test_a_non_finite_number_is_refused_with_its_key(key: str, literal: str) -> None:
    error = refusal(toml(key, literal))

    assert_names(error, key)
    assert ("finite" if key in FLOATS else "whole number") in str(error)


def test_the_issue_s_nan_failure_cost_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[costs]\nfailure = { LOW = 10, MEDIUM = 25, HIGH = nan }\n")

    with pytest.raises(PolicyError) as caught:
        load_policy(path)

    assert_names(caught.value, "costs.failure.HIGH")
    assert "nan is not a finite number" in str(caught.value)


# -- ranges ---------------------------------------------------------------------------------


def outside(key: str) -> list[str]:
    """TOML literals just outside the range of ``key``, below and above."""
    low, high = NUMBERS[key]
    if key in INTEGERS:
        return [str(int(low) - 1), str(int(high) + 1)]
    return [repr(low - 0.01 if high <= 1 else -1.0), repr(high + 0.01 if high <= 1 else high * 10)]


@pytest.mark.parametrize("key", list(NUMBERS))
def test_a_number_out_of_range_is_refused_with_the_range(key: str) -> None:
    low, high = NUMBERS[key]
    show = str if key in INTEGERS else (lambda bound: f"{bound:g}")
    for literal in outside(key):
        error = refusal(toml(key, literal))

        assert_names(error, key)
        assert f"must be from {show(low)} to {show(high)}" in str(error)


@pytest.mark.parametrize("key", list(NUMBERS))
def test_the_ends_of_each_range_are_accepted(key: str) -> None:
    low, high = NUMBERS[key]
    for bound in (low, high):
        literal = str(int(bound)) if key in INTEGERS else repr(float(bound))

        assert read(key, parse_policy(tomllib.loads(toml(key, literal)))) == bound


@pytest.mark.parametrize("literal", ["true", "false", '"1"', "[1]", "{ a = 1 }", "2026-01-01"])
@pytest.mark.parametrize("key", list(NUMBERS))
def test_a_number_must_be_a_number(key: str, literal: str) -> None:
    assert_names(refusal(toml(key, literal)), key)


@pytest.mark.parametrize("key", list(INTEGERS))
def test_a_whole_number_must_be_a_toml_integer(key: str) -> None:
    low, _ = INTEGERS[key]
    error = refusal(toml(key, f"{float(low)}"))

    assert_names(error, key)
    assert "whole number" in str(error)


def test_an_integer_cost_is_read_as_a_float() -> None:
    p = parse_policy(tomllib.loads("[costs]\nno_go = 7\nfailure = { HIGH = 100 }"))

    assert p.costs.no_go == 7.0 and isinstance(p.costs.no_go, float)
    assert isinstance(p.costs.failure[Level.HIGH], float)


@pytest.mark.parametrize(
    "literal", ["[8, nan]", "[8.0, 18]", "[true, 18]", "[-1, 18]", "[8, 18, 20]", '"8-18"']
)
def test_business_hours_are_two_whole_hours_in_order(literal: str) -> None:
    error = refusal(f"[decision]\nbusiness_hours = {literal}")

    assert_names(error, "decision.business_hours")
    assert "from 0 to 24" in str(error)


# -- booleans -------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["1", "0", '"yes"', '"true"', "1.0", "[true]"])
def test_explore_is_a_boolean_only(literal: str) -> None:
    error = refusal(f"[decision]\nexplore = {literal}")

    assert_names(error, "decision.explore")
    assert "is not true or false" in str(error)


@pytest.mark.parametrize(("literal", "expected"), [("true", True), ("false", False)])
def test_explore_reads_true_and_false(literal: str, expected: bool) -> None:
    assert (
        parse_policy(tomllib.loads(f"[decision]\nexplore = {literal}")).settings.explore is expected
    )


# -- the models in code ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Costs(failure={Level.HIGH: math.nan}),
        lambda: Costs(no_go=math.inf),
        lambda: Costs(delay_per_hour=-1.0),
        lambda: Costs(non_production_factor=1.5),
        lambda: DecisionSettings(risk_quantile=math.nan),
        lambda: DecisionSettings(heuristic_threshold=-math.inf),
        lambda: DecisionSettings(explore=1),
        lambda: DecisionSettings(extract_every=0),
        lambda: Policy(costs={"no_go": math.nan}),
    ],
)
def test_a_policy_built_in_code_is_held_to_the_same_ranges(build: Any) -> None:
    with pytest.raises(ValidationError):
        build()


def test_a_read_policy_cannot_be_changed() -> None:
    p = parse_policy({})

    with pytest.raises(ValidationError):
        p.costs.no_go = math.nan  # type: ignore[misc]
    with pytest.raises(ValidationError):
        p.settings.risk_quantile = math.inf  # type: ignore[misc]


# -- properties -----------------------------------------------------------------------------

costs = st.floats(min_value=0.0, max_value=COST_MAX, allow_nan=False, allow_infinity=False)
shares = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_infinity=False)


# No deadline: the machine is shared, and a slow example is not a wrong one.
@settings(deadline=None)
@given(
    failure=st.fixed_dictionaries({level.value: costs for level in Level}),
    delay=costs,
    no_go=costs,
    factor=shares,
)
def test_any_finite_costs_in_range_are_read_exactly(
    failure: dict[str, float], delay: float, no_go: float, factor: float
) -> None:
    table = ", ".join(f"{level} = {value!r}" for level, value in failure.items())
    text = (
        f"[costs]\nfailure = {{ {table} }}\ndelay_per_hour = {delay!r}\nno_go = {no_go!r}\n"
        f"non_production_factor = {factor!r}\n"
    )

    p = parse_policy(tomllib.loads(text))

    assert p.costs.failure == {Level(level): value for level, value in failure.items()}
    assert (p.costs.delay_per_hour, p.costs.no_go) == (delay, no_go)
    assert p.costs.non_production_factor == factor
    for level in Level:
        assert math.isfinite(p.costs.failure_cost(level, production=False))


@settings(deadline=None)
@given(
    key=st.sampled_from(list(FLOATS)),
    bad=st.sampled_from([math.nan, math.inf, -math.inf]),
    others=st.fixed_dictionaries({key: shares for key in FLOATS}),
)
def test_any_non_finite_number_is_refused_whatever_the_rest(
    key: str, bad: float, others: dict[str, float]
) -> None:
    # Every other key holds a valid value, so the refusal is about this one only.
    data: dict[str, Any] = {"costs": {"failure": {}}, "decision": {}}
    for name, value in others.items():
        low, high = FLOATS[name]
        valid = low + value * (high - low)
        *path, last = name.split(".")
        table = data
        for part in path:
            table = table[part]
        table[last] = bad if name == key else valid

    with pytest.raises(PolicyError) as caught:
        parse_policy(data)

    assert_names(caught.value, key)
