"""What outcomes say about a heuristic: its confidence, and when they are against it.

**Confidence has one meaning.** A heuristic makes a claim about the failure rate ``p``
of the deploys it covers: a GO says they fail less often than the reference rate ``R``,
a DELAY or NO_GO that they fail more often. Its confidence is the probability of that
claim given the heuristic's own counts (``failures`` of ``deployed`` matching deploys
with an outcome, ``successes`` the rest), under a Beta prior centred on the reference
and worth two deploys::

    p | counts ~ Beta(2 R + failures, 2 (1 - R) + successes)
    confidence  = P(p < R)   for GO
                = P(p > R)   for DELAY and NO_GO

(with scipy: ``beta.cdf(R, 2*R + f, 2*(1 - R) + s)`` for GO, ``beta.sf(...)`` for the
others), capped at 0.6 while fewer than 3 deploys back it (the seed's rule) and at 0.99,
and rounded *down* to two decimals, so the stored number is the number shown and a
heuristic shown at 0.60 is at least the default threshold. Before any deploy the prior
alone speaks: it expects a pattern to fail at the reference rate. So more successes at
equal failures never lower a GO's confidence, more failures never lower a DELAY's or a
NO_GO's, and a GO deployed without a single failure is never below 0.5.

The reference ``R`` is a smoothed rate, ``(F + 1) / (N + 2)``, never 0 or 1:

- for DELAY and NO_GO, the **base rate**: ``F`` failures among all ``N`` deployed
  releases with an outcome;
- for GO, the **ordinary rate**: the same over the deploys that no active cautionary
  heuristic covers (against the base rate, every pattern that merely avoids a risky one
  would look safe). Equal to the base rate when there is no such heuristic.

**Against.** The evidence is against a heuristic when its matching deploys fail at a rate
on the wrong side of the reference: a GO's above it, a DELAY's or NO_GO's at or below it.
A candidate whose evidence is against it is rejected (:func:`contradiction`); a stored one
is retired when, besides, its confidence falls under 0.5 (:mod:`.lifecycle`).

**Who is judged when.** A person's heuristic keeps the confidence the person stated
(capped at 0.6 under 3 deploys) until 20 deploys with an outcome match it: a person may
know what the data cannot show yet. Every other heuristic carries the confidence above
from its first deploy. A heuristic's status (retired, reactivated) follows its evidence
once ``EVIDENCE_FROM[provenance]`` deploys match it: at once for mined ones, after 5 for
LLM and imported ones, after 20 for a person's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..domain.models import Decision, Heuristic, HeuristicStatus, Provenance
from .distributions import beta_cdf, beta_sf

EVIDENCE_FROM: dict[Provenance, int] = {
    Provenance.mined: 1,
    Provenance.llm: 5,
    Provenance.imported: 5,
    Provenance.human: 20,
}
STATED_UNTIL: dict[Provenance, int] = {Provenance.human: EVIDENCE_FROM[Provenance.human]}
"""A stated confidence stands until this many deploys match (a person's only)."""
PRIOR_WEIGHT = 2.0
"""The prior is worth this many deploys failing at the reference rate."""
LOW_SUPPORT = 3
LOW_SUPPORT_MAX_CONFIDENCE = 0.6
MAX_CONFIDENCE = 0.99
"""Evidence never makes a heuristic certain."""


def smoothed_rate(failures: int, deployed: int) -> float:
    """The posterior mean failure rate under a uniform prior: (f + 1) / (n + 2)."""
    return (failures + 1) / (deployed + 2)


def shown(value: float) -> float:
    """``value`` rounded down to two decimals (the form every confidence is kept and
    shown in)."""
    return math.floor(value * 100 + 1e-9) / 100


@dataclass(frozen=True)
class Baseline:
    """The rates a heuristic's evidence is compared with.

    ``deployed``/``failures`` count every deployed release with an outcome;
    ``ordinary_*`` count those outside every active cautionary heuristic (equal to the
    totals when there is none).
    """

    deployed: int
    failures: int
    ordinary_deployed: int
    ordinary_failures: int

    @classmethod
    def of(cls, deployed: int, failures: int) -> Baseline:
        """A baseline whose ordinary rate is the base rate."""
        return cls(deployed, failures, deployed, failures)

    @property
    def rate(self) -> float:
        return smoothed_rate(self.failures, self.deployed)

    @property
    def ordinary_rate(self) -> float:
        return smoothed_rate(self.ordinary_failures, self.ordinary_deployed)

    def reference(self, recommendation: Decision) -> float:
        """The rate a heuristic recommending ``recommendation`` is compared with."""
        return self.ordinary_rate if recommendation is Decision.GO else self.rate

    def describe(self, recommendation: Decision) -> str:
        """The reference with the counts it comes from, e.g. "the base rate 12.5% =
        (1 + 1)/(14 + 2)"."""
        if recommendation is Decision.GO:
            name, f, n = "ordinary", self.ordinary_failures, self.ordinary_deployed
        else:
            name, f, n = "base", self.failures, self.deployed
        return f"the {name} rate {100 * smoothed_rate(f, n):.1f}% = ({f} + 1)/({n} + 2)"


def probability_above(failures: int, deployed: int, rate: float) -> float:
    """Posterior P(pattern failure rate > ``rate``) under a uniform Beta(1, 1) prior
    (mining's test; not a heuristic's confidence)."""
    return float(beta_sf(rate, 1 + failures, 1 + deployed - failures))


def confidence(recommendation: Decision, deployed: int, failures: int, base: Baseline) -> float:
    """A heuristic's confidence from its counts: the formula of the module docstring, the
    one place it is computed."""
    reference = base.reference(recommendation)
    a = PRIOR_WEIGHT * reference + failures
    b = PRIOR_WEIGHT * (1 - reference) + (deployed - failures)
    if recommendation is Decision.GO:
        p = float(beta_cdf(reference, a, b))
    else:
        p = float(beta_sf(reference, a, b))
    if deployed < LOW_SUPPORT:
        p = min(p, LOW_SUPPORT_MAX_CONFIDENCE)
    return shown(min(MAX_CONFIDENCE, p))


def against(recommendation: Decision, deployed: int, failures: int, base: Baseline) -> bool:
    """True when the matching deploys fail on the wrong side of the reference rate: a
    GO's above it, a DELAY's or NO_GO's at or below it. No deploys: nothing is against."""
    if deployed <= 0:
        return False
    rate = failures / deployed
    reference = base.reference(recommendation)
    return rate > reference if recommendation is Decision.GO else rate <= reference


def evidence_text(recommendation: Decision, deployed: int, failures: int, base: Baseline) -> str:
    """The counts behind a confidence and the reference they are compared with, e.g. "1 of
    2 matching deploys failed (50.0%), above the ordinary rate 12.5% = (1 + 1)/(14 + 2)"."""
    rate = failures / deployed if deployed else 0.0
    reference = base.reference(recommendation)
    side = "above" if rate > reference else "below" if rate < reference else "at"
    return (
        f"{failures} of {deployed} matching deploys failed ({100 * rate:.1f}%), {side} "
        f"{base.describe(recommendation)}"
    )


def contradiction(
    recommendation: Decision, deployed: int, failures: int, base: Baseline
) -> str | None:
    """Why the evidence is against the heuristic (:func:`against`), or None."""
    if base.deployed <= 0 or not against(recommendation, deployed, failures, base):
        return None
    return (
        f"memory contradicts {recommendation.value}: "
        f"{evidence_text(recommendation, deployed, failures, base)}"
    )


def judged_by_evidence(provenance: Provenance, deployed: int) -> bool:
    """True when the status of a heuristic of ``provenance`` covering ``deployed`` deploys
    with an outcome follows its evidence (it may be retired or reactivated)."""
    return deployed >= EVIDENCE_FROM[provenance]


def stated(provenance: Provenance, deployed: int) -> bool:
    """True when a heuristic's stated confidence stands instead of the formula's (a
    person's, with fewer than 20 matching deploys)."""
    return deployed < STATED_UNTIL.get(provenance, 0)


def stated_confidence(claimed: float, support: int) -> float:
    """A stated confidence as it may stand without evidence: at most 0.6 under 3 deploys,
    rounded down to two decimals."""
    if support < LOW_SUPPORT:
        claimed = min(claimed, LOW_SUPPORT_MAX_CONFIDENCE)
    return shown(claimed)


def confidence_text(h: Heuristic) -> str:
    """A heuristic's confidence as every view shows it (the CLI, the API, the console):
    the number, then the counts it comes from, e.g. "0.94 (8 of 8 deploys succeeded)"."""
    deployed = h.failures + h.successes
    if deployed == 0:
        counts = "no deploys yet"
    elif h.recommendation is Decision.GO:
        counts = f"{h.successes} of {deployed} deploys succeeded"
    else:
        counts = f"{h.failures} of {deployed} deploys failed"
    number = f"{shown(h.confidence):.2f}"
    if h.status is HeuristicStatus.rejected:
        return f"{number} as claimed"
    if stated(h.provenance, deployed):
        return f"{number} as stated by a person ({counts})"
    return f"{number} ({counts})"


def counted(h: Heuristic) -> bool:
    """True when the heuristic is judged by outcome counts recomputed from memory (so the
    planner prices its evidence in rather than following it blindly)."""
    return judged_by_evidence(h.provenance, h.failures + h.successes)
