"""The Beta and binomial tails that evidence, mining and reflection need.

Thin names over :mod:`scipy.special`'s regularized incomplete beta functions — the same
numbers ``scipy.stats`` computes, without its import, which costs seconds on every
command line call.
"""

from __future__ import annotations

from typing import Any

from scipy import special


def beta_cdf(x: Any, a: Any, b: Any) -> Any:
    """P(X <= x) for X ~ Beta(a, b); ``x`` in [0, 1]."""
    return special.betainc(a, b, x)


def beta_sf(x: Any, a: Any, b: Any) -> Any:
    """P(X > x) for X ~ Beta(a, b), accurate far into the upper tail."""
    return special.betaincc(a, b, x)


def beta_ppf(q: Any, a: Any, b: Any) -> Any:
    """The ``q`` quantile of Beta(a, b)."""
    return special.betaincinv(a, b, q)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(K > k) for K ~ Binomial(n, p)."""
    return float(special.bdtrc(k, n, p))
