"""The risk model reads only the block of its covariance that a context's effects touch.

Estimates, the noise of window differences and the beliefs a lesson is priced with are
computed on the columns the contexts have; these tests hold them to the same sums
written out over every effect of the model, on random fitted models and contexts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.domain.models import DAYS, Level
from release_agent.stats.cells import Cell
from release_agent.stats.risk_model import RiskModel, _features

SERVICES = ("api", "billing", "search", "auth")


def _context(service: str, risk: str, day: str, hour: int, clash: bool) -> dict[str, Any]:
    return {
        "service": service,
        "env": "prod",
        "feature_risk": risk,
        "service_criticality": Level.MEDIUM.value,
        "day_of_week": day,
        "hour_of_day": hour,
        "clash": clash,
    }


contexts = st.builds(
    _context,
    st.sampled_from((*SERVICES, "never-seen")),
    st.sampled_from([level.value for level in Level]),
    st.sampled_from([day.value for day in DAYS]),
    st.integers(0, 23),
    st.booleans(),
)


def _model(seed: int) -> RiskModel:
    """A model fitted on random outcomes of the known services (one pattern of its own),
    so that some effects have evidence and others only their prior."""
    rng = np.random.default_rng(seed)
    cells = []
    for service in SERVICES:
        for risk in ("LOW", "HIGH"):
            for day, hour in (("MON", 10), ("FRI", 16), ("SAT", 3)):
                deployed = int(rng.integers(1, 40))
                failed = int(rng.integers(0, deployed + 1))
                attributes = _context(service, risk, day, hour, bool(rng.integers(0, 2)))
                cells.append(Cell(attributes, deployed, failed))
    return RiskModel.fit(cells, patterns=[{"service": "billing", "day_of_week": "FRI"}])


def _dense(model: RiskModel, context: dict[str, Any]) -> tuple[np.ndarray, float, float]:
    """A context over every effect of the model, and its unseen effects' prior sums."""
    x = np.zeros(len(model.names))
    mean = var = 0.0
    for name in _features(context, model.patterns):
        if name in model.names:
            x[model.names.index(name)] = 1.0
        else:
            prior_mean, sd = model.priors.of(name)
            mean += prior_mean
            var += sd * sd
    return x, mean, var


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.lists(contexts, min_size=1, max_size=12))
def test_estimates_are_the_sums_over_every_effect(seed: int, asked: list[dict[str, Any]]) -> None:
    model = _model(seed)
    for context, estimate in zip(asked, model.estimate_many(asked), strict=True):
        x, extra_mean, extra_var = _dense(model, context)
        logit = float(x @ model.mean) + extra_mean
        sd = math.sqrt(max(float(x @ model.cov @ x) + extra_var, 0.0))
        assert math.isclose(estimate.low, 1 / (1 + math.exp(-(logit - 1.2815515655446004 * sd))))
        assert math.isclose(estimate.high, 1 / (1 + math.exp(-(logit + 1.2815515655446004 * sd))))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), contexts, st.lists(contexts, min_size=1, max_size=12))
def test_window_noise_and_beliefs_are_the_sums_over_every_effect(
    seed: int, reference: dict[str, Any], others: list[dict[str, Any]]
) -> None:
    model = _model(seed)
    x0, mean0, var0 = _dense(model, reference)
    noise = model.difference_noise(reference, others)
    estimates, scanned = model.scan([reference, *others], None)  # others: the windows
    beliefs = model.beliefs(reference, others)
    prior_var = np.array([model.priors.of(name)[1] ** 2 for name in model.names])
    assert math.isclose(beliefs.mean, float(x0 @ model.mean) + mean0, abs_tol=1e-12)
    assert math.isclose(beliefs.var, float(x0 @ model.cov @ x0) + var0, rel_tol=1e-9)
    for r, other in enumerate(others):
        x, _, _ = _dense(model, other)
        d = x - x0
        posterior = float(d @ model.cov @ d)
        expected = max(min(posterior, float(d * d @ prior_var) - posterior), 0.0)
        # compared as variances: near zero a square root magnifies rounding
        assert math.isclose(float(noise[r]) ** 2, expected, rel_tol=1e-9, abs_tol=1e-10)
        assert math.isclose(
            float(beliefs.others_cov[r]) - _shared_unseen(model, reference, other),
            float(x @ model.cov @ x0),
            rel_tol=1e-9,
            abs_tol=1e-12,
        )
    assert [e.mean for e in estimates] == [
        e.mean for e in model.estimate_many([reference, *others])
    ]
    # The windows' noise: each one's difference from the windows' average.
    rows = np.array([_dense(model, other)[0] for other in others])
    for r, d in enumerate(rows - rows.mean(axis=0)):
        posterior = float(d @ model.cov @ d)
        expected = max(min(posterior, float(d * d @ prior_var) - posterior), 0.0)
        assert math.isclose(float(scanned[r]) ** 2, expected, rel_tol=1e-9, abs_tol=1e-10)


def _shared_unseen(model: RiskModel, a: dict[str, Any], b: dict[str, Any]) -> float:
    """The prior variance of the effects both contexts have and the model never saw."""
    names = set(_features(a, model.patterns)) & set(_features(b, model.patterns))
    return sum(model.priors.of(n)[1] ** 2 for n in names if n not in model.names)
