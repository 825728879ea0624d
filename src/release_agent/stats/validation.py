"""Heuristic validation: every candidate, whatever proposed it, passes here before storage.

The seed's rules: recommendation GO / NO_GO / DELAY, confidence in [0, 1], support at
least 1, support under 3 means confidence at most 0.6, and conditions only on known
context attributes with allowed values. On top of them, the data:

- **Recount.** The candidate's support, failures and successes are recounted from memory
  (``recount``) and replace the claim. A mined, LLM or human claim of more support than
  memory shows is rejected. An imported claim is not compared (the seed counted its own
  decisions, aborted releases included, not deploys), but an imported heuristic that no
  deployed episode supports is rejected. The seed's low-support rule then applies to the
  recounted support: a mined or LLM candidate breaking it is rejected, an imported or
  human one has its confidence capped at 0.6.
- **Contradiction.** With a ``baseline``, a candidate whose evidence is against it
  (:func:`.evidence.against`: a DELAY / NO_GO whose deploys fail at or below the base
  rate, a GO whose deploys fail above the ordinary rate) is rejected, with the counts and
  the rate they were compared with.
- **Confidence.** With a ``baseline``, an accepted candidate carries the confidence its
  counts give (:func:`.evidence.confidence`), not the claimed one, and a ``reason`` saying
  what the counts were compared with; only a person's stated confidence stands until 20
  deploys match (see :mod:`.evidence`).

Duplicates and near-duplicates share a :func:`merge_key`: the same conditions in any
order, a one-element list written as a scalar, a one-hour range as an hour, and the same
direction (GO, or cautionary: DELAY and NO_GO). They merge into one heuristic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..domain.conditions import canonical_key, normalize
from ..domain.errors import InvalidInput
from ..domain.models import Decision, Heuristic, Provenance
from . import evidence
from .evidence import LOW_SUPPORT, LOW_SUPPORT_MAX_CONFIDENCE, Baseline

__all__ = [
    "LOW_SUPPORT",
    "LOW_SUPPORT_MAX_CONFIDENCE",
    "Verdict",
    "canonical_when",
    "check_rules",
    "direction",
    "merge_key",
    "validate",
]

# Whose claimed support is a claim about deploys with outcomes (so checked against them).
_CLAIMS_DEPLOYS = frozenset({Provenance.mined, Provenance.llm})


@dataclass(frozen=True)
class Verdict:
    """An accepted heuristic (with recounted evidence) or the reason for the rejection."""

    heuristic: Heuristic | None
    rejection: str | None

    @property
    def accepted(self) -> bool:
        return self.heuristic is not None


def canonical_when(when: Any, where: str = "when") -> dict[str, Any]:
    """``normalize`` plus the near-duplicate rules: a one-element list becomes its value
    and a range of one hour that hour. Raises InvalidInput like ``normalize``."""
    out = {}
    for name, value in normalize(when, where).items():
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        elif isinstance(value, Mapping) and value["from"] == value["to"]:
            value = value["from"]
        out[name] = value
    return out


def direction(recommendation: Decision) -> str:
    """GO, or CAUTION for DELAY and NO_GO: the two kinds of claim a pattern can carry."""
    return "GO" if recommendation is Decision.GO else "CAUTION"


def merge_key(when: Mapping[str, Any], recommendation: Decision) -> tuple[str, str]:
    """The identity of a heuristic for merging; ``when`` must be canonical."""
    return canonical_key(when), direction(recommendation)


def check_rules(
    when: Any, recommendation: Any, confidence: Any, support: Any
) -> tuple[dict[str, Any], Decision, float, int]:
    """Apply the seed's rules; return the canonical (when, decision, confidence, support).

    Raises InvalidInput naming the first broken rule's field.
    """
    try:
        decision = Decision(str(recommendation).upper())
    except ValueError:
        raise InvalidInput(
            f"{recommendation!r} is not a decision",
            field="recommendation",
            allowed=[d.value for d in Decision],
        ) from None
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise InvalidInput("must be a number from 0 to 1", field="confidence")
    if not 0.0 <= float(confidence) <= 1.0:
        raise InvalidInput(f"{confidence} is outside [0, 1]", field="confidence")
    if isinstance(support, bool) or not isinstance(support, int) or support < 1:
        raise InvalidInput(f"{support!r} must be a whole number of at least 1", field="support")
    if support < LOW_SUPPORT and confidence > LOW_SUPPORT_MAX_CONFIDENCE:
        raise InvalidInput(
            f"confidence {confidence} is above {LOW_SUPPORT_MAX_CONFIDENCE} with support "
            f"{support} (under {LOW_SUPPORT})",
            field="confidence",
        )
    return canonical_when(when), decision, float(confidence), int(support)


def validate(
    when: Any,
    recommendation: Any,
    confidence: Any,
    support: Any,
    provenance: Provenance,
    recount: tuple[int, int] | None = None,
    baseline: Baseline | None = None,
) -> Verdict:
    """Accept or reject a candidate (see the module docstring); never raises.

    ``recount`` is (deployed with outcome, failures) from memory for its conditions;
    ``baseline`` the rates to compare with. Without ``recount`` only the seed's rules are
    checked and the claim is kept; without ``baseline`` nothing is contradicted and the
    claimed confidence stands.
    """
    try:
        norm, decision, conf, claimed = check_rules(when, recommendation, confidence, support)
    except InvalidInput as error:
        return Verdict(None, str(error))
    if recount is None:
        heuristic = Heuristic(
            when=norm,
            recommendation=decision,
            confidence=conf,
            support=claimed,
            provenance=provenance,
        )
        return Verdict(heuristic, None)
    deployed, failures = int(recount[0]), int(recount[1])
    if provenance in _CLAIMS_DEPLOYS and claimed > deployed:
        return Verdict(
            None, f"claims support {claimed} but memory shows {deployed} matching deploys"
        )
    if provenance is Provenance.imported and deployed == 0:
        return Verdict(
            None,
            f"claims support {claimed} but no deployed release with an outcome matches "
            "(aborted and undeployed releases are no evidence)",
        )
    if deployed < LOW_SUPPORT and conf > LOW_SUPPORT_MAX_CONFIDENCE:
        if provenance in _CLAIMS_DEPLOYS:
            return Verdict(
                None,
                f"confidence {conf} is above {LOW_SUPPORT_MAX_CONFIDENCE} but memory shows "
                f"only {deployed} matching deploys",
            )
        conf = LOW_SUPPORT_MAX_CONFIDENCE
    reason = None
    if baseline is not None:
        contradicted = evidence.contradiction(decision, deployed, failures, baseline)
        if contradicted is not None:
            return Verdict(None, contradicted)
        if evidence.stated(provenance, deployed):
            conf = evidence.stated_confidence(conf, deployed)
        else:
            conf = evidence.confidence(decision, deployed, failures, baseline)
            said = evidence.evidence_text(decision, deployed, failures, baseline)
            reason = f"{said}; confidence {conf:.2f}"
    heuristic = Heuristic(
        when=norm,
        recommendation=decision,
        confidence=conf,
        support=deployed,
        failures=failures,
        successes=deployed - failures,
        provenance=provenance,
        reason=reason,
    )
    return Verdict(heuristic, None)
