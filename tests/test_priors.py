"""The risk model's priors: centred on no effect, pooled scales learned from the history,
a team's own priors from the policy, and estimates that recover known rates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.domain.attributes import NO_EFFECT_SD
from release_agent.domain.errors import PolicyError
from release_agent.domain.policy import parse_policy
from release_agent.stats.cells import Cell
from release_agent.stats.priors import GROUPS, MAIN_EFFECTS, Priors, learned_scale
from release_agent.stats.risk_model import RiskModel


def _cell(service: str, n: int, f: int, **extra: object) -> Cell:
    attributes = {
        "service": service,
        "env": "prod",
        "feature_risk": "LOW",
        "service_criticality": "MEDIUM",
        "day_of_week": "TUE",
        "hour_of_day": 10,
        "clash": False,
        "weekend": False,
        "friday_afternoon": False,
        "out_of_hours": False,
        **extra,
    }
    return Cell(attributes, n, f)


def _mean(model: RiskModel, service: str = "x", **attributes: object) -> float:
    return model.estimate_many([_cell(service, 1, 0, **attributes).attributes])[0].mean


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_main_effects_are_centred_on_no_effect() -> None:
    priors = Priors()
    for name in MAIN_EFFECTS:
        mean, sd = priors.of(name)
        assert mean == 0.0 and sd == NO_EFFECT_SD
    model = RiskModel.prior()

    def centre(**attributes: object) -> float:
        # the median log-odds: the middle of the 10%-90% band
        estimate = model.estimate_many([_cell("new", 1, 0, **attributes).attributes])[0]
        return (_logit(estimate.low) + _logit(estimate.high)) / 2

    # without evidence, a high-risk change and a clash are believed no riskier than
    # anything else; only less is known about them
    assert centre(feature_risk="HIGH") == pytest.approx(centre())
    assert centre(clash=True) == pytest.approx(centre())


def test_a_team_states_its_own_priors_in_the_policy() -> None:
    policy = parse_policy(
        {
            "priors": {
                "base_rate": 0.05,
                "effects": {"feature_risk=HIGH": {"times": 4.0, "sd": 0.7}},
                "scales": {"service": 0.3},
            }
        }
    )
    stated = policy.priors
    priors = Priors.stating(
        stated.base_rate,
        {k: (v.times, v.sd) for k, v in stated.effects.items()},
        dict(stated.scales),
    )
    assert priors.of("feature_risk=HIGH") == (pytest.approx(math.log(4.0)), 0.7)
    assert priors.of("service=a") == (0.0, 0.3)
    assert "service" not in priors.learnable()
    assert priors.of("intercept")[0] == pytest.approx(math.log(0.05 / 0.95))
    model = RiskModel.prior(priors)
    high, low = (
        model.estimate_many([_cell("x", 1, 0, feature_risk=r).attributes])[0]
        for r in ("HIGH", "LOW")
    )
    centre = (_logit(high.low) + _logit(high.high) - _logit(low.low) - _logit(low.high)) / 2
    assert centre == pytest.approx(math.log(4.0))


@pytest.mark.parametrize(
    "table, field",
    [
        ({"effects": {"nope": {"times": 2.0}}}, "priors.effects"),
        ({"effects": {"clash": {"times": math.nan}}}, "priors.effects.clash.times"),
        ({"effects": {"clash": {"times": 0.0}}}, "priors.effects.clash.times"),
        ({"scales": {"nope": 1.0}}, "priors.scales"),
        ({"scales": {"service": math.inf}}, "priors.scales.service"),
        ({"base_rate": 1.5}, "priors.base_rate"),
        ({"learn": True}, "priors.learn"),
    ],
)
def test_bad_priors_are_refused_with_the_key(table: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"priors": table})
    assert caught.value.field == field


def test_the_scale_of_services_follows_how_much_they_differ() -> None:
    rng = np.random.default_rng(7)
    alike = [_cell(f"s{i}", 200, int(rng.binomial(200, 0.08))) for i in range(12)]
    apart = [
        _cell(f"s{i}", 200, int(rng.binomial(200, rate)))
        for i, rate in enumerate([0.01, 0.02, 0.05, 0.1, 0.2, 0.4] * 2)
    ]
    model_alike = RiskModel.fit(alike)
    model_apart = RiskModel.fit(apart)
    for _ in range(4):  # successive learning runs carry the scale on
        model_alike = RiskModel.fit(alike, warm=model_alike)
        model_apart = RiskModel.fit(apart, warm=model_apart)
    assert model_alike.priors.scales["service"] < GROUPS["service"]
    assert model_apart.priors.scales["service"] > GROUPS["service"]
    assert "service" in model_apart.priors.learned


def test_a_stated_scale_is_not_learned() -> None:
    cells = [_cell(f"s{i}", 200, f) for i, f in enumerate([2, 4, 10, 20, 40, 80])]
    priors = Priors.stating(scales={"service": 0.3})
    model = RiskModel.fit(cells, priors=priors)
    assert model.priors.scales["service"] == 0.3


@settings(max_examples=20, deadline=None)
@given(
    st.floats(0.02, 0.3),
    st.floats(0.3, 4.0),
    st.integers(0, 2**16),
)
def test_estimates_recover_known_rates(base: float, times: float, seed: int) -> None:
    """On a synthetic history with known rates, the estimates fall within tolerance."""
    rng = np.random.default_rng(seed)
    cells = []
    truths = {}
    for i in range(6):
        for risk, factor in (("LOW", 1.0), ("HIGH", times)):
            p = min(0.95, base * factor)
            n = 400
            cells.append(_cell(f"s{i}", n, int(rng.binomial(n, p)), feature_risk=risk))
            truths[(f"s{i}", risk)] = p
    model = RiskModel.fit(cells)
    model = RiskModel.fit(cells, warm=model)
    for (service, risk), p in truths.items():
        estimate = _mean(model, service=service, feature_risk=risk)
        # 400 deploys a cell: a binomial standard error of at most 0.025, plus pooling
        assert abs(estimate - p) < 0.06 + 0.25 * p


def test_learned_scale_is_held_towards_its_start_and_bounded() -> None:
    assert learned_scale(0.0, 1, 0.5) < 0.5
    assert learned_scale(0.0, 1000, 0.5) == pytest.approx(0.05)
    assert learned_scale(1e6, 10, 0.5) == 3.0
    assert learned_scale(10 * 0.5**2, 10, 0.5) == pytest.approx(0.5)


def test_priors_survive_storage() -> None:
    cells = [_cell(f"s{i}", 100, f) for i, f in enumerate([2, 9, 30])]
    model = RiskModel.fit(cells, priors=Priors.stating(base_rate=0.2))
    again = RiskModel.from_json(model.to_json())
    assert again.priors == model.priors
    assert _mean(again, service="s1") == pytest.approx(_mean(model, service="s1"))


def test_the_fit_converges_where_a_full_newton_step_overshoots() -> None:
    """Weak priors and a context far from the base rate: a full Newton step from the
    prior overshoots and diverges; the line search keeps every step an improvement."""
    risky = _cell("checkout", 30, 25, feature_risk="HIGH", service_criticality="HIGH", clash=True)
    calm = _cell("search", 30, 1)
    model = RiskModel.fit([risky, calm])
    high, low = model.estimate_many([risky.attributes, calm.attributes])
    assert 0.65 < high.mean < 0.9
    assert 0.01 < low.mean < 0.12


def test_estimates_are_calibrated_in_the_large_where_failures_are_rare() -> None:
    """Rare failures spread over many contexts, each seen a few times: the estimates,
    summed over the deploys seen, match the failures observed (the exact posterior's
    expected score is zero). A Gaussian centred at the mode overstates each E[p], and
    their sum by about a third."""
    rng = np.random.default_rng(11)
    days = ("MON", "TUE", "WED", "THU", "FRI")
    cells = [
        _cell(f"s{i}", 3, int(rng.binomial(3, 0.02)), day_of_week=day, hour_of_day=hour)
        for i in range(20)
        for day in days
        for hour in (9, 11, 14, 16)
    ]
    model = RiskModel.fit(cells)
    model = RiskModel.fit(cells, warm=model)
    estimates = model.estimate_many([c.attributes for c in cells])
    expected = sum(c.deployed * e.mean for c, e in zip(cells, estimates, strict=True))
    observed = sum(c.failures for c in cells)
    assert observed > 0
    assert expected == pytest.approx(observed, rel=0.1)
