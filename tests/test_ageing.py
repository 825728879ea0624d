"""Evidence ages (memory/ageing.py): an outcome weighs 2 ** (-age / half-life), the
weights kept as outcomes arrive equal those recomputed from the episodes, and a service
whose risk changed is judged on what it does now.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release_agent.agent import Agent
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Level, ReleaseRequest, Result
from release_agent.domain.policy import Policy, PriorSettings, parse_policy
from release_agent.memory import ageing, cells
from release_agent.memory.store import Store

START = datetime.fromisoformat("2026-01-05T10:00:00+00:00")


def request(at: datetime, service: str = "search") -> ReleaseRequest:
    return ReleaseRequest(
        service=service,
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=at,
    )


def weights(store: Store) -> dict[str, tuple[float, float]]:
    found = store.outcome_cells()
    assert found.weights is not None
    deployed, failures = found.weights
    out: dict[str, tuple[float, float]] = {}
    for i in range(len(found)):
        service = str(found.attributes(i)["service"])
        d, f = out.get(service, (0.0, 0.0))
        out[service] = (d + float(deployed[i]), f + float(failures[i]))
    return out


def test_a_deploy_one_half_life_old_weighs_half() -> None:
    assert ageing.weight(START, START + timedelta(days=90), 90.0) == pytest.approx(0.5)
    assert ageing.weight(START, START + timedelta(days=180), 90.0) == pytest.approx(0.25)
    assert ageing.weight(START, START + timedelta(days=900), 0.0) == 1.0


def test_learning_weighs_the_evidence_at_its_present(store: Store) -> None:
    agent = Agent(store, Policy(settings=Policy().settings.model_copy(update={"explore": False})))
    old = agent.decide(request(START, "old"))
    agent.record_outcome(old.release_id, Result.incident)
    for day in range(3):
        new = agent.decide(request(START + timedelta(days=90 + day), "new"))
        agent.record_outcome(new.release_id, Result.success)

    as_of = store.age_evidence(90.0)

    # the median (the lower of the middle two) of the four deploy times
    assert as_of == START + timedelta(days=90)
    found = weights(store)
    assert found["old"][0] == pytest.approx(0.5, rel=1e-6)
    assert found["old"][1] == pytest.approx(0.5, rel=1e-6)
    assert found["new"][0] == pytest.approx(1 + 2 ** (1 / 90) + 2 ** (2 / 90), rel=1e-6)
    # the plain counts do not age
    assert store.outcome_cells().count({"service": "old"}) == (1, 1)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("outcome"), st.integers(-400, 400), st.booleans()),
        st.tuples(st.just("replace"), st.integers(0, 40), st.booleans()),
        st.tuples(st.just("age"), st.sampled_from([30.0, 90.0, 0.0])),
    ),
    min_size=1,
    max_size=20,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps)
def test_the_kept_weights_equal_those_recomputed_from_the_episodes(
    fresh_database: Callable[[], str], plan: list[tuple[Any, ...]]
) -> None:
    """Whatever order outcomes arrive in (deploys out of time order too), however often
    learning ages them and with whichever half-life, the weights kept equal a rebuild."""
    store = Store.open(fresh_database())
    agent = Agent(store)
    decided: list[str] = []
    half_life = ageing.DEFAULT_HALF_LIFE_DAYS
    for i, step in enumerate(plan):
        if step[0] == "outcome":
            at = START + timedelta(days=step[1], hours=i)
            record = agent.decide(request(at, f"s{i % 3}"))
            decided.append(record.release_id)
            agent.record_outcome(record.release_id, Result.incident if step[2] else Result.success)
        elif step[0] == "replace" and decided:
            release_id = decided[step[1] % len(decided)]
            result = Result.incident if step[2] else Result.success
            agent.record_outcome(release_id, result, replace=True)
        elif step[0] == "age":
            half_life = step[1]
            store.age_evidence(half_life)
    as_of = store.age_evidence(half_life)
    kept = weights(store) if decided else {}
    with store.transaction() as conn:
        assert ageing.rebuild(conn, half_life, cells.key_of) == as_of
    rebuilt = weights(store) if decided else {}
    assert kept.keys() == rebuilt.keys()
    for service, (deployed, failures) in rebuilt.items():
        assert kept[service][0] == pytest.approx(deployed, rel=1e-6, abs=1e-9)
        assert kept[service][1] == pytest.approx(failures, rel=1e-6, abs=1e-9)
    store.close()


def _history(store: Store, policy: Policy) -> Agent:
    """A service that failed half its deploys a year ago, then was fixed: 40 successes
    over the last two months."""
    agent = Agent(store, policy)
    for i in range(60):
        record = agent.decide(request(START + timedelta(hours=6 * i), "payments"))
        result = Result.incident if i % 2 == 0 else Result.success
        agent.record_outcome(record.release_id, result)
    fixed = START + timedelta(days=365)
    for i in range(40):
        record = agent.decide(request(fixed + timedelta(days=1.5 * i), "payments"))
        agent.record_outcome(record.release_id, Result.success)
    agent.learn()
    return agent


def _estimate(agent: Agent, at: datetime) -> float:
    attributes = agent.decide(request(at, "payments"))
    scheduling = next(t for t in attributes.trace if t.stage == "scheduling")
    return float(scheduling.detail["go_now"]["risk"]["mean"])


def test_a_fixed_service_is_trusted_again_when_evidence_ages(
    fresh_database: Callable[[], str],
) -> None:
    now = START + timedelta(days=365 + 61)
    ageing_on = _history(Store.open(fresh_database()), Policy())
    kept_forever = _history(
        Store.open(fresh_database()), Policy(priors=PriorSettings(half_life_days=0))
    )

    fresh_estimate = _estimate(ageing_on, now)
    stale_estimate = _estimate(kept_forever, now)

    # 30 failures in 100 deploys, all counted: about 30%; aged, the recent 40
    # successes dominate.
    assert stale_estimate > 0.2
    assert fresh_estimate < 0.1
    assert fresh_estimate < stale_estimate / 2


def test_the_trace_shows_the_half_life_in_force(store: Store) -> None:
    policy = Policy(priors=PriorSettings(half_life_days=45))
    agent = Agent(store, policy)
    record = agent.decide(request(START))
    agent.record_outcome(record.release_id, Result.success)
    agent.learn()
    record = agent.decide(request(START + timedelta(days=1)))
    scheduling = next(t for t in record.trace if t.stage == "scheduling")
    assert scheduling.detail["priors"]["half_life_days"] == 45


def test_another_half_life_reweighs_from_the_episodes(store: Store) -> None:
    agent = Agent(store)
    record = agent.decide(request(START, "old"))
    agent.record_outcome(record.release_id, Result.success)
    for hour in range(2):
        record = agent.decide(request(START + timedelta(days=30, hours=hour), "new"))
        agent.record_outcome(record.release_id, Result.success)
    store.age_evidence(90.0)
    store.age_evidence(30.0)
    assert weights(store)["old"][0] == pytest.approx(0.5, rel=1e-6)
    with store.transaction() as conn:
        assert ageing.clock(conn)[1] == 30.0


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "4000", '"soon"'])
def test_a_bad_half_life_is_refused_naming_the_key(value: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(tomllib.loads(f"[priors]\nhalf_life_days = {value}\n"))
    assert "half_life_days" in str(refused.value)


def test_the_default_half_life_is_a_quarter() -> None:
    assert Policy().priors.half_life() == 90.0
    assert math.isclose(ageing.DEFAULT_HALF_LIFE_DAYS, 90.0)
