"""The built-in estimate of how likely a deploy is to fail, learned from real outcomes.

A Bayesian logistic regression: the log-odds of failure are a sum of effects — an
intercept, each attribute's effect from the registry (feature risk, criticality, clash,
Friday afternoon, weekend, out of hours, weekday, hour, service, non-production), the
registry's interactions (weekday x part of day, service x feature risk) and the patterns
of evidence-judged heuristics — each with a Gaussian prior (:mod:`.priors`: centred on
no effect, pooled groups with scales learned from the history). The posterior is fitted
by Newton's method (maximum a posteriori) on outcome counts grouped by context, so it
scales with the number of distinct contexts, not episodes; its Laplace approximation,
moved to the variational Gaussian (:func:`_variational`, so that the estimates stay
calibrated in the large where failures are rare), gives every estimate an uncertainty.

Only deployed releases with a recorded outcome are evidence; a NO_GO or a DELAY that
never went out says nothing about failure.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg
from scipy.special import expit

from ..domain.attributes import ATTRIBUTES, INTERACTIONS, NAMES
from ..domain.conditions import canonical_key, matches
from ..domain.options import RiskEstimate
from .cells import Cell
from .information import Beliefs
from .priors import GROUPS, Priors, learned_scale

FIXED_NAMES: list[str] = [
    "intercept",
    *(
        name
        for a in ATTRIBUTES
        if a.effect is not None
        for name in a.effect.known(a.name, tuple(str(v) for v in a.all_values))
    ),
    *(name for i in INTERACTIONS for name in i.known),
]
"""The effects every model has, with or without evidence."""
CHORD_STEPS = 200
"""At most this many steps of a variational round (:func:`_variational`); each costs two
products of the cells' matrix with a vector."""
EB_ROUNDS = 2
"""Fits per learning run: fit, re-estimate the pooled groups' scales, refit. The scales
start from the previous run's, so the estimate converges over successive runs."""


def pattern_name(when: Mapping[str, Any]) -> str:
    return "pattern:" + canonical_key(when)


def _features(
    attributes: Mapping[str, Any], patterns: Sequence[Mapping[str, Any]] = ()
) -> list[str]:
    """The names of the effects present for a context: the intercept, each attribute's
    effect and each interaction of the registry. ``patterns`` are conditions (mined
    heuristics) that add an effect of their own where they match: interactions the main
    effects cannot express, shrunk towards none like every other effect."""
    names = ["intercept"]
    names.extend(pattern_name(p) for p in patterns if matches(p, attributes))
    for attribute in _EFFECTS:
        names.extend(_effect_features(attribute.name, attributes.get(attribute.name)))
    for interaction in INTERACTIONS:
        name = interaction.make(attributes)
        if name is not None:
            names.append(name)
    return names


_EFFECTS = tuple(a for a in ATTRIBUTES if a.effect is not None)
_BY_NAME = {a.name: a for a in _EFFECTS}


@lru_cache(maxsize=4096)
def _effect_features(name: str, value: Any) -> tuple[str, ...]:
    """The effects an attribute's value makes (the registry's rule, remembered: a
    scheduler asks it for every window of every decision)."""
    effect = _BY_NAME[name].effect
    assert effect is not None
    return tuple(effect.features(name, value))


