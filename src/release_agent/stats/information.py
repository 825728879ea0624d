"""What an outcome would teach: the knowledge gradient for correlated beliefs.

The risk model's belief about the log-odds of failure is Gaussian (its Laplace
approximation), so the log-odds of two contexts are correlated through the effects they
share: the outcome of one deploy moves the estimate of every context that shares its
intercept, its feature risk, its service or its hour. For a deploy ``d`` whose log-odds
are ``N(m_d, s_d²)`` and a later decision ``j`` with ``N(m_j, v_j)`` and covariance
``c_j``:

- ``k`` outcomes at ``d`` bring ``k·w`` of Fisher information on its log-odds (``w =
  p(1 - p)``), so before they are seen the mean they lead to is spread with variance
  ``σ̃_d² = s_d² - s_d² / (1 + k w s_d²)``;
- ``j``'s mean moves with it by the regression ``c_j / s_d²``: its spread is
  ``σ̃_j = |c_j| σ̃_d / s_d²``;
- ``j`` decides between deploying, at ``F_j · E[p_j]``, and refusing, at ``C``; knowing
  more can only help: the gain is ``min(C, F_j E[p_j]) - E[min(C, F_j E[p_j | outcomes])]``.

The value of ``k`` more deploys like ``d`` is the sum of those gains over the later
decisions, less ``k`` times what one such deploy costs more than refusing (Frazier,
Powell and Dayanik, 2009; with several outcomes at once, as in KG*, because a single
outcome rarely changes a decision by itself). Pure numpy: no I/O, no state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LOOKAHEAD = 32
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(12)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


@dataclass(frozen=True)
class Beliefs:
    """Log-odds beliefs: the target's mean and variance, and for each other context its
    mean, its variance and its covariance with the target."""

    mean: float
    var: float
    others_mean: np.ndarray
    others_var: np.ndarray
    others_cov: np.ndarray


def _mean_probability(centre: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E[sigmoid(L)] for L ~ N(centre, sd²), elementwise over the last axis' nodes."""
    z = centre[..., None] + sd[..., None] * _NODES
    return np.asarray((1.0 / (1.0 + np.exp(-z))) @ _WEIGHTS)


def teaching_value(
    beliefs: Beliefs,
    refuse_cost: float,
    failure_costs: np.ndarray,
    extra_cost: float,
    weight: float = 1.0,
) -> tuple[float, int]:
    """The best net value of ``k`` more deploys like the target (``k`` = 1, 2, 4, ...
    up to MAX_LOOKAHEAD), and that ``k``; (0, 0) when none pays. ``failure_costs`` are
    the later decisions' failure costs, each standing for ``weight`` decisions;
    ``extra_cost`` what one deploy costs more than refusing on today's estimate."""
    count = len(beliefs.others_mean)
    if count == 0 or extra_cost <= 0 or beliefs.var <= 0:
        return 0.0, 0
    s2 = beliefs.var
    p = 1.0 / (1.0 + np.exp(-beliefs.mean))
    w = p * (1 - p)
    now_sd = np.sqrt(np.maximum(beliefs.others_var, 0.0))
    now = np.minimum(refuse_cost, failure_costs * _mean_probability(beliefs.others_mean, now_sd))
    best, best_k = 0.0, 0
    k = 1
    while k <= MAX_LOOKAHEAD:
        spread_d = np.sqrt(max(s2 - s2 / (1 + k * w * s2), 0.0))
        spread = np.abs(beliefs.others_cov) / s2 * spread_d
        left = np.sqrt(np.maximum(beliefs.others_var - spread**2, 0.0))
        # each later decision, at each quadrature node of the spread of its new mean
        centres = beliefs.others_mean[:, None] + spread[:, None] * _NODES[None, :]
        later = _mean_probability(centres, np.repeat(left[:, None], len(_NODES), axis=1))
        after = np.minimum(refuse_cost, failure_costs[:, None] * later) @ _WEIGHTS
        gain = weight * float(np.sum(now - after))
        net = gain - k * extra_cost
        if net > best:
            best, best_k = net, k
        k *= 2
    return best, best_k
