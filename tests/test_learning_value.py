"""What a deploy teaches (stats/information.py) and the price of comparing many windows
(decide/scheduling.py)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.decide.scheduling import expected_maximum
from release_agent.stats.information import Beliefs, teaching_value


def _beliefs(var: float, neighbours: int, correlation: float = 0.8) -> Beliefs:
    """A deploy at 20% (log-odds -1.39) with variance ``var``, and ``neighbours`` later
    decisions like it, correlated with it."""
    mean = np.log(0.2 / 0.8)
    return Beliefs(
        mean,
        var,
        np.full(neighbours, mean),
        np.full(neighbours, var),
        np.full(neighbours, correlation * var),
    )


# A HIGH-criticality change: a failure costs 60, refusing 10; at 20% deploying costs 12.
REFUSE, FAILURE, EXTRA = 10.0, 60.0, 2.0


def _value(beliefs: Beliefs, extra: float = EXTRA) -> tuple[float, int]:
    failure_costs = np.full(len(beliefs.others_mean), FAILURE)
    return teaching_value(beliefs, REFUSE, failure_costs, extra)


def test_nothing_to_teach_without_later_decisions() -> None:
    assert _value(_beliefs(2.0, 0)) == (0.0, 0)


def test_thin_evidence_and_many_later_decisions_pay_for_deploys() -> None:
    value, deploys = _value(_beliefs(2.0, 40))
    assert value > 0 and deploys >= 1


def test_a_narrow_belief_teaches_nothing_worth_its_cost() -> None:
    assert _value(_beliefs(0.01, 40)) == (0.0, 0)


def test_unrelated_decisions_learn_nothing() -> None:
    assert _value(_beliefs(2.0, 40, correlation=0.0)) == (0.0, 0)


def test_only_a_refusal_is_overruled() -> None:
    assert _value(_beliefs(2.0, 40), extra=0.0) == (0.0, 0)
    assert _value(_beliefs(2.0, 40), extra=-1.0) == (0.0, 0)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.05, 4.0), st.integers(1, 150), st.floats(0.0, 1.0), st.floats(0.01, 8.0))
def test_property_more_later_decisions_never_teach_less(
    var: float, neighbours: int, correlation: float, extra: float
) -> None:
    fewer, _ = _value(_beliefs(var, neighbours, correlation), extra)
    more, _ = _value(_beliefs(var, 2 * neighbours, correlation), extra)
    assert more >= fewer >= 0.0


@settings(max_examples=60, deadline=None)
@given(st.floats(0.05, 4.0), st.integers(1, 100), st.floats(0.0, 1.0))
def test_property_a_dearer_deploy_is_never_worth_more(
    var: float, neighbours: int, correlation: float
) -> None:
    cheap, _ = _value(_beliefs(var, neighbours, correlation), 0.5)
    dear, _ = _value(_beliefs(var, neighbours, correlation), 5.0)
    assert cheap >= dear


def test_the_window_search_pays_for_the_windows_it_compares() -> None:
    assert expected_maximum(1) == 0.0
    values = [expected_maximum(k) for k in (2, 10, 72, 744)]
    assert values == sorted(values)
    assert abs(expected_maximum(2) - 0.5642) < 1e-3  # 1/sqrt(pi)
    assert 2.3 < expected_maximum(72) < 2.5


def test_no_window_is_exempt_from_the_price_of_the_search() -> None:
    """Every window pays for the noise that sets it apart from the others, the next hour
    too: measured from one window, that one would carry none, and the search would
    favour it for its noise."""
    from datetime import datetime

    from release_agent.decide.scheduling import options
    from release_agent.domain.models import ReleaseRequest
    from release_agent.domain.options import Guardrails
    from release_agent.domain.policy import Policy
    from release_agent.stats.cells import Cell
    from release_agent.stats.risk_model import RiskModel

    rng = np.random.default_rng(3)
    days = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
    cells = [
        Cell(
            {
                "service": "api",
                "env": "prod",
                "feature_risk": "LOW",
                "service_criticality": "MEDIUM",
                "day_of_week": day,
                "hour_of_day": hour,
                "clash": False,
                "weekend": day in ("SAT", "SUN"),
                "friday_afternoon": False,
                "out_of_hours": not 8 <= hour < 18,
            },
            4,
            int(rng.binomial(4, 0.1)),
        )
        for day in days
        for hour in range(24)
    ]
    model = RiskModel.fit(cells)
    ask = ReleaseRequest(
        service="api",
        feature_risk="LOW",
        service_criticality="MEDIUM",
        at=datetime.fromisoformat("2026-11-24T10:30:00+01:00"),
    )
    priced = options(ask, ask.at, [], Policy(), model, Guardrails(forbid_go=False))
    assert len(priced.windows) > 10
    assert all(w.saving_sd > 0 for w in priced.windows)
