"""The lifecycle of a stored heuristic as outcomes arrive: re-check, strengthen, weaken,
retire, reactivate.

In the manner of ExpeL's insight votes, every recorded outcome is a vote: a failure
among the deploys a DELAY / NO_GO heuristic covers votes for it and a success against
it (the other way round for GO). The votes are weighed by the Beta posterior of
:mod:`.evidence` against the base (or ordinary) rate, so a heuristic is

- **re-checked** at every learning run: its support, failures and successes are
  recounted from memory and ``last_checked`` is set;
- **strengthened** or **weakened** as its evidence confidence rises or falls;
- **retired** when the evidence turns against it: its confidence falls below
  ``RETIRE_BELOW`` (0.5), i.e. the data make its claim more likely false than true. (A
  heuristic between 0.5 and the policy's ``heuristic_threshold`` stays active but does
  not apply to decisions: the evidence does not support it enough, nor refute it.)
- **reactivated** when the evidence turns back: its confidence reaches
  ``REACTIVATE_AT`` (0.9; well above the retirement bar, so that a heuristic at the edge
  does not flap between the two states).

Heuristics not yet judged by evidence (an LLM's, an import's or a person's, with fewer
deploys than :data:`.evidence.EVIDENCE_FROM` asks) keep their stated confidence (capped
at 0.6 under 3 deploys) and status; only their counts are refreshed. Rejected
candidates are not re-checked: they stay as the record of why they were refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..domain.models import Heuristic, HeuristicStatus
from . import evidence
from .evidence import Baseline

RETIRE_BELOW = 0.5
REACTIVATE_AT = 0.9


class Change(StrEnum):
    unchanged = "unchanged"
    strengthened = "strengthened"
    weakened = "weakened"
    retired = "retired"
    reactivated = "reactivated"


@dataclass(frozen=True)
class Checked:
    heuristic: Heuristic
    change: Change


def _evidence_text(deployed: int, failures: int, base: Baseline, h: Heuristic) -> str:
    rate = 100 * failures / deployed if deployed else 0.0
    reference = 100 * base.reference(h.recommendation)
    label = "an ordinary" if h.recommendation.value == "GO" else "a base"
    return (
        f"{failures} failures in {deployed} deploys ({rate:.1f}%) against {label} rate "
        f"of {reference:.1f}%"
    )


def recheck(
    h: Heuristic,
    deployed: int,
    failures: int,
    base: Baseline,
    now: datetime,
) -> Checked:
    """``h`` with its evidence recounted (``deployed``, ``failures``) and its status
    decided by the rules of the module docstring. Rejected heuristics come back as they
    are. Never raises for counts from memory (0 <= failures <= deployed)."""
    if h.status is HeuristicStatus.rejected:
        return Checked(h, Change.unchanged)
    update: dict[str, object] = {
        "support": deployed,
        "failures": failures,
        "successes": deployed - failures,
        "last_checked": now,
    }
    if not evidence.judged_by_evidence(h.provenance, deployed):
        update["confidence"] = evidence.stated_confidence(h.confidence, deployed)
        checked = h.model_copy(update=update)
        change = Change.weakened if checked.confidence < h.confidence else Change.unchanged
        return Checked(checked, change)
    confidence = evidence.confidence(h.recommendation, deployed, failures, base)
    update["confidence"] = confidence
    change = Change.unchanged
    if confidence > h.confidence:
        change = Change.strengthened
    elif confidence < h.confidence:
        change = Change.weakened
    stamp = now.date().isoformat()
    if h.status is HeuristicStatus.active and confidence < RETIRE_BELOW:
        update["status"] = HeuristicStatus.retired
        update["reason"] = (
            f"retired {stamp}: {_evidence_text(deployed, failures, base, h)} turned against "
            f"{h.recommendation.value} (confidence {confidence:.3f} < {RETIRE_BELOW})"
        )
        change = Change.retired
    elif h.status is HeuristicStatus.retired and confidence >= REACTIVATE_AT:
        update["status"] = HeuristicStatus.active
        update["reason"] = (
            f"reactivated {stamp}: {_evidence_text(deployed, failures, base, h)} supports "
            f"{h.recommendation.value} again (confidence {confidence:.3f})"
        )
        change = Change.reactivated
    return Checked(h.model_copy(update=update), change)
