"""Conditions: normalization refuses what is unknown, matching follows the documented rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from release_agent.decide.context import evaluate
from release_agent.domain.conditions import (
    BOOL_ATTRIBUTES,
    KNOWN_ATTRIBUTES,
    canonical_key,
    describe,
    matches,
    normalize,
)
from release_agent.domain.errors import InvalidInput
from release_agent.domain.models import Context, ReleaseRequest
from release_agent.domain.policy import DecisionSettings

DAYS = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


def refusal(when: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        normalize(when)
    return caught.value


# -- normalize --------------------------------------------------------------------------


def test_an_unknown_attribute_is_named_with_the_allowed_ones() -> None:
    error = refusal({"moon_phase": "full"})

    assert error.field == "when.moon_phase"
    assert error.allowed == list(KNOWN_ATTRIBUTES)
    assert "day_of_week" in str(error)


def test_the_prefix_of_the_path_is_the_caller_s() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize({"day_of_week": "FRY"}, where="heuristics[2].when")

    assert caught.value.field == "heuristics[2].when.day_of_week"


@pytest.mark.parametrize(
    ("attribute", "value", "allowed"),
    [
        ("feature_risk", "EXTREME", ["LOW", "MEDIUM", "HIGH"]),
        ("service_criticality", 2, ["LOW", "MEDIUM", "HIGH"]),
        ("day_of_week", "FRIDAY", DAYS),
        ("day_of_week", "", DAYS),
    ],
)
def test_a_bad_enum_value_is_refused_with_the_allowed_values(
    attribute: str, value: Any, allowed: list[str]
) -> None:
    error = refusal({attribute: value})

    assert error.field == f"when.{attribute}"
    assert error.allowed == allowed


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("feature_risk", "high", "HIGH"),
        ("service_criticality", "Medium", "MEDIUM"),
        ("day_of_week", "fri", "FRI"),
    ],
)
def test_enum_values_are_upper_cased(attribute: str, value: str, expected: str) -> None:
    assert normalize({attribute: value}) == {attribute: expected}


@pytest.mark.parametrize("attribute", BOOL_ATTRIBUTES)
@pytest.mark.parametrize("value", ["true", 1, 0, None, "yes"])
def test_boolean_attributes_take_only_booleans(attribute: str, value: Any) -> None:
    error = refusal({attribute: value})

    assert error.field == f"when.{attribute}"
    assert error.allowed == ["true", "false"]


@pytest.mark.parametrize("attribute", BOOL_ATTRIBUTES)
def test_boolean_attributes_keep_their_value(attribute: str) -> None:
    assert normalize({attribute: False}) == {attribute: False}
    assert normalize({attribute: True}) == {attribute: True}


@pytest.mark.parametrize("hour", [0, 12, 23])
def test_hours_from_0_to_23_are_accepted(hour: int) -> None:
    assert normalize({"hour_of_day": hour}) == {"hour_of_day": hour}


@pytest.mark.parametrize("hour", [-1, 24, 7.5, "8", True, None])
def test_other_hours_are_refused(hour: Any) -> None:
    assert refusal({"hour_of_day": hour}).field == "when.hour_of_day"


def test_an_hour_range_is_checked_at_each_end() -> None:
    assert normalize({"hour_of_day": {"from": 22, "to": 5}}) == {
        "hour_of_day": {"from": 22, "to": 5}
    }
    assert refusal({"hour_of_day": {"from": 22, "to": 24}}).field == "when.hour_of_day.to"
    assert refusal({"hour_of_day": {"from": -3, "to": 5}}).field == "when.hour_of_day.from"


@pytest.mark.parametrize(
    "when",
    [
        {"day_of_week": {"from": "MON", "to": "FRI"}},
        {"feature_risk": {"from": "LOW", "to": "HIGH"}},
        {"hour_of_day": {"from": 9}},
        {"hour_of_day": {"from": 9, "to": 17, "step": 2}},
        {"hour_of_day": {"start": 9, "end": 17}},
    ],
)
def test_ranges_exist_only_on_hour_of_day_with_from_and_to(when: dict[str, Any]) -> None:
    attribute = next(iter(when))
    error = refusal(when)

    assert error.field == f"when.{attribute}"
    assert "range" in str(error)


def test_lists_are_deduplicated_and_in_a_canonical_order() -> None:
    first = normalize({"day_of_week": ["sat", "SUN", "SAT", "Fri"]})
    second = normalize({"day_of_week": ["SUN", "FRI", "sat"]})

    assert first == second
    assert sorted(first["day_of_week"]) == ["FRI", "SAT", "SUN"]
    assert len(first["day_of_week"]) == 3


def test_a_list_member_that_is_not_allowed_names_its_position() -> None:
    error = refusal({"feature_risk": ["LOW", "NONE"]})

    assert error.field == "when.feature_risk[1]"
    assert error.allowed == ["LOW", "MEDIUM", "HIGH"]


def test_an_empty_list_is_refused() -> None:
    assert refusal({"day_of_week": []}).field == "when.day_of_week"


@pytest.mark.parametrize("when", [{}, [], "day_of_week=FRI", None])
def test_a_condition_must_be_a_non_empty_mapping(when: Any) -> None:
    assert refusal(when).field == "when"


def test_text_attributes_are_trimmed_and_env_is_lower_cased() -> None:
    assert normalize({"service": " Payments ", "env": " PROD "}) == {
        "env": "prod",
        "service": "Payments",
    }


@pytest.mark.parametrize("value", ["", "   ", 5, None])
def test_text_attributes_must_be_non_empty_text(value: Any) -> None:
    assert refusal({"service": value}).field == "when.service"


def test_the_result_is_keyed_in_sorted_order() -> None:
    normalized = normalize({"day_of_week": "FRI", "clash": True, "feature_risk": "HIGH"})

    assert list(normalized) == ["clash", "day_of_week", "feature_risk"]


def test_normalizing_twice_changes_nothing() -> None:
    once = normalize(
        {"day_of_week": ["sun", "sat"], "env": "Prod", "hour_of_day": {"from": 22, "to": 5}}
    )

    assert normalize(once) == once


# -- matches ----------------------------------------------------------------------------

FRIDAY_EVENING = {
    "service": "payments",
    "env": "prod",
    "feature_risk": "HIGH",
    "service_criticality": "HIGH",
    "day_of_week": "FRI",
    "hour_of_day": 23,
    "clash": True,
    "weekend": False,
    "friday_afternoon": True,
    "out_of_hours": True,
}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"day_of_week": "FRI"}, True),
        ({"day_of_week": "MON"}, False),
        ({"day_of_week": "FRI", "feature_risk": "HIGH"}, True),
        ({"day_of_week": "FRI", "feature_risk": "LOW"}, False),
        ({"clash": True}, True),
        ({"clash": False}, False),
        ({"weekend": False}, True),
        ({"day_of_week": ["SAT", "FRI"]}, True),
        ({"day_of_week": ["SAT", "SUN"]}, False),
        ({"hour_of_day": 23}, True),
        ({"hour_of_day": [22, 23]}, True),
        ({"hour_of_day": {"from": 18, "to": 23}}, True),
        ({"hour_of_day": {"from": 8, "to": 17}}, False),
    ],
)
def test_matches_scalars_lists_and_ranges(when: dict[str, Any], expected: bool) -> None:
    assert matches(normalize(when), FRIDAY_EVENING) is expected


@pytest.mark.parametrize(
    ("hour", "expected"),
    [(21, False), (22, True), (23, True), (0, True), (3, True), (5, True), (6, False), (12, False)],
)
def test_a_range_past_midnight_wraps(hour: int, expected: bool) -> None:
    night = normalize({"hour_of_day": {"from": 22, "to": 5}})

    assert matches(night, {"hour_of_day": hour}) is expected


@pytest.mark.parametrize(("hour", "expected"), [(8, True), (12, True), (17, True), (18, False)])
def test_a_plain_range_includes_both_ends(hour: int, expected: bool) -> None:
    assert matches({"hour_of_day": {"from": 8, "to": 17}}, {"hour_of_day": hour}) is expected


def test_a_single_hour_range_matches_that_hour_only() -> None:
    when = {"hour_of_day": {"from": 9, "to": 9}}

    assert [h for h in range(24) if matches(when, {"hour_of_day": h})] == [9]


def test_a_missing_attribute_never_matches() -> None:
    attributes = {k: v for k, v in FRIDAY_EVENING.items() if k != "hour_of_day"}

    assert matches({"hour_of_day": {"from": 0, "to": 23}}, attributes) is False
    assert matches({"clash": True}, {}) is False


def test_an_empty_condition_matches_anything() -> None:
    assert matches({}, {}) is True


# -- canonical key and description -------------------------------------------------------


def test_reordered_conditions_have_the_same_key() -> None:
    a = normalize({"day_of_week": ["SAT", "FRI"], "feature_risk": "high", "clash": True})
    b = normalize({"clash": True, "feature_risk": "HIGH", "day_of_week": ["fri", "sat", "FRI"]})

    assert canonical_key(a) == canonical_key(b)


def test_different_conditions_have_different_keys() -> None:
    assert canonical_key(normalize({"day_of_week": "FRI"})) != canonical_key(
        normalize({"day_of_week": "SAT"})
    )
    assert canonical_key(normalize({"clash": True})) != canonical_key(normalize({"clash": False}))


def test_describe_reads_like_the_condition() -> None:
    text = describe(
        normalize({"day_of_week": "FRI", "hour_of_day": {"from": 14, "to": 23}, "clash": True})
    )

    assert text == "clash=true & day_of_week=FRI & hour_of_day=14..23"


# -- hypothesis: a condition built from a context's own attributes matches it -------------

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,20}\Z")
levels = st.sampled_from(["LOW", "MEDIUM", "HIGH"])
moments = st.builds(
    lambda naive, minutes: naive.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
)


@st.composite
def contexts(draw: st.DrawFn) -> Context:
    request = ReleaseRequest(
        service=draw(names),
        env=draw(st.sampled_from(["prod", "production", "staging", "QA"])),
        feature_risk=draw(levels),
        service_criticality=draw(levels),
        at=draw(moments),
        clashes=draw(st.lists(names, max_size=2)),
    )
    return evaluate(request, DecisionSettings())


@st.composite
def condition_for(draw: st.DrawFn, attributes: dict[str, Any]) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(sorted(attributes)), min_size=1, unique=True))
    when: dict[str, Any] = {}
    for name in chosen:
        value = attributes[name]
        shape = draw(st.sampled_from(["scalar", "list", "range"]))
        if shape == "list":
            others = draw(st.lists(st.just(value), max_size=2))
            when[name] = [value, *others]
        elif shape == "range" and name == "hour_of_day":
            low = draw(st.integers(0, 23))
            high = draw(st.integers(0, 23))
            # widen the range (possibly wrapping past midnight) until it holds the hour
            if low <= high and not low <= value <= high:
                low, high = min(low, value), max(high, value)
            elif low > high and not (value >= low or value <= high):
                high = value
            when[name] = {"from": low, "to": high}
        elif isinstance(value, str) and name in ("feature_risk", "service_criticality"):
            when[name] = draw(st.sampled_from([value, value.lower()]))
        else:
            when[name] = value
    return when


@given(st.data())
def test_a_condition_from_a_context_s_own_attributes_matches_it(data: st.DataObject) -> None:
    context = data.draw(contexts())
    attributes = context.attributes()
    when = normalize(data.draw(condition_for(attributes)))

    assert matches(when, attributes)


@given(st.data())
def test_changing_one_enum_attribute_breaks_the_match(data: st.DataObject) -> None:
    attributes = data.draw(contexts()).attributes()
    name = data.draw(st.sampled_from(["feature_risk", "service_criticality", "day_of_week"]))
    choices = DAYS if name == "day_of_week" else ["LOW", "MEDIUM", "HIGH"]
    other = data.draw(st.sampled_from([c for c in choices if c != attributes[name]]))

    assert not matches(normalize({name: other}), attributes)
