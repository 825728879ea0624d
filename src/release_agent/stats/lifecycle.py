"""The lifecycle of a stored heuristic as outcomes arrive: re-check, strengthen, weaken,
retire, reactivate.

In the manner of ExpeL's insight votes, every recorded outcome is a vote: a failure
among the deploys a DELAY / NO_GO heuristic covers votes for it and a success against
it (the other way round for GO). The votes become its confidence by the one formula of
:mod:`.evidence`, so a heuristic is

- **re-checked** at every learning run: its support, failures and successes are
  recounted from memory, its confidence recomputed from them, ``last_checked`` set, and
  its ``reason`` says what the counts were compared with (so the number can be checked);
- **strengthened** or **weakened** as that confidence rises or falls;
- **retired** when the evidence is against it (:func:`.evidence.against`: a GO's deploys
  fail more often than the ordinary rate, a DELAY's or NO_GO's no more often than the
  base rate) *and* its confidence is under ``RETIRE_BELOW`` (0.5): the claim is more
  likely false than true. A GO that has never failed is never retired. (A heuristic
  under the policy's ``heuristic_threshold`` that is not retired stays active but does
  not apply to decisions.)
- **reactivated** when its confidence reaches ``REACTIVATE_AT`` (0.9; well above the
  retirement bar, so that a heuristic at the edge does not flap between the two states).

Retirement and reactivation wait until ``EVIDENCE_FROM[provenance]`` deploys match; a
person's heuristic keeps its stated confidence until then (see :mod:`.evidence`).
Rejected candidates are not re-checked: they stay as the record of why they were refused.
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


def _retired_on(reason: str | None) -> str:
    """The day a reason beginning "retired 2026-12-02: ..." names, after a space; else
    the empty string."""
    if reason and reason.startswith("retired ") and reason[18:19] in (":", ";"):
        day = reason[8:18]
        if day[4:5] == day[7:8] == "-" and day.replace("-", "").isdigit():
            return f" {day}"
    return ""


def recheck(
    h: Heuristic,
    deployed: int,
    failures: int,
    base: Baseline,
    now: datetime,
) -> Checked:
    """``h`` with its evidence recounted (``deployed``, ``failures``) and its confidence and
    status decided by the rules of the module docstring. Rejected heuristics come back as
    they are. Never raises for counts from memory (0 <= failures <= deployed)."""
    if h.status is HeuristicStatus.rejected:
        return Checked(h, Change.unchanged)
    update: dict[str, object] = {
        "support": deployed,
        "failures": failures,
        "successes": deployed - failures,
        "last_checked": now,
    }
    if evidence.stated(h.provenance, deployed):
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
    said = evidence.evidence_text(h.recommendation, deployed, failures, base)
    decision = h.recommendation.value
    judged = evidence.judged_by_evidence(h.provenance, deployed)
    if (
        judged
        and h.status is HeuristicStatus.active
        and confidence < RETIRE_BELOW
        and evidence.against(h.recommendation, deployed, failures, base)
    ):
        update["status"] = HeuristicStatus.retired
        update["reason"] = (
            f"retired {stamp}: {said}, against {decision}; "
            f"confidence {confidence:.2f} < {RETIRE_BELOW}"
        )
        change = Change.retired
    elif judged and h.status is HeuristicStatus.retired and confidence >= REACTIVATE_AT:
        update["status"] = HeuristicStatus.active
        update["reason"] = (
            f"reactivated {stamp}: {said}, for {decision} again; "
            f"confidence {confidence:.2f} >= {REACTIVATE_AT}"
        )
        change = Change.reactivated
    elif h.status is HeuristicStatus.retired:
        since = _retired_on(h.reason)
        update["reason"] = f"retired{since}; checked {stamp}: {said}; confidence {confidence:.2f}"
    else:
        update["reason"] = f"checked {stamp}: {said}; confidence {confidence:.2f}"
    return Checked(h.model_copy(update=update), change)