def _columns(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The effects some of ``rows`` have (sorted column indices), and the rows as a 0/1
    matrix over those columns only: a context has a dozen of the model's hundreds of
    effects, so products with the covariance need only the block of the ones present."""
    lengths = [len(row) for row in rows]
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.intp, count=sum(lengths))
    used, position = np.unique(flat, return_inverse=True)
    x = np.zeros((len(rows), len(used)))
    x[np.repeat(np.arange(len(rows)), lengths), position] = 1.0
    return used, x


class _Row(NamedTuple):
    """A context as the model sees it."""

    indices: list[int]
    """The columns of its effects the model has."""
    extra_mean: float
    extra_var: float
    """The prior mean and variance its other effects add (never seen in evidence)."""
    unseen: dict[str, float]
    """Those other effects, with the prior variance of each."""


@dataclass
class RiskModel:
    """A fitted (or prior-only) failure model. Build with :meth:`fit` or :meth:`prior`."""

    names: list[str]
    mean: np.ndarray
    cov: np.ndarray
    evidence: int = 0
    evidence_by_service: dict[str, int] = field(default_factory=dict)
    patterns: list[dict[str, Any]] = field(default_factory=list)
    priors: Priors = field(default_factory=Priors)
    """The priors in force, with the scales the evidence set."""
    _index: dict[str, int] = field(init=False, repr=False)
    _rows: dict[tuple[Any, ...], _Row] = field(init=False, repr=False, default_factory=dict)
    _prior_var: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {name: i for i, name in enumerate(self.names)}
        self._prior_var = np.array([self.priors.of(n)[1] ** 2 for n in self.names])

    def _row(self, attributes: Mapping[str, Any]) -> _Row:
        """A context's known effects and the prior of the ones the evidence never saw;
        cached, since the same contexts recur."""
        key = tuple(map(attributes.get, NAMES))  # None: absent
        cached = self._rows.get(key)
        if cached is not None:
            return cached
        indices: list[int] = []
        unseen: dict[str, float] = {}
        extra_mean = 0.0
        for name in _features(attributes, self.patterns):
            i = self._index.get(name)
            if i is None:
                mean, sd = self.priors.of(name)
                extra_mean += mean
                unseen[name] = sd * sd
            else:
                indices.append(i)
        if len(self._rows) > 50_000:
            self._rows.clear()
        row = _Row(indices, extra_mean, sum(unseen.values()), unseen)
        self._rows[key] = row
        return row

    @classmethod
    def prior(cls, priors: Priors | None = None) -> RiskModel:
        return cls.fit([], priors=priors)

    @classmethod
    def fit(
        cls,
        cells: Iterable[Cell],
        warm: RiskModel | None = None,
        iterations: int = 25,
        patterns: Sequence[Mapping[str, Any]] = (),
        priors: Priors | None = None,
        learn_scales: bool = True,
    ) -> RiskModel:
        """The posterior given ``cells``. ``warm`` starts Newton's method (and the pooled
        scales) from a previous fit; ``patterns`` become effects of their own (see
        :func:`_features`); ``priors`` are the team's (default: :class:`Priors`). With
        ``learn_scales``, the scales of the pooled groups the team did not state are
        learned from the evidence (empirical Bayes, see :mod:`.priors`)."""
        cells = [c for c in cells if c.deployed > 0]
        conditions = [dict(p) for p in patterns]
        priors = priors or Priors()
        if warm is not None and learn_scales:
            start = {g: s for g, s in warm.priors.scales.items() if g in priors.learnable()}
            priors = priors.with_scales(start) if start else priors
        names = list(FIXED_NAMES)
        seen = set(names)
        rows: list[list[str]] = []
        for cell in cells:
            row = _features(cell.attributes, conditions)
            rows.append(row)
            for name in row:
                if name not in seen:
                    seen.add(name)
                    names.append(name)
        index = {name: i for i, name in enumerate(names)}
        x = np.zeros((len(cells), len(names)))
        for r, row in enumerate(rows):
            x[r, [index[n] for n in row]] = 1.0
        n = np.array([c.evidence[0] for c in cells], dtype=float)
        y = np.array([c.evidence[1] for c in cells], dtype=float)
        groups = [priors.group(name) for name in names]
        seen_column = (x.T @ n) > 0 if len(cells) else np.zeros(len(names), dtype=bool)
        beta = np.array([priors.of(name)[0] for name in names])
        if warm is not None:
            for name, i in warm._index.items():
                if name in index:
                    beta[index[name]] = warm.mean[i]
        rounds = EB_ROUNDS if learn_scales and len(cells) else 1
        for round_ in range(rounds):
            table = np.array([priors.of(name) for name in names])
            mu, precision = table[:, 0], 1.0 / table[:, 1] ** 2
            beta = _newton(x, n, y, beta, mu, precision, iterations)
            cov = _covariance(x, n, beta, precision)
            if round_ == rounds - 1:
                break
            scales = _scales(priors, groups, seen_column, beta, cov)
            change = max(
                (abs(s - priors.scales[g]) / priors.scales[g] for g, s in scales.items()),
                default=0.0,
            )
            priors = priors.with_scales(scales)
            if change < 0.02:
                table = np.array([priors.of(name) for name in names])
                mu, precision = table[:, 0], 1.0 / table[:, 1] ** 2
                beta = _newton(x, n, y, beta, mu, precision, iterations)
                cov = _covariance(x, n, beta, precision)
                break
        if len(cells):
            beta, cov = _variational(x, n, y, beta, cov, mu, precision)
        by_service: dict[str, int] = {}
        for cell in cells:
            service = cell.attributes.get("service")
            if service is not None:
                by_service[str(service)] = by_service.get(str(service), 0) + int(cell.deployed)
        deployed = sum(int(c.deployed) for c in cells)
        return cls(names, beta, cov, deployed, by_service, conditions, priors)

    def beliefs(self, target: Mapping[str, Any], others: Sequence[Mapping[str, Any]]) -> Beliefs:
        """The joint belief about the log-odds of failure of ``target`` and ``others``:
        each mean and variance, and each other's covariance with the target (effects the
        evidence never saw count with their prior, shared where both contexts have
        them)."""
        contexts = [target, *others]
        rows = [self._row(attributes) for attributes in contexts]
        used, x = _columns([row.indices for row in rows])
        mean = np.array([row.extra_mean for row in rows], dtype=float)
        var = np.array([row.extra_var for row in rows], dtype=float)
        mean += x @ self.mean[used]
        projected = x @ self.cov[np.ix_(used, used)]
        var += (projected * x).sum(axis=1)
        cov = projected[1:] @ x[0]
        shared = rows[0].unseen
        for r, row in enumerate(rows[1:]):
            cov[r] += sum(v for name, v in row.unseen.items() if name in shared)
        return Beliefs(float(mean[0]), float(var[0]), mean[1:], var[1:], cov)

    def estimate_many(
        self, contexts: Sequence[Mapping[str, Any]], quantile: float | None = None
    ) -> list[RiskEstimate]:
        """Failure-probability estimates for each context, with a 10%-90% band. The
        decision uses the posterior mean, or the ``quantile`` when one is given. Effects
        never seen in the evidence keep their prior."""
        return self._estimates([self._row(a) for a in contexts], contexts, quantile)

    def scan(
        self, contexts: Sequence[Mapping[str, Any]], quantile: float | None, first: int = 1
    ) -> tuple[list[RiskEstimate], np.ndarray]:
        """:meth:`estimate_many` of ``contexts``, and the :meth:`difference_noise` of each
        from ``first`` on against the average of those (the windows a scheduler
        compares), each context read once."""
        rows = [self._row(a) for a in contexts]
        windows = rows[first:]
        noise = self._noise(windows, windows) if windows else np.zeros(0)
        return self._estimates(rows, contexts, quantile), noise

    def _estimates(
        self, rows: Sequence[_Row], contexts: Sequence[Mapping[str, Any]], quantile: float | None
    ) -> list[RiskEstimate]:
        used, x = _columns([row.indices for row in rows])
        extra_mean = np.array([row.extra_mean for row in rows], dtype=float)
        extra_var = np.array([row.extra_var for row in rows], dtype=float)
        logit = x @ self.mean[used] + extra_mean
        var = ((x @ self.cov[np.ix_(used, used)]) * x).sum(axis=1) + extra_var
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
        self,
        reference: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        others: Sequence[Mapping[str, Any]],
    ) -> np.ndarray:
        """How noisy the estimated difference ``log-odds(other) - log-odds(reference)`` is,
        as a standard deviation, for each of ``others``; a sequence of contexts as the
        ``reference`` stands for the average of their log-odds.

        A difference the priors alone make is a belief, not noise; one the evidence made
        is noisy while the evidence is thin. So this is the lesser of the posterior
        variance of the difference and the variance the evidence removed from it: zero
        without evidence, small with plenty, largest in between.
        """
        references = [reference] if isinstance(reference, Mapping) else list(reference)
        return self._noise([self._row(a) for a in references], [self._row(a) for a in others])

    def _noise(self, references: Sequence[_Row], others: Sequence[_Row]) -> np.ndarray:
        used, x = _columns([*(r.indices for r in references), *(r.indices for r in others)])
        d = x[len(references) :] - x[: len(references)].mean(axis=0)
        posterior = ((d @ self.cov[np.ix_(used, used)]) * d).sum(axis=1)
        prior = (d * d) @ self._prior_var[used]
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
                "priors": self.priors.to_dict(),
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
            Priors.from_dict(data["priors"]) if "priors" in data else Priors(),
        )


def _sigmoid(z: Any) -> Any:
    return expit(z)


def _newton(
    x: np.ndarray,
    n: np.ndarray,
    y: np.ndarray,
    beta: np.ndarray,
    mu: np.ndarray,
    precision: np.ndarray,
    iterations: int,
) -> np.ndarray:
    """The posterior mode, by Newton's method from ``beta`` with a backtracking line
    search: far from the mode a full Newton step on a logistic likelihood overshoots
    (and with weak priors can diverge), so a step is halved until the log posterior
    rises."""
    current = _log_posterior(x, n, y, beta, mu, precision)
    for _ in range(iterations):
        p = _sigmoid(x @ beta) if len(n) else np.zeros(0)
        gradient = x.T @ (y - n * p) - precision * (beta - mu)
        hessian = _hessian(x, n * p * (1 - p), precision)
        step = np.linalg.solve(hessian, gradient)
        rise = float(gradient @ step)
        scale = 1.0
        while True:
            candidate = beta + scale * step
            value = _log_posterior(x, n, y, candidate, mu, precision)
            if value >= current + 1e-4 * scale * rise or scale < 1e-6:
                break
            scale /= 2
        beta, current = candidate, value
        # 1e-4 on the log-odds is far below what any decision can tell apart
        if float(np.max(np.abs(scale * step), initial=0.0)) < 1e-4:
            break
    return beta


def _log_posterior(
    x: np.ndarray,
    n: np.ndarray,
    y: np.ndarray,
    beta: np.ndarray,
    mu: np.ndarray,
    precision: np.ndarray,
) -> float:
    """log likelihood + log prior, up to a constant."""
    z = x @ beta if len(n) else np.zeros(0)
    likelihood = float(y @ z - n @ np.logaddexp(0.0, z))
    return likelihood - 0.5 * float(precision @ (beta - mu) ** 2)


def _covariance(
    x: np.ndarray, n: np.ndarray, beta: np.ndarray, precision: np.ndarray
) -> np.ndarray:
    """The Laplace approximation's covariance at ``beta``."""
    p = _sigmoid(x @ beta) if len(n) else np.zeros(0)
    return np.linalg.inv(_hessian(x, n * p * (1 - p), precision))


