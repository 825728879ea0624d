"""Domain records: a release request is refused field by field, decisions order by strictness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from release_agent.domain.errors import InvalidInput, UserError
from release_agent.domain.models import (
    MAX_NOTES,
    Day,
    Decision,
    Level,
    ReleaseRequest,
    Result,
    parse_request,
)

LEVELS = ["LOW", "MEDIUM", "HIGH"]
VALID: dict[str, Any] = {
    "service": "payments",
    "env": "prod",
    "feature_risk": "HIGH",
    "service_criticality": "HIGH",
    "at": "2026-11-27T16:00:00+01:00",
}

_DROP = object()
"""Pass as a field's value to leave the field out."""


def request(**changes: Any) -> dict[str, Any]:
    data = {**VALID, **changes}
    return {key: value for key, value in data.items() if value is not _DROP}


def refusal(**changes: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_request(request(**changes))
    return caught.value


# -- a valid request ------------------------------------------------------------------


def test_a_valid_request_parses_into_typed_fields() -> None:
    parsed = parse_request(request(clashes=["PAYMENTS-SERVICE"], notes="hotfix"))

    assert parsed.service == "payments"
    assert parsed.env == "prod"
    assert parsed.feature_risk is Level.HIGH
    assert parsed.service_criticality is Level.HIGH
    assert parsed.at == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert parsed.at.utcoffset() == timedelta(hours=1)
    assert parsed.clashes == ["PAYMENTS-SERVICE"]
    assert parsed.notes == "hotfix"


def test_env_defaults_to_prod_and_clashes_to_none() -> None:
    parsed = parse_request(request(env=_DROP))

    assert parsed.env == "prod"
    assert parsed.clashes == []
    assert parsed.notes is None


def test_names_are_trimmed_and_env_is_lower_cased() -> None:
    parsed = parse_request(request(service="  checkout ", env=" Production ", clashes=[" db "]))

    assert parsed.service == "checkout"
    assert parsed.env == "production"
    assert parsed.clashes == ["db"]


@pytest.mark.parametrize(
    "name", ["a", "payments-v2", "team/service", "svc_1.2", "My Service", "9lives", "x" * 100]
)
def test_service_names_within_the_rules_are_accepted(name: str) -> None:
    assert parse_request(request(service=name)).service == name


def test_notes_of_exactly_the_limit_are_accepted() -> None:
    assert parse_request(request(notes="n" * MAX_NOTES)).notes == "n" * MAX_NOTES


def test_a_request_is_frozen() -> None:
    parsed = parse_request(request())
    with pytest.raises(ValueError):
        parsed.service = "other"  # type: ignore[misc]


# -- refusals, one field at a time ------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["", "   ", "-leading-dash", ".hidden", "pay$ments", "pay\nments", "x" * 101, "é-service"],
)
@pytest.mark.parametrize("field", ["service", "env"])
def test_empty_or_odd_names_are_refused(field: str, value: str) -> None:
    error = refusal(**{field: value})

    assert error.field == field
    assert error.allowed is None
    assert "letters, digits" in str(error)


@pytest.mark.parametrize("field", ["service", "env"])
def test_a_name_that_is_not_text_is_refused(field: str) -> None:
    assert refusal(**{field: 42}).field == field


@pytest.mark.parametrize("field", ["feature_risk", "service_criticality"])
@pytest.mark.parametrize("value", ["EXTREME", "low", "", "CRITICAL", 3, None])
def test_unknown_levels_are_refused_with_the_allowed_values(field: str, value: Any) -> None:
    error = refusal(**{field: value})

    assert error.field == field
    assert error.allowed == LEVELS
    assert "allowed: LOW, MEDIUM, HIGH" in str(error)


@pytest.mark.parametrize("field", ["service", "feature_risk", "service_criticality", "at"])
def test_a_missing_required_field_is_named(field: str) -> None:
    error = refusal(**{field: _DROP})

    assert error.field == field
    assert "required" in str(error)


@pytest.mark.parametrize("at", ["2026-11-27T16:00:00", "2026-11-27T16:00", "2026-11-27 16:00"])
def test_a_time_without_an_offset_is_refused(at: str) -> None:
    error = refusal(at=at)

    assert error.field == "at"
    assert "offset" in str(error)


def test_a_naive_datetime_object_is_refused() -> None:
    assert refusal(at=datetime(2026, 11, 27, 16, 0)).field == "at"


