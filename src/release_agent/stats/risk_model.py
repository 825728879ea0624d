"""The built-in estimate of how likely a deploy is to fail, learned from real outcomes.

A Bayesian logistic regression: the log-odds of failure are a sum of effects (feature
risk, criticality, clash, Friday afternoon, weekend, out of hours, weekday, hour,
weekday x part of day, service, service x feature risk, non-production), each with a
Gaussian prior. The priors say what a careful team assumes before it has data: high
risk, clashes, Friday afternoons, weekends and nights are riskier, and a deploy fails
about 5% of the time. The posterior is fitted by Newton's method (maximum a posteriori)
on outcome counts grouped by context, so it scales with the number of distinct
contexts, not episodes; its Laplace approximation gives every estimate an uncertainty.

Only deployed releases with a recorded outcome are evidence; a NO_GO or a DELAY that
never went out says nothing about failure.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy.special import expit

from ..domain.conditions import canonical_key, matches
from ..domain.models import DAYS
from ..domain.options import RiskEstimate
from .cells import Cell

BASE_RATE = 0.05
_LOGIT_BASE = math.log(BASE_RATE / (1 - BASE_RATE))
PART_OF_DAY_HOURS = 6

# name -> (prior mean of the log-odds effect, prior standard deviation)
FIXED_PRIORS: dict[str, tuple[float, float]] = {
    "intercept": (_LOGIT_BASE, 0.5),
    "feature_risk=MEDIUM": (math.log(1.6), 0.5),
    "feature_risk=HIGH": (math.log(4.0), 0.7),
    "service_criticality=MEDIUM": (0.0, 0.25),
    "service_criticality=HIGH": (0.0, 0.25),
    "clash": (math.log(3.0), 0.7),
    "friday_afternoon": (math.log(2.5), 0.6),
    "weekend": (math.log(1.5), 0.5),
    "out_of_hours": (math.log(1.5), 0.5),
    "non_production": (0.0, 0.5),
}
DAY_SD = 0.2
HOUR_SD = 0.15
SLOT_SD = 0.3
SERVICE_SD = 0.3
SERVICE_RISK_SD = 0.3

FIXED_NAMES = (
    list(FIXED_PRIORS)
    + [f"day_of_week={d.value}" for d in DAYS]
    + [f"hour_of_day={h}" for h in range(24)]
    + [f"slot={d.value}/{b}" for d in DAYS for b in range(24 // PART_OF_DAY_HOURS)]
)

PRODUCTION = ("prod", "production")


PATTERN_SD = 0.5


def pattern_name(when: Mapping[str, Any]) -> str:
    return "pattern:" + canonical_key(when)


def _features(
    attributes: Mapping[str, Any], patterns: Sequence[Mapping[str, Any]] = ()
) -> list[str]:
    """The names of the effects present for a context. ``patterns`` are conditions
    (mined heuristics) that add an effect of their own where they match: interactions the
    main effects cannot express, shrunk towards none like every other effect."""
    names = ["intercept"]
    names.extend(pattern_name(p) for p in patterns if matches(p, attributes))
    risk = attributes.get("feature_risk")
    if risk in ("MEDIUM", "HIGH"):
        names.append(f"feature_risk={risk}")
    crit = attributes.get("service_criticality")
    if crit in ("MEDIUM", "HIGH"):
        names.append(f"service_criticality={crit}")
    for flag in ("clash", "friday_afternoon", "weekend", "out_of_hours"):
        if attributes.get(flag):
            names.append(flag)
    env = attributes.get("env")
    if env is not None and env not in PRODUCTION:
        names.append("non_production")
    day = attributes.get("day_of_week")
    hour = attributes.get("hour_of_day")
    if day is not None:
        names.append(f"day_of_week={day}")
    if hour is not None:
        names.append(f"hour_of_day={hour}")
    if day is not None and hour is not None:
        names.append(f"slot={day}/{int(hour) // PART_OF_DAY_HOURS}")
    service = attributes.get("service")
    if service is not None:
        names.append(f"service={service}")
        if risk is not None:
            names.append(f"service={service}/feature_risk={risk}")
    return names


def _prior(name: str) -> tuple[float, float]:
    if name in FIXED_PRIORS:
        return FIXED_PRIORS[name]
    if name.startswith("pattern:"):
        return 0.0, PATTERN_SD
    if name.startswith("day_of_week="):
        return 0.0, DAY_SD
    if name.startswith("hour_of_day="):
        return 0.0, HOUR_SD
    if name.startswith("slot="):
        return 0.0, SLOT_SD
    if "/feature_risk=" in name:
        return 0.0, SERVICE_RISK_SD
    if name.startswith("service="):
        return 0.0, SERVICE_SD
    raise KeyError(name)


@dataclass
class RiskModel:
    """A fitted (or prior-only) failure model. Build with :meth:`fit` or :meth:`prior`."""

    names: list[str]
    mean: np.ndarray
    cov: np.ndarray
    evidence: int = 0
    evidence_by_service: dict[str, int] = field(default_factory=dict)
    patterns: list[dict[str, Any]] = field(default_factory=list)
    _index: dict[str, int] = field(init=False, repr=False)
    _rows: dict[tuple[Any, ...], tuple[list[int], float, float]] = field(
        init=False, repr=False, default_factory=dict
    )
    _prior_var: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {name: i for i, name in enumerate(self.names)}
        self._prior_var = np.array([_prior(n)[1] ** 2 for n in self.names])

    def _row(self, attributes: Mapping[str, Any]) -> tuple[list[int], float, float]:
        """Indices of a context's known effects, and the prior mean and variance of the
        ones the evidence never saw; cached, since the same contexts recur."""
        key = tuple(sorted(attributes.items()))
        cached = self._rows.get(key)
        if cached is not None:
            return cached
        indices: list[int] = []
        extra_mean = extra_var = 0.0
        for name in _features(attributes, self.patterns):
            i = self._index.get(name)
            if i is None:
                mean, sd = _prior(name)
                extra_mean += mean
                extra_var += sd * sd
            else:
                indices.append(i)
        if len(self._rows) > 50_000:
            self._rows.clear()
        self._rows[key] = (indices, extra_mean, extra_var)
        return indices, extra_mean, extra_var

    @classmethod
    def prior(cls) -> RiskModel:
        return cls.fit([])

    @classmethod
    def fit(
        cls,
        cells: Iterable[Cell],
        warm: RiskModel | None = None,
        iterations: int = 25,
        patterns: Sequence[Mapping[str, Any]] = (),
    ) -> RiskModel:
        """The posterior given ``cells``. ``warm`` starts Newton's method from a previous
        fit; ``patterns`` become effects of their own (see :func:`_features`)."""
        cells = [c for c in cells if c.deployed > 0]
        patterns = [dict(p) for p in patterns]
        names = list(FIXED_NAMES)
        seen = set(names)
        rows: list[list[str]] = []
        for cell in cells:
            row = _features(cell.attributes, patterns)
            rows.append(row)
            for name in row:
                if name not in seen:
                    seen.add(name)
                    names.append(name)
        index = {name: i for i, name in enumerate(names)}
        priors = np.array([_prior(n) for n in names])
        mu, sd = priors[:, 0], priors[:, 1]
        precision = 1.0 / sd**2
        beta = mu.copy()
        if warm is not None:
            for name, i in warm._index.items():
                if name in index:
                    beta[index[name]] = warm.mean[i]
        x = np.zeros((len(cells), len(names)))
        for r, row in enumerate(rows):
            x[r, [index[n] for n in row]] = 1.0
        n = np.array([c.deployed for c in cells], dtype=float)
        y = np.array([c.failures for c in cells], dtype=float)
        hessian = np.diag(precision)
        for _ in range(iterations):
            p = _sigmoid(x @ beta) if len(cells) else np.zeros(0)
            gradient = x.T @ (y - n * p) - precision * (beta - mu)
            weights = n * p * (1 - p)
            hessian = (x.T * weights) @ x + np.diag(precision)
            step = np.linalg.solve(hessian, gradient)
            beta = beta + step
            # 1e-4 on the log-odds is far below what any decision can tell apart
            if float(np.max(np.abs(step), initial=0.0)) < 1e-4:
                break
        p = _sigmoid(x @ beta) if len(cells) else np.zeros(0)
        hessian = (x.T * (n * p * (1 - p))) @ x + np.diag(precision)
        cov = np.linalg.inv(hessian)
        by_service: dict[str, int] = {}
        for cell in cells:
            service = cell.attributes.get("service")
            if service is not None:
                by_service[str(service)] = by_service.get(str(service), 0) + cell.deployed
        return cls(names, beta, cov, int(n.sum()), by_service, [dict(p) for p in patterns])

    def estimate_many(
        self, contexts: Sequence[Mapping[str, Any]], quantile: float | None = None
    ) -> list[RiskEstimate]:
        """Failure-probability estimates for each context, with a 10%-90% band. The
        decision uses the posterior mean, or the ``quantile`` when one is given. Effects
        never seen in the evidence keep their prior."""
        size = len(self.names)
        x = np.zeros((len(contexts), size))
        extra_mean = np.zeros(len(contexts))
        extra_var = np.zeros(len(contexts))
        for r, attributes in enumerate(contexts):
            indices, extra_mean[r], extra_var[r] = self._row(attributes)
            x[r, indices] = 1.0
        logit = x @ self.mean + extra_mean
        var = ((x @ self.cov) * x).sum(axis=1) + extra_var
        sd = np.sqrt(np.maximum(var, 0.0))
        z_band = NormalDist().inv_cdf(0.9)
        mean = _mean_probability(logit, sd)
        low = _sigmoid(logit - z_band * sd)
        high = _sigmoid(logit + z_band * sd)
        decide = mean if quantile is None else _sigmoid(logit + NormalDist().inv_cdf(quantile) * sd)
        return [
            RiskEstimate(
                mean=float(mean[r]),
                low=float(low[r]),
                high=float(high[r]),
                decide=float(decide[r]),
                evidence=self.evidence_by_service.get(str(attributes.get("service")), 0),
            )
            for r, attributes in enumerate(contexts)
        ]

    def difference_noise(
        self, reference: Mapping[str, Any], others: Sequence[Mapping[str, Any]]
    ) -> np.ndarray:
        """How noisy the estimated difference ``log-odds(other) - log-odds(reference)`` is,
        as a standard deviation, for each of ``others``.

        A difference the priors alone make is a belief, not noise; one the evidence made
        is noisy while the evidence is thin. So this is the lesser of the posterior
        variance of the difference and the variance the evidence removed from it: zero
        without evidence, small with plenty, largest in between.
        """
        ref, _, _ = self._row(reference)
        d = np.zeros((len(others), len(self.names)))
        for r, attributes in enumerate(others):
            indices, _, _ = self._row(attributes)
            d[r, indices] += 1.0
        d[:, ref] -= 1.0
        posterior = ((d @ self.cov) * d).sum(axis=1)
        prior = (d * d) @ self._prior_var
        return np.sqrt(np.clip(np.minimum(posterior, prior - posterior), 0.0, None))

    def to_json(self) -> str:
        return json.dumps(
            {
                "names": self.names,
                "mean": self.mean.tolist(),
                # binary: the matrix is large and written at every refit
                "cov": base64.b64encode(np.ascontiguousarray(self.cov, "<f8").tobytes()).decode(),
                "evidence": self.evidence,
                "evidence_by_service": self.evidence_by_service,
                "patterns": self.patterns,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RiskModel:
        data = json.loads(text)
        return cls(
            data["names"],
            np.array(data["mean"], dtype=float),
            np.frombuffer(base64.b64decode(data["cov"]), "<f8")
            .reshape(len(data["names"]), len(data["names"]))
            .copy(),
            int(data["evidence"]),
            {str(k): int(v) for k, v in data["evidence_by_service"].items()},
            list(data.get("patterns", [])),
        )


def _sigmoid(z: Any) -> Any:
    return expit(z)


_GAUSS_HERMITE = np.polynomial.hermite_e.hermegauss(12)


def _mean_probability(logit: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E[sigmoid(L)] for L ~ N(logit, sd^2), row by row, by Gauss-Hermite quadrature."""
    nodes, weights = _GAUSS_HERMITE
    values = _sigmoid(logit[:, None] + sd[:, None] * nodes[None, :])
    return np.asarray(values @ weights / weights.sum())
