"""Context evaluation in the release's own offset, and the release state machine."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from release_agent.decide.context import evaluate
from release_agent.domain.models import Day, Level, ReleaseRequest
from release_agent.domain.policy import DecisionSettings
from release_agent.domain.state import InvalidTransition, ReleaseState, ReleaseStateMachine

SETTINGS = DecisionSettings()


def request(
    at: str, env: str = "prod", clashes: list[str] | None = None, risk: Level = Level.LOW
) -> ReleaseRequest:
    return ReleaseRequest(
        service="payments",
        env=env,
        feature_risk=risk,
        service_criticality=Level.HIGH,
        at=datetime.fromisoformat(at),
        clashes=clashes or [],
    )


# -- day and hour in the release's own offset ----------------------------------------------


def test_day_and_hour_are_read_in_the_release_s_offset() -> None:
    # FRI 23:30 at -05:00 is already SAT 04:30 in UTC
    context = evaluate(request("2026-11-27T23:30:00-05:00"), SETTINGS)

    assert context.day_of_week is Day.FRI
    assert context.hour_of_day == 23
    assert context.attributes()["weekend"] is False
    assert context.attributes()["friday_afternoon"] is True
    assert context.attributes()["out_of_hours"] is True
    assert context.at.utcoffset() == timedelta(hours=-5)


def test_the_same_instant_in_another_offset_is_another_local_day() -> None:
    context = evaluate(request("2026-11-28T04:30:00+00:00"), SETTINGS)

    assert context.day_of_week is Day.SAT
    assert context.hour_of_day == 4
    assert context.attributes()["weekend"] is True
    assert context.attributes()["friday_afternoon"] is False


def test_a_positive_offset_moves_the_local_day_forward() -> None:
    # SUN 20:00 UTC is MON 09:00 at +13:00
    context = evaluate(request("2026-11-30T09:00:00+13:00"), SETTINGS)

    assert (context.day_of_week, context.hour_of_day) == (Day.MON, 9)
    assert context.attributes()["weekend"] is False
    assert context.attributes()["out_of_hours"] is False


@pytest.mark.parametrize(
    ("at", "day", "hour", "weekend", "friday_afternoon", "out_of_hours"),
    [
        ("2026-11-23T08:00:00+01:00", Day.MON, 8, False, False, False),
        ("2026-11-23T07:59:00+01:00", Day.MON, 7, False, False, True),
        ("2026-11-24T17:59:00+01:00", Day.TUE, 17, False, False, False),
        ("2026-11-24T18:00:00+01:00", Day.TUE, 18, False, False, True),
        ("2026-11-27T11:59:00+01:00", Day.FRI, 11, False, False, False),
        ("2026-11-27T12:00:00+01:00", Day.FRI, 12, False, True, False),
        ("2026-11-27T16:00:00+01:00", Day.FRI, 16, False, True, False),
        ("2026-11-27T00:00:00+01:00", Day.FRI, 0, False, False, True),
        ("2026-11-28T16:00:00+01:00", Day.SAT, 16, True, False, False),
        ("2026-11-29T23:00:00+01:00", Day.SUN, 23, True, False, True),
    ],
)
def test_window_flags(
    at: str, day: Day, hour: int, weekend: bool, friday_afternoon: bool, out_of_hours: bool
) -> None:
    context = evaluate(request(at), SETTINGS)

    assert context.day_of_week is day
    assert context.hour_of_day == hour
    assert context.attributes()["weekend"] is weekend
    assert context.attributes()["friday_afternoon"] is friday_afternoon
    assert context.attributes()["out_of_hours"] is out_of_hours


def test_the_flags_follow_the_policy_s_settings() -> None:
    settings = DecisionSettings(business_hours=(9, 17), friday_afternoon_from=15)

    at_1430 = evaluate(request("2026-11-27T14:30:00+01:00"), settings)
    at_1700 = evaluate(request("2026-11-27T17:00:00+01:00"), settings)
    at_0830 = evaluate(request("2026-11-27T08:30:00+01:00"), settings)

    assert at_1430.attributes()["friday_afternoon"] is False
    assert at_1700.attributes()["friday_afternoon"] is True
    assert at_1700.attributes()["out_of_hours"] is True
    assert at_0830.attributes()["out_of_hours"] is True


@pytest.mark.parametrize(
    ("env", "production"),
    [("prod", True), ("production", True), ("PROD", True), ("staging", False), ("dev", False)],
)
def test_production_flag(env: str, production: bool) -> None:
    context = evaluate(request("2026-11-24T10:00:00+01:00", env=env), SETTINGS)

    assert context.production is production
    assert context.env == env.lower()


def test_clash_comes_from_the_request_s_clashes() -> None:
    with_clash = evaluate(request("2026-11-24T10:00+01:00", clashes=["PAYMENTS-SERVICE"]), SETTINGS)
    without = evaluate(request("2026-11-24T10:00+01:00"), SETTINGS)

    assert with_clash.clash is True
    assert with_clash.clashes == ["PAYMENTS-SERVICE"]
    assert without.clash is False
    assert without.clashes == []


def test_the_request_s_fields_are_carried() -> None:
    context = evaluate(request("2026-11-24T10:00+01:00", risk=Level.MEDIUM), SETTINGS)

    assert context.service == "payments"
    assert context.feature_risk is Level.MEDIUM
    assert context.service_criticality is Level.HIGH
    assert context.at == datetime.fromisoformat("2026-11-24T10:00+01:00")


def test_at_overrides_the_moment_and_is_read_in_the_request_s_offset() -> None:
    base = request("2026-11-24T10:00:00+01:00")
    later = datetime.fromisoformat("2026-11-28T02:00:00+00:00")  # SAT 03:00 at +01:00

    context = evaluate(base, SETTINGS, at=later)

    assert context.at == later
    assert context.at.utcoffset() == timedelta(hours=1)
    assert (context.day_of_week, context.hour_of_day) == (Day.SAT, 3)
    assert context.attributes()["weekend"] is True
    assert context.attributes()["out_of_hours"] is True


def test_clashes_override_the_request_s_even_when_empty() -> None:
    base = request("2026-11-24T10:00:00+01:00", clashes=["db-migration"])

    assert evaluate(base, SETTINGS, clashes=[]).clash is False
    assert evaluate(base, SETTINGS, clashes=[]).clashes == []
    overridden = evaluate(base, SETTINGS, clashes=["search", "ads"])
    assert overridden.clashes == ["search", "ads"]
    assert overridden.clash is True
    assert evaluate(base, SETTINGS).clashes == ["db-migration"]


def test_attributes_are_what_conditions_see() -> None:
    context = evaluate(request("2026-11-27T16:00:00+01:00", clashes=["x"]), SETTINGS)

    assert context.attributes() == {
        "service": "payments",
        "team": "default",
        "env": "prod",
        "production": True,
        "feature_risk": "LOW",
        "service_criticality": "HIGH",
        "day_of_week": "FRI",
        "hour_of_day": 16,
        "clash": True,
        "weekend": False,
        "friday_afternoon": True,
        "out_of_hours": False,
    }


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60).filter(lambda m: m % 15 == 0),
)
def test_day_and_hour_are_the_local_wall_clock(naive: datetime, minutes: int) -> None:
    moment = naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    context = evaluate(
        ReleaseRequest(
            service="svc",
            feature_risk=Level.LOW,
            service_criticality=Level.LOW,
            at=moment,
        ),
        SETTINGS,
    )

    assert context.hour_of_day == naive.hour
    assert (
        context.day_of_week.value
        == ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[naive.weekday()]
    )
    assert context.attributes()["weekend"] == (naive.weekday() >= 5)
    assert context.attributes()["friday_afternoon"] == (naive.weekday() == 4 and naive.hour >= 12)
    assert context.attributes()["out_of_hours"] == (not 8 <= naive.hour < 18)


# -- the state machine --------------------------------------------------------------------

S = ReleaseState
ALLOWED = {
    (S.START, S.RISK_EVAL),
    (S.RISK_EVAL, S.SCHEDULING),
    (S.SCHEDULING, S.DECISION),
    (S.DECISION, S.REFLECT),
    (S.DECISION, S.SCHEDULING),
    (S.DECISION, S.DONE),
    (S.REFLECT, S.DONE),
    (S.REFLECT, S.SCHEDULING),
}
NON_TERMINAL = [S.START, S.RISK_EVAL, S.SCHEDULING, S.DECISION, S.REFLECT]
PATH_TO = {
    S.START: [],
    S.RISK_EVAL: [S.RISK_EVAL],
    S.SCHEDULING: [S.RISK_EVAL, S.SCHEDULING],
    S.DECISION: [S.RISK_EVAL, S.SCHEDULING, S.DECISION],
    S.REFLECT: [S.RISK_EVAL, S.SCHEDULING, S.DECISION, S.REFLECT],
    S.DONE: [S.RISK_EVAL, S.SCHEDULING, S.DECISION, S.DONE],
    S.ABORTED: [S.ABORTED],
}


def machine_in(state: ReleaseState) -> ReleaseStateMachine:
    machine = ReleaseStateMachine()
    for step in PATH_TO[state]:
        machine.move(step, f"to {step}")
    assert machine.state is state
    return machine


def test_a_new_release_starts_with_its_request() -> None:
    machine = ReleaseStateMachine()

    assert machine.state is S.START
    assert machine.history == [(S.START, "request received")]
    assert machine.finished is False


def test_the_happy_path_records_every_action() -> None:
    machine = ReleaseStateMachine()
    machine.move(S.RISK_EVAL, "context evaluated")
    machine.move(S.SCHEDULING, "guardrails checked")
    machine.move(S.DECISION, "planned GO")
    machine.move(S.REFLECT, "production GO needs a second check")
    machine.move(S.DONE, "confirmed")

    assert machine.finished is True
    assert machine.states() == [
        "START: request received",
        "RISK_EVAL: context evaluated",
        "SCHEDULING: guardrails checked",
        "DECISION: planned GO",
        "REFLECT: production GO needs a second check",
        "DONE: confirmed",
    ]


def test_a_delay_goes_back_through_scheduling_and_decision() -> None:
    machine = machine_in(S.DECISION)
    machine.move(S.SCHEDULING, "DELAY: look for a later window")
    machine.move(S.DECISION, "planned at the later window")
    machine.move(S.REFLECT, "check")
    machine.move(S.SCHEDULING, "not confirmed")
    machine.move(S.DECISION, "again")
    machine.move(S.DONE, "DELAY")

    assert [state for state, _ in machine.history][-6:] == [
        S.SCHEDULING,
        S.DECISION,
        S.REFLECT,
        S.SCHEDULING,
        S.DECISION,
        S.DONE,
    ]


@pytest.mark.parametrize(
    ("source", "target"),
    sorted(
        ((a, b) for a in S for b in S if b is not S.ABORTED and (a, b) not in ALLOWED),
        key=str,
    ),
)
def test_every_other_transition_is_refused_and_changes_nothing(
    source: ReleaseState, target: ReleaseState
) -> None:
    machine = machine_in(source)
    history = list(machine.history)

    with pytest.raises(InvalidTransition) as caught:
        machine.move(target, "not allowed")

    assert str(source) in str(caught.value) and str(target) in str(caught.value)
    assert machine.state is source
    assert machine.history == history


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED, key=str))
def test_every_allowed_transition_is_taken(source: ReleaseState, target: ReleaseState) -> None:
    machine = machine_in(source)
    machine.move(target, "step")

    assert machine.state is target
    assert machine.history[-1] == (target, "step")


@pytest.mark.parametrize("source", NON_TERMINAL)
def test_any_non_terminal_state_may_abort(source: ReleaseState) -> None:
    machine = machine_in(source)
    machine.move(S.ABORTED, "reasoner failed")

    assert machine.state is S.ABORTED
    assert machine.finished is True
    assert machine.history[-1] == (S.ABORTED, "reasoner failed")


@pytest.mark.parametrize("terminal", [S.DONE, S.ABORTED])
@pytest.mark.parametrize("target", list(S))
def test_a_finished_release_moves_nowhere(terminal: ReleaseState, target: ReleaseState) -> None:
    machine = machine_in(terminal)

    with pytest.raises(InvalidTransition):
        machine.move(target, "too late")

    assert machine.state is terminal


@given(st.lists(st.sampled_from(list(S)), max_size=12))
def test_history_records_exactly_the_moves_taken(targets: list[ReleaseState]) -> None:
    machine = ReleaseStateMachine()
    taken = [S.START]
    for target in targets:
        before = machine.state
        try:
            machine.move(target, "x")
        except InvalidTransition:
            assert machine.state is before
            continue
        legal = (before, target) in ALLOWED or (target is S.ABORTED and before in NON_TERMINAL)
        assert legal
        taken.append(target)

    assert [state for state, _ in machine.history] == taken
    assert machine.state is taken[-1]