def _variational(
    x: np.ndarray,
    n: np.ndarray,
    y: np.ndarray,
    beta: np.ndarray,
    cov: np.ndarray,
    mu: np.ndarray,
    precision: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian belief moved from the Laplace approximation to the variational one
    (Opper and Archambeau, 2009): the mean at which the expected gradient of the log
    posterior is zero under the Gaussian, and the precision its expected curvature there.

    Why: with rare failures, the exact posterior of a context's log-odds is skewed (a
    context with no failure cannot tell 1% from 0.1%), and a Gaussian centred at the mode
    overstates every E[p]: in a history of a few percent failures, the sum of the
    estimates over the deploys seen came out 30–50% above the failures observed. The
    exact posterior satisfies, for each effect ``j``, ``Σ_c x_cj (y_c − n_c E[p_c]) =
    precision_j (E[β_j] − μ_j)`` (the expected score is zero), so it is calibrated in
    the large on its own evidence; the variational Gaussian keeps that identity, the
    Laplace one does not.

    One round from the mode: each cell's log-odds integrated over its spread under the
    Laplace covariance (Gauss-Hermite quadrature), steps taken with the Laplace curvature
    held (a chord method: a curvature per step would cost a matrix over every cell at
    every step; the fixed point is the same), a step halved while it does not reduce the
    gradient; then the covariance at the mean found. A second round moves the estimates
    by well under what any decision can tell apart.
    """
    nodes, weights = _GAUSS_HERMITE
    weights = weights / weights.sum()
    sd = np.sqrt(np.maximum(((x @ cov) * x).sum(axis=1), 0.0))

    def moments(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = _sigmoid((x @ beta)[:, None] + sd[:, None] * nodes[None, :])
        return p @ weights, (p * (1 - p)) @ weights

    def gradient(beta: np.ndarray, expected: np.ndarray) -> np.ndarray:
        return np.asarray(x.T @ (y - n * expected) - precision * (beta - mu))

    factor = scipy.linalg.cho_factor(np.linalg.inv(cov))  # the Laplace curvature
    expected, curvature = moments(beta)
    g = gradient(beta, expected)
    for _ in range(CHORD_STEPS):
        step = scipy.linalg.cho_solve(factor, g)
        scale = 1.0
        while True:
            candidate = beta + scale * step
            e_new, c_new = moments(candidate)
            g_new = gradient(candidate, e_new)
            if float(g_new @ g_new) <= float(g @ g) or scale < 1e-6:
                break
            scale /= 2
        beta, curvature, g = candidate, c_new, g_new
        if float(np.max(np.abs(scale * step), initial=0.0)) < 1e-6:
            break
    return beta, np.linalg.inv(_hessian(x, n * curvature, precision))


def _hessian(x: np.ndarray, weights: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """The log posterior's negative curvature: x' diag(weights) x + the priors'."""
    return np.asarray((x.T * weights) @ x + np.diag(precision))


def _scales(
    priors: Priors,
    groups: list[str | None],
    seen: np.ndarray,
    beta: np.ndarray,
    cov: np.ndarray,
) -> dict[str, float]:
    """Each learnable group's scale re-estimated from its members the evidence saw."""
    out = {}
    start = GROUPS
    for group in priors.learnable():
        members = [i for i, g in enumerate(groups) if g == group and seen[i]]
        if not members:
            continue
        squares = float(sum(beta[i] ** 2 + cov[i, i] for i in members))
        out[group] = learned_scale(squares, len(members), start.get(group, priors.scales[group]))
    return out


_GAUSS_HERMITE = np.polynomial.hermite_e.hermegauss(12)


def _mean_probability(logit: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E[sigmoid(L)] for L ~ N(logit, sd^2), row by row, by Gauss-Hermite quadrature."""
    nodes, weights = _GAUSS_HERMITE
    values = _sigmoid(logit[:, None] + sd[:, None] * nodes[None, :])
    return np.asarray(values @ weights / weights.sum())