@pytest.mark.parametrize("at", ["tomorrow", "2026-13-01T00:00:00+00:00", "", "16:00"])
def test_a_time_that_is_not_a_time_is_refused(at: str) -> None:
    assert refusal(at=at).field == "at"


@pytest.mark.parametrize(
    "clashes", [["ok", "!bad"], [""], ["   "], ["-payments"], ["x" * 101], ["a;b"]]
)
def test_bad_clash_names_are_refused(clashes: list[str]) -> None:
    error = refusal(clashes=clashes)

    assert error.field is not None
    assert error.field.startswith("clashes")


def test_clashes_must_be_a_list() -> None:
    assert refusal(clashes="PAYMENTS").field == "clashes"


def test_a_clash_that_is_not_text_names_its_position() -> None:
    assert refusal(clashes=["ok", 7]).field == "clashes.1"


def test_notes_over_the_limit_are_refused() -> None:
    error = refusal(notes="n" * (MAX_NOTES + 1))

    assert error.field == "notes"
    assert str(MAX_NOTES) in str(error)


@pytest.mark.parametrize("extra", ["risk", "decision", "day_of_week", "priority"])
def test_an_unknown_field_is_refused(extra: str) -> None:
    error = refusal(**{extra: "x"})

    assert error.field == extra
    assert "not a known field" in str(error)


def test_an_invalid_input_is_a_user_error_that_says_where() -> None:
    error = refusal(feature_risk="EXTREME")

    assert isinstance(error, UserError)
    assert error.to_dict() == {
        "field": "feature_risk",
        "message": str(error),
        "allowed": LEVELS,
    }
    assert str(error).startswith("feature_risk: ")


# -- hypothesis: every valid request parses, and the moment is kept ---------------------

names = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,30}\Z")
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    offsets,
)


@given(
    service=names,
    env=names,
    risk=st.sampled_from(LEVELS),
    criticality=st.sampled_from(LEVELS),
    at=moments,
    clashes=st.lists(names, max_size=3),
)
def test_any_valid_request_parses_and_keeps_its_moment(
    service: str, env: str, risk: str, criticality: str, at: datetime, clashes: list[str]
) -> None:
    parsed = parse_request(
        {
            "service": service,
            "env": env,
            "feature_risk": risk,
            "service_criticality": criticality,
            "at": at.isoformat(),
            "clashes": clashes,
        }
    )

    assert parsed.service == service
    assert parsed.env == env.lower()
    assert parsed.feature_risk.value == risk
    assert parsed.at == at
    assert parsed.at.utcoffset() == at.utcoffset()
    assert parsed.clashes == clashes
    assert ReleaseRequest.model_validate_json(parsed.model_dump_json()) == parsed


# -- decisions and results ---------------------------------------------------------------


def test_strictness_orders_go_below_delay_below_no_go() -> None:
    assert Decision.GO.strictness < Decision.DELAY.strictness < Decision.NO_GO.strictness


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ((Decision.GO,), Decision.GO),
        ((Decision.GO, Decision.DELAY), Decision.DELAY),
        ((Decision.DELAY, Decision.GO), Decision.DELAY),
        ((Decision.GO, Decision.NO_GO, Decision.DELAY), Decision.NO_GO),
        ((Decision.NO_GO, Decision.GO), Decision.NO_GO),
        ((Decision.DELAY, Decision.DELAY), Decision.DELAY),
    ],
)
def test_strictest_picks_the_strictest(decisions: tuple[Decision, ...], expected: Decision) -> None:
    assert Decision.strictest(*decisions) is expected


@given(st.lists(st.sampled_from(list(Decision)), min_size=1, max_size=6))
def test_strictest_is_at_least_as_strict_as_every_input(decisions: list[Decision]) -> None:
    strictest = Decision.strictest(*decisions)

    assert strictest in decisions
    assert all(strictest.strictness >= d.strictness for d in decisions)
    assert Decision.strictest(*reversed(decisions)) is strictest


def test_only_success_is_not_a_failure() -> None:
    assert Result.success.failed is False
    assert Result.degraded.failed is True
    assert Result.rolled_back.failed is True
    assert Result.incident.failed is True


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (datetime(2026, 11, 23, 8, 0), Day.MON),
        (datetime(2026, 11, 27, 23, 59), Day.FRI),
        (datetime(2026, 11, 28, 0, 0), Day.SAT),
        (datetime(2026, 11, 29, 12, 0), Day.SUN),
    ],
)
def test_day_of_a_moment(moment: datetime, day: Day) -> None:
    assert Day.of(moment) is day
