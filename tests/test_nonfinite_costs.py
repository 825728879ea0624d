"""No arithmetic path turns a NaN into GO: a decision whose costs are not finite is
never GO. The policy file refuses such numbers (tests/test_policy_numbers.py); these
tests build the policy in code, past validation, to prove the pipeline holds anyway."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent import Agent, ReleaseRequest, Store
from release_agent.domain.models import Decision, Level
from release_agent.domain.policy import Costs, DecisionSettings, Policy

RISKY = ReleaseRequest(
    service="payments",
    feature_risk="HIGH",
    service_criticality="HIGH",
    at="2026-11-27T16:00:00+01:00",
    clashes=["PAYMENTS-SERVICE"],
)
SAFE = ReleaseRequest(
    service="blog",
    feature_risk="LOW",
    service_criticality="LOW",
    at="2026-11-24T10:00:00+01:00",
)


def _policy(**costs: object) -> Policy:
    values = Costs().model_dump() | costs
    return Policy.model_construct(
        freezes=(),
        costs=Costs.model_construct(**values),
        settings=DecisionSettings(),
        source=None,
    )


def _decide(tmp_path: Path, policy: Policy, request: ReleaseRequest) -> Decision:
    agent = Agent(Store.open(f"sqlite:///{tmp_path / 'memory.db'}"), policy)
    return agent.decide(request).decision


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("request_", [RISKY, SAFE], ids=["risky", "safe"])
def test_a_non_finite_failure_cost_never_yields_go(
    tmp_path: Path, bad: float, request_: ReleaseRequest
) -> None:
    failure = {Level.LOW: bad, Level.MEDIUM: bad, Level.HIGH: bad}
    assert _decide(tmp_path, _policy(failure=failure), request_) is not Decision.GO


@pytest.mark.parametrize("key", ["no_go", "delay_per_hour", "non_production_factor"])
def test_other_non_finite_costs_never_yield_go(tmp_path: Path, key: str) -> None:
    assert _decide(tmp_path, _policy(**{key: math.nan}), RISKY) is not Decision.GO


def test_the_reason_says_why(tmp_path: Path) -> None:
    agent = Agent(Store.open(f"sqlite:///{tmp_path / 'memory.db'}"), _policy(no_go=math.nan))
    record = agent.decide(RISKY)
    assert record.decision is Decision.NO_GO
    assert "not finite" in record.reason


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["LOW", "MEDIUM", "HIGH"]),
    st.sampled_from([math.nan, math.inf]),
    st.sampled_from([RISKY, SAFE]),
)
def test_property_any_non_finite_failure_cost_is_never_go(
    tmp_path_factory: pytest.TempPathFactory, level: str, bad: float, request_: ReleaseRequest
) -> None:
    failure = {**Costs().failure, Level(level): bad}
    policy = _policy(failure=failure)
    tmp = tmp_path_factory.mktemp("nan")
    request_ = request_.model_copy(update={"service_criticality": Level(level)})
    assert _decide(tmp, policy, request_) is not Decision.GO
