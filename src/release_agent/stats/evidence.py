"""What outcomes say about a heuristic: its confidence, its failure risk, contradictions.

Every heuristic is judged against the failure rate of the deploys it covers. That rate
has a Beta(1 + failures, 1 + successes) posterior (a uniform prior updated by the
outcomes). Its **confidence** is the posterior probability that it is right:

- for DELAY and NO_GO, ``P(rate > base rate)``, where the base rate is the smoothed
  failure rate of every deployed release with an outcome, ``(F + 1) / (N + 2)``;
- for GO, ``P(rate < ordinary rate)``, where the ordinary rate is the same estimate over
  the deploys that no active cautionary heuristic covers. (Against the base rate, every
  pattern that merely avoids a risky pattern would look safe.)

A heuristic is judged by its evidence once it covers ``EVIDENCE_FROM[provenance]``
deploys with an outcome: at once for mined ones, after 5 for LLM and imported ones,
after 20 for those a human wrote (a person may know what the data cannot show yet).
Until then an LLM's, an import's or a person's stated confidence stands, capped at 0.6
while fewer than 3 deploys back it (the seed's rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.models import Decision, Heuristic, Provenance
from .distributions import beta_cdf, beta_sf

EVIDENCE_FROM: dict[Provenance, int] = {
    Provenance.mined: 1,
    Provenance.llm: 5,
    Provenance.imported: 5,
    Provenance.human: 20,
}
LOW_SUPPORT = 3
LOW_SUPPORT_MAX_CONFIDENCE = 0.6
MAX_CONFIDENCE = 0.999
"""Evidence never makes a heuristic certain: confidences are capped just below 1."""


def smoothed_rate(failures: int, deployed: int) -> float:
    """The posterior mean failure rate under a uniform prior: (f + 1) / (n + 2)."""
    return (failures + 1) / (deployed + 2)


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
        """The rate a heuristic recommending ``recommendation`` must beat."""
        return self.ordinary_rate if recommendation is Decision.GO else self.rate


def probability_above(failures: int, deployed: int, rate: float) -> float:
    """Posterior P(pattern failure rate > ``rate``) under a uniform Beta(1, 1) prior."""
    return float(beta_sf(rate, 1 + failures, 1 + deployed - failures))


def probability_below(failures: int, deployed: int, rate: float) -> float:
    """Posterior P(pattern failure rate < ``rate``); computed directly, not as 1 - above,
    so that tiny tails keep their precision."""
    return float(beta_cdf(rate, 1 + failures, 1 + deployed - failures))


def confidence(recommendation: Decision, deployed: int, failures: int, base: Baseline) -> float:
    """The evidence's confidence in a heuristic (see the module docstring), in [0, 0.999]."""
    reference = base.reference(recommendation)
    if recommendation is Decision.GO:
        p = probability_below(failures, deployed, reference)
    else:
        p = probability_above(failures, deployed, reference)
    return round(min(MAX_CONFIDENCE, p), 3)


def contradiction(
    recommendation: Decision, deployed: int, failures: int, base: Baseline
) -> str | None:
    """Why the data contradict the heuristic, or None.

    A DELAY or NO_GO is contradicted when the deploys it covers fail at or below the
    base rate (raw rates); a GO when they fail more often than the ordinary rate. No
    deploys: nothing to contradict.
    """
    if deployed <= 0 or base.deployed <= 0:
        return None
    rate = failures / deployed
    if recommendation is Decision.GO:
        ordinary = base.ordinary_failures / max(1, base.ordinary_deployed)
        if rate > ordinary:
            return (
                f"memory contradicts GO: {failures} failures in {deployed} matching deploys "
                f"({100 * rate:.1f}%) is above the ordinary rate {100 * ordinary:.1f}%"
            )
        return None
    rate_base = base.failures / base.deployed
    if rate <= rate_base:
        return (
            f"memory contradicts {recommendation.value}: {failures} failures in {deployed} "
            f"matching deploys ({100 * rate:.1f}%) is not above the base rate "
            f"{100 * rate_base:.1f}%"
        )
    return None


def judged_by_evidence(provenance: Provenance, deployed: int) -> bool:
    """True when a heuristic of ``provenance`` covering ``deployed`` deploys with an
    outcome is judged by that evidence rather than by its stated confidence."""
    return deployed >= EVIDENCE_FROM[provenance]


def stated_confidence(claimed: float, support: int) -> float:
    """A stated confidence as it may stand without evidence: at most 0.6 under 3 deploys."""
    if support < LOW_SUPPORT:
        return min(claimed, LOW_SUPPORT_MAX_CONFIDENCE)
    return claimed


def counted(h: Heuristic) -> bool:
    """True when the heuristic is judged by outcome counts recomputed from memory (so the
    planner prices its evidence in rather than following it blindly)."""
    return judged_by_evidence(h.provenance, h.failures + h.successes)
