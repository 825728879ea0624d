"""Heuristic validation: every candidate, whatever proposed it, passes here before storage.

The seed's rules: recommendation GO / NO_GO / DELAY, confidence in [0, 1], support at
least 1, support under 3 means confidence at most 0.6, and conditions only on known
context attributes with allowed values. On top of them, a candidate's claimed support
is recounted from memory: a claim the data do not show is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..conditions import normalize
from ..errors import InvalidInput
from ..models import Decision, Heuristic, Provenance

LOW_SUPPORT = 3
LOW_SUPPORT_MAX_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Verdict:
    heuristic: Heuristic | None
    rejection: str | None

    @property
    def accepted(self) -> bool:
        return self.heuristic is not None


def check_rules(
    when: Any, recommendation: Any, confidence: Any, support: Any
) -> tuple[dict[str, Any], Decision, float, int]:
    """Apply the seed's rules; raise InvalidInput naming the first broken one."""
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
    return normalize(when), decision, float(confidence), int(support)


def validate(
    when: Any,
    recommendation: Any,
    confidence: Any,
    support: Any,
    provenance: Provenance,
    recount: tuple[int, int] | None = None,
) -> Verdict:
    """Accept or reject a candidate. ``recount`` is (deployed, failures) from memory for
    its conditions; when given, a claimed support above it is rejected and the stored
    heuristic carries the recounted evidence."""
    try:
        norm, decision, conf, claimed = check_rules(when, recommendation, confidence, support)
    except InvalidInput as error:
        return Verdict(None, str(error))
    failures = successes = 0
    if recount is not None:
        deployed, failures = recount
        successes = deployed - failures
        if claimed > deployed:
            return Verdict(
                None, f"claims support {claimed} but memory shows {deployed} matching deploys"
            )
        if deployed < LOW_SUPPORT and conf > LOW_SUPPORT_MAX_CONFIDENCE:
            return Verdict(
                None,
                f"confidence {conf} is above {LOW_SUPPORT_MAX_CONFIDENCE} but memory shows "
                f"only {deployed} matching deploys",
            )
        claimed = deployed
    heuristic = Heuristic(
        when=norm,
        recommendation=decision,
        confidence=conf,
        support=claimed,
        failures=failures,
        successes=successes,
        provenance=provenance,
    )
    return Verdict(heuristic, None)
