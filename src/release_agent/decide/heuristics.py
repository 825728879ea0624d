"""Stage 4: heuristic matching — the active heuristics that apply to this release."""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.conditions import describe, matches
from ..domain.models import Context, Heuristic
from .trace import Note


def applicable(
    context: Context, heuristics: Iterable[Heuristic], threshold: float
) -> list[Heuristic]:
    """Heuristics whose conditions all hold and whose confidence is at least ``threshold``,
    most confident first."""
    attributes = context.attributes()
    found = [h for h in heuristics if h.confidence >= threshold and matches(h.when, attributes)]
    return sorted(found, key=lambda h: (-h.confidence, h.id or 0))


def note(applicable_now: list[Heuristic], threshold: float) -> Note:
    """The stage's trace entry."""
    return Note(
        "heuristics",
        f"{len(applicable_now)} applicable (threshold {threshold})",
        {
            "applicable": [
                {
                    "id": h.id,
                    "when": describe(h.when),
                    "recommendation": h.recommendation.value,
                    "confidence": h.confidence,
                }
                for h in applicable_now
            ]
        },
    )
