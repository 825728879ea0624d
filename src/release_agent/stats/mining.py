"""Mining: the context patterns whose failure rate differs from the base rate.

**One aggregate query.** Memory is read once, as *cells*: deployed episodes with an
outcome grouped by every context attribute (``GROUP BY`` service, env, feature risk,
criticality, day, hour, clash and the three window flags) with their count and failures.
The number of cells is bounded by the attribute domain, not by the number of episodes,
so everything after the query — the counts of every single attribute and every pair,
recounts of existing heuristics, the risk model's fit — costs the same for a thousand
episodes as for a million.

**Patterns.** Single attributes (service, env, feature risk, criticality, day of week,
6-hour part of the day as an ``{"from": a, "to": b}`` range on ``hour_of_day``, clash,
weekend, Friday afternoon, out of hours) and pairs of them (so day x part of day,
service x Friday afternoon, ...).

**Selection** (a pattern with no real effect must yield nothing):

1. at least ``min_support`` deploys;
2. significance with a Bonferroni correction: the posterior tail on the wrong side of the
   reference rate (see :mod:`.evidence`) is at most ``alpha / (2 m)``, where ``m`` is the
   number of patterns tested in the pattern's family (singles, pairs) — so pairs, being
   far more numerous, face a higher bar;
3. a minimum effect: the posterior mean rate is at least ``min_lift`` times the reference
   (at most 1 / ``min_lift`` of it for GO);
4. a pair must also beat the rest of each of its two attributes (that attribute's deploys
   outside the pair) by the lift and at the pairs' bar, comparing the two rates'
   posteriors: a pair whose effect one of its attributes explains is not a heuristic of
   its own;
5. greedy covering: repeatedly, among the patterns whose deploys not yet covered (by a
   kept pattern or an active heuristic) still pass 2 and 3, keep the most pronounced
   (by the posterior 5% quantile of the uncovered deploys' rate). So a single attribute
   that looks risky only because a pair inside it is, a pair that looks risky because it
   overlaps another effect, and overlapping variants of one effect, are dropped.

Cautionary patterns are compared with the base rate; safe (GO) patterns are selected on
the deploys outside every cautionary pattern, against their (ordinary) rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domain.attributes import ATTRIBUTES, PART_OF_DAY_HOURS, Attribute, Kind
from ..domain.models import Decision
from ..domain.options import HeuristicProposal, PatternStat
from .cells import Cells
from .distributions import beta_cdf, beta_ppf, beta_sf
from .evidence import Baseline, probability_above, smoothed_rate

__all__ = [
    "Cells",
    "Mined",
    "MiningSettings",
    "cautionary_recommendation",
    "mine",
    "probability_above",
    "propose",
]

PARTS_OF_DAY: tuple[tuple[int, int], ...] = tuple(
    (start, start + PART_OF_DAY_HOURS - 1) for start in range(0, 24, PART_OF_DAY_HOURS)
)
MINING_ATTRIBUTES: tuple[Attribute, ...] = tuple(a for a in ATTRIBUTES if a.mined)
"""What mining counts, from the registry; the hour is counted in parts of the day."""
TIME_ATTRIBUTES = frozenset(a.name for a in ATTRIBUTES if a.transient)
MIN_SUPPORT = 5
MAX_PROPOSALS = 20


@dataclass(frozen=True)
class MiningSettings:
    """The selection's knobs (see the module docstring)."""

    min_support: int = MIN_SUPPORT
    alpha: float = 0.01
    min_lift: float = 1.5
    max_proposals: int = MAX_PROPOSALS


# -- candidates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dimension:
    name: str
    codes: np.ndarray
    conditions: list[dict[str, Any]]


