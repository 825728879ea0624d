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

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from ..conditions import canonical_key, matches
from ..models import DAYS, Level
from .base import RiskEstimate

BASE_RATE = 0.05
_LOGIT_BASE = math.log(BASE_RATE / (1 - BASE_RATE))
PART_OF_DAY_HOURS = 6

# name -> (prior mean of the log-odds effect, prior standard deviation)
FIXED_PRIORS: dict[str, tuple[float, float]] = {
    "intercept": (_LOGIT_BASE, 0.6),
    "feature_risk=MEDIUM": (math.log(1.6), 0.6),
    "feature_risk=HIGH": (math.log(4.0), 0.7),
    "service_criticality=MEDIUM": (0.0, 0.4),
    "service_criticality=HIGH": (0.0, 0.4),
    "clash": (math.log(3.0), 0.7),
    "friday_afternoon": (math.log(3.0), 0.7),
    "weekend": (math.log(2.0), 0.7),
    "out_of_hours": (math.log(2.0), 0.7),
    "non_production": (0.0, 0.5),
}
DAY_SD = 0.4
HOUR_SD = 0.4
SLOT_SD = 0.4
SERVICE_SD = 0.6
SERVICE_RISK_SD = 0.5

FIXED_NAMES = (
    list(FIXED_PRIORS)
    + [f"day_of_week={d.value}" for d in DAYS]
    + [f"hour_of_day={h}" for h in range(24)]
    + [f"slot={d.value}/{b}" for d in DAYS for b in range(24 // PART_OF_DAY_HOURS)]
)

# The attributes a cell of evidence is grouped by, in order.
CELL_ATTRIBUTES = (
    "service",
    "env",
    "feature_risk",
    "service_criticality",
    "day_of_week",
    "hour_of_day",
    "clash",
    "weekend",
    "friday_afternoon",
    "out_of_hours",
)
PRODUCTION = ("prod", "production")


@dataclass(frozen=True)
class Cell:
    """Deploys that share one context, and how many of them failed."""

    attributes: Mapping[str, Any]
    deployed: int
    failures: int


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

    def __post_init__(self) -> None:
        self._index = {name: i for i, name in enumerate(self.names)}

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
            if float(np.max(np.abs(step), initial=0.0)) < 1e-6:
                break
        p = _sigmoid(x @ beta) if len(cells) else np.zeros(0)
        hessian = (x.T * (n * p * (1 - p))) @ x + np.diag(precision)
        cov = np.linalg.inv(hessian)
        by_service: dict[str, int] = {}
        for cell in cells:
            service = cell.attributes.get("service")
            if service is not None:
                by_service[str(service)] = by_service.get(str(service), 0) + cell.deployed
        return cls(names, beta, cov, int(n.sum()), by_service, patterns)

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
            for name in _features(attributes, self.patterns):
                i = self._index.get(name)
                if i is None:
                    mean, sd = _prior(name)
                    extra_mean[r] += mean
                    extra_var[r] += sd * sd
                else:
                    x[r, i] = 1.0
        logit = x @ self.mean + extra_mean
        var = np.einsum("ij,jk,ik->i", x, self.cov, x) + extra_var
        sd = np.sqrt(np.maximum(var, 0.0))
        z_decide = NormalDist().inv_cdf(quantile) if quantile is not None else None
        z_band = NormalDist().inv_cdf(0.9)
        out = []
        for r, attributes in enumerate(contexts):
            service = attributes.get("service")
            mean = _mean_probability(float(logit[r]), float(sd[r]))
            out.append(
                RiskEstimate(
                    mean=mean,
                    low=float(_sigmoid(logit[r] - z_band * sd[r])),
                    high=float(_sigmoid(logit[r] + z_band * sd[r])),
                    decide=mean
                    if z_decide is None
                    else float(_sigmoid(logit[r] + z_decide * sd[r])),
                    evidence=self.evidence_by_service.get(str(service), 0),
                )
            )
        return out

    def estimate(
        self, attributes: Mapping[str, Any], quantile: float | None = None
    ) -> RiskEstimate:
        return self.estimate_many([attributes], quantile)[0]

    def effects(self) -> dict[str, float]:
        """Fitted effects as failure-odds multipliers, for display."""
        return {n: round(math.exp(float(b)), 3) for n, b in zip(self.names, self.mean, strict=True)}

    def to_json(self) -> str:
        return json.dumps(
            {
                "names": self.names,
                "mean": self.mean.tolist(),
                "cov": self.cov.tolist(),
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
            np.array(data["cov"], dtype=float),
            int(data["evidence"]),
            {str(k): int(v) for k, v in data["evidence_by_service"].items()},
            list(data.get("patterns", [])),
        )


def _sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-z))


_GAUSS_HERMITE = np.polynomial.hermite_e.hermegauss(12)


def _mean_probability(logit: float, sd: float) -> float:
    """E[sigmoid(L)] for L ~ N(logit, sd^2), by Gauss-Hermite quadrature."""
    nodes, weights = _GAUSS_HERMITE
    values = _sigmoid(logit + sd * nodes)
    return float(np.dot(weights, values) / weights.sum())


__all__ = ["CELL_ATTRIBUTES", "Cell", "Level", "RiskModel"]