def _dimensions(cells: Cells) -> list[_Dimension]:
    out = []
    for attribute in MINING_ATTRIBUTES:
        name = attribute.name
        if attribute.kind is Kind.hour:
            hours = cells.codes[name]
            codes = np.where(hours >= 0, hours // PART_OF_DAY_HOURS, -1)
            conditions = [{name: {"from": a, "to": b}} for a, b in PARTS_OF_DAY]
        else:
            codes = cells.codes[name]
            conditions = [{name: value} for value in cells.values[name]]
        if conditions:
            out.append(_Dimension(name, codes, conditions))
    return out


@dataclass(frozen=True)
class _Candidate:
    when: dict[str, Any]
    deployed: int
    failures: int
    singles: tuple[int, ...]
    """For a pair, the indices of its two single attributes among the candidates."""


def _candidates(dims: list[_Dimension], weights: tuple[np.ndarray, np.ndarray]) -> list[_Candidate]:
    """Every single and pair with its (deployed, failures) under ``weights``."""
    deployed, failures = weights
    out: list[_Candidate] = []
    single_at: dict[tuple[int, int], int] = {}
    for d, dim in enumerate(dims):
        size = len(dim.conditions)
        valid = dim.codes >= 0
        n = np.bincount(dim.codes[valid], deployed[valid], minlength=size)
        f = np.bincount(dim.codes[valid], failures[valid], minlength=size)
        for v in range(size):
            single_at[(d, v)] = len(out)
            out.append(_Candidate(dict(dim.conditions[v]), int(n[v]), int(f[v]), ()))
    for a in range(len(dims)):
        for b in range(a + 1, len(dims)):
            da, db = dims[a], dims[b]
            size_b = len(db.conditions)
            size = len(da.conditions) * size_b
            valid = (da.codes >= 0) & (db.codes >= 0)
            joint = da.codes[valid] * size_b + db.codes[valid]
            n = np.bincount(joint, deployed[valid], minlength=size)
            f = np.bincount(joint, failures[valid], minlength=size)
            for k in np.nonzero(n)[0]:
                va, vb = divmod(int(k), size_b)
                when = {**da.conditions[va], **db.conditions[vb]}
                if len(when) < 2:
                    continue  # two conditions on one attribute (part of day x hour)
                parts = (single_at[(a, va)], single_at[(b, vb)])
                out.append(_Candidate(dict(sorted(when.items())), int(n[k]), int(f[k]), parts))
    return out


def _tail(cautionary: bool, failures: int, deployed: int, reference: float) -> float:
    """Posterior probability that the rate is on the wrong side of ``reference``."""
    a, b = 1 + failures, 1 + deployed - failures
    return float(beta_cdf(reference, a, b) if cautionary else beta_sf(reference, a, b))


def _effect(cautionary: bool, failures: int, deployed: int, reference: float, lift: float) -> bool:
    rate = smoothed_rate(failures, deployed)
    return rate >= lift * reference if cautionary else rate * lift <= reference


def _select(
    cells: Cells,
    dims: list[_Dimension],
    within: np.ndarray,
    cautionary: bool,
    covered: np.ndarray,
    settings: MiningSettings,
) -> tuple[list[dict[str, Any]], int]:
    """The patterns kept for one direction, and how many were tested."""
    weights = (cells.deployed * within, cells.failures * within)
    n_all, f_all = int(weights[0].sum()), int(weights[1].sum())
    if n_all < settings.min_support:
        return [], 0
    reference = smoothed_rate(f_all, n_all)
    candidates = _candidates(dims, weights)
    tested = [c for c in candidates if c.deployed >= settings.min_support]
    families = {size: sum(1 for c in tested if len(c.singles) == size) for size in (0, 2)}
    bar = {size: settings.alpha / (2 * count) if count else 0.0 for size, count in families.items()}

    def passes(failures: int, deployed: int, ref: float, size: int) -> bool:
        return (
            deployed >= settings.min_support
            and _effect(cautionary, failures, deployed, ref, settings.min_lift)
            and _tail(cautionary, failures, deployed, ref) <= bar[size]
        )

    # A pair must also beat the rest of each of its attributes, at the pairs' bar: the
    # pairs that pass the first test were selected among all of them, so a smaller
    # family here would let chance through.
    survivors = [
        c
        for c in tested
        if passes(c.failures, c.deployed, reference, len(c.singles))
        and all(
            _beats_rest(c, candidates[s], cautionary, bar[2], settings.min_lift) for s in c.singles
        )
    ]

    # Greedy covering on what is not yet explained: at each step the most pronounced
    # remaining pattern (posterior 5% quantile of its uncovered deploys' rate; among
    # equals the more general and larger one) is kept if its uncovered deploys still pass.
    def edge(failures: int, deployed: int) -> float:
        a, b = 1 + failures, 1 + deployed - failures
        return -float(beta_ppf(0.05, a, b)) if cautionary else float(beta_ppf(0.95, a, b))

    kept: list[dict[str, Any]] = []
    if not survivors:
        return kept, len(tested)
    masks = np.array([cells.mask(c.when) for c in survivors])
    covered = covered.copy()
    remaining = list(range(len(survivors)))
    while remaining:
        free = masks[remaining] & ~covered
        n = free @ weights[0]
        f = free @ weights[1]
        ranked = [
            (edge(int(f[j]), int(n[j])), len(survivors[i].singles), -int(n[j]), i)
            for j, i in enumerate(remaining)
            if passes(int(f[j]), int(n[j]), reference, len(survivors[i].singles))
        ]
        if not ranked:
            break
        best = min(ranked)[-1]
        kept.append(survivors[best].when)
        covered |= masks[best]
        remaining.remove(best)
    return kept, len(tested)


def _beats_rest(
    pair: _Candidate, single: _Candidate, cautionary: bool, bar: float, lift: float
) -> bool:
    """True when ``pair`` differs from the rest of ``single`` (its deploys outside the
    pair) by the lift and significantly: the single attribute alone does not explain it.
    Both rates are uncertain, so the test compares two Beta posteriors."""
    rest_n = single.deployed - pair.deployed
    if rest_n <= 0:
        return False  # the pair is the single attribute under another name
    rest_f = single.failures - pair.failures
    rest_rate = smoothed_rate(rest_f, rest_n)
    if not _effect(cautionary, pair.failures, pair.deployed, rest_rate, lift):
        return False
    return _wrong_order(cautionary, pair.failures, pair.deployed, rest_f, rest_n) <= bar


# Quantiles to integrate over: even in the middle, logarithmic towards both ends (to
# 1e-15), so that the tiny probabilities the Bonferroni bars ask about stay accurate.
_TAIL = np.logspace(-15, -1, 200)
_QUANTILES = np.concatenate(
    [[0.0], _TAIL, np.linspace(0.1, 0.9, 401)[1:-1], (1 - _TAIL)[::-1], [1.0]]
)


def _wrong_order(cautionary: bool, f1: int, n1: int, f2: int, n2: int) -> float:
    """Posterior probability that rate 1 is not above rate 2 (not below, for GO), both
    Beta(1 + f, 1 + n - f): the integral over rate 2's quantiles of rate 1's tail
    (trapezoids; absolute error about 1e-15)."""
    a1, b1, a2, b2 = 1 + f1, 1 + n1 - f1, 1 + f2, 1 + n2 - f2
    x = beta_ppf(_QUANTILES, a2, b2)
    tail = beta_cdf(x, a1, b1) if cautionary else beta_sf(x, a1, b1)
    return max(0.0, float(np.trapezoid(tail, _QUANTILES)))


@dataclass(frozen=True)
class Mined:
    """What mining found: the baseline, the kept patterns with their full counts."""

    baseline: Baseline
    cautionary: list[PatternStat]
    safe: list[PatternStat]
    tested: int

    @property
    def patterns(self) -> list[PatternStat]:
        return [*self.cautionary, *self.safe]


def coverage(cells: Cells, conditions: Iterable[Mapping[str, Any]]) -> np.ndarray:
    """Which cells any of ``conditions`` matches."""
    covered = np.zeros(len(cells), dtype=bool)
    for when in conditions:
        covered |= cells.mask(when)
    return covered


def mine(
    cells: Cells,
    cautionary_known: Sequence[Mapping[str, Any]] = (),
    safe_known: Sequence[Mapping[str, Any]] = (),
    settings: MiningSettings | None = None,
) -> Mined:
    """Select the patterns the outcomes single out (see the module docstring).

    ``cautionary_known`` and ``safe_known`` are the conditions of active heuristics: the
    deploys they cover count as explained, so mining adds only what they do not say.
    Never raises on empty memory (it finds nothing).
    """
    settings = settings or MiningSettings()
    dims = _dimensions(cells)
    everything = np.ones(len(cells), dtype=bool)
    known = coverage(cells, cautionary_known)
    risky, tested_risky = _select(cells, dims, everything, True, known, settings)
    ordinary = ~(known | coverage(cells, risky))
    safe, tested_safe = _select(
        cells, dims, ordinary, False, coverage(cells, safe_known) & ordinary, settings
    )
    deployed, failures = cells.totals
    n_ord = int(cells.deployed[ordinary].sum())
    f_ord = int(cells.failures[ordinary].sum())
    baseline = Baseline(deployed, failures, n_ord, f_ord)

    def stat(when: dict[str, Any]) -> PatternStat:
        n, f = cells.count(when)
        return PatternStat(when, n, f)

    return Mined(
        baseline,
        [stat(w) for w in risky],
        [stat(w) for w in safe],
        tested_risky + tested_safe,
    )


# -- proposals -----------------------------------------------------------------------------


def cautionary_recommendation(when: Mapping[str, Any]) -> Decision:
    """Waiting helps when the risk lies in the timing; otherwise the change itself is risky."""
    return Decision.DELAY if TIME_ATTRIBUTES & set(when) else Decision.NO_GO


def propose(
    base_deployed: int,
    base_failures: int,
    patterns: Sequence[PatternStat],
    settings: MiningSettings | None = None,
) -> list[HeuristicProposal]:
    """Heuristics for the ``patterns`` that clearly differ from the base rate (of
    ``base_failures`` in ``base_deployed``), strongest first, at most ``max_proposals``.

    ``patterns`` are normally those :func:`mine` kept; each is checked again here
    (Bonferroni over the patterns given, and the minimum lift), so that patterns from
    elsewhere are held to a bar too.
    """
    settings = settings or MiningSettings()
    if base_deployed < settings.min_support or not patterns:
        return []
    base = smoothed_rate(base_failures, base_deployed)
    bar = settings.alpha / (2 * len(patterns))
    proposals = []
    for stat in patterns:
        if stat.deployed < settings.min_support:
            continue
        risky = _tail(True, stat.failures, stat.deployed, base)
        safe = _tail(False, stat.failures, stat.deployed, base)
        if risky <= bar and _effect(True, stat.failures, stat.deployed, base, settings.min_lift):
            recommendation, confidence = cautionary_recommendation(stat.when), 1 - risky
        elif safe <= bar and _effect(False, stat.failures, stat.deployed, base, settings.min_lift):
            recommendation, confidence = Decision.GO, 1 - safe
        else:
            continue
        proposals.append(
            HeuristicProposal(
                when=dict(stat.when),
                recommendation=recommendation,
                confidence=round(min(confidence, 0.999), 3),
                supporting_episodes=stat.deployed,
                rationale=(
                    f"{stat.failures} failures in {stat.deployed} deploys "
                    f"({100 * stat.failures / stat.deployed:.1f}%) against a base rate of "
                    f"{100 * base_failures / base_deployed:.1f}%"
                ),
            )
        )
    proposals.sort(key=lambda p: (-p.confidence, -p.supporting_episodes))
    return proposals[: settings.max_proposals]
