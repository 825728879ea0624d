"""Episodes: one decision each, with its context, outcome and story, as every layer above
the store reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import Decision, DecisionRecord

MAX_REASON = 240


def _short(text: str, limit: int = MAX_REASON) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize(record: DecisionRecord, planner_decision: str, planner_reason: str) -> str:
    """A short narrative: context, planner decision and reason, red-team concerns and the
    final decision. The outcome is added when one is recorded (see :func:`narrative`)."""
    c = record.context
    when = c.at.strftime("%a %Y-%m-%d %H:%M %z")
    clash = f", clashing with {', '.join(c.clashes)}" if c.clash else ""
    parts = [
        f"{c.feature_risk.value} risk release of {c.service} ({c.service_criticality.value} "
        f"criticality) to {c.env} for {when}{clash}.",
        f"Planner: {planner_decision} — {_short(planner_reason)}",
    ]
    if record.red_team is not None:
        concerns = "; ".join(record.red_team.concerns[:3]) or "no concerns"
        parts.append(
            f"Red team: {record.red_team.risk_level.value} risk, suggests "
            f"{record.red_team.suggested_action.value} ({_short(concerns, 160)})."
        )
    window = f" until {record.next_window.isoformat()}" if record.next_window else ""
    parts.append(f"Final: {record.decision.value}{window}.")
    return " ".join(parts)


def narrative(
    summary: str, result: str | None, notes: str | None = None, decision: str | None = None
) -> str:
    """The summary with the reported outcome: pending for a deploy not yet reported,
    not deployed for a NO_GO without one."""
    if result is None:
        status = "not deployed" if decision == "NO_GO" else "pending"
        return f"{summary} Outcome: {status}."
    extra = f" ({_short(notes, 120)})" if notes else ""
    return f"{summary} Outcome: {result}{extra}."


@dataclass(frozen=True)
class EpisodeSummary:
    """A past episode as a reasoner is shown it: attributes, decision, outcome, story."""

    release_id: str
    attributes: dict[str, Any]
    decision: Decision
    result: str | None
    summary: str
    deploy_at: datetime | None = None
    """When it went out (None for one never deployed, or imported without a time)."""


@dataclass(frozen=True)
class Episode:
    """One stored decision (the agent's, or an imported one) with its outcome."""

    release_id: str
    source: str
    """``agent`` for the agent's own decisions, ``imported`` for episodes from a file."""
    attributes: dict[str, Any]
    """The context at the moment it would deploy (the window, for a DELAY)."""
    decision: Decision
    result: str | None
    outcome_notes: str | None
    created_at: datetime
    deploy_at: datetime | None
    reason: str | None
    summary: str
    """The narrative written at decision time (empty for most imported episodes)."""

    @property
    def story(self) -> str:
        """The narrative with the outcome as it stands now."""
        summary = self.summary
        if not summary:
            context = ", ".join(f"{k}={v}" for k, v in self.attributes.items())
            summary = f"Imported episode ({context}). Decision: {self.decision.value}."
        return narrative(summary, self.result, self.outcome_notes, self.decision.value)

    def summarized(self) -> EpisodeSummary:
        return EpisodeSummary(
            release_id=self.release_id,
            attributes=dict(self.attributes),
            decision=self.decision,
            result=self.result,
            summary=self.story,
            deploy_at=self.deploy_at,
        )

    def to_json(self) -> dict[str, Any]:
        """The episode in the seed's memory shape, with our extra fields."""
        return {
            "release_id": self.release_id,
            "source": self.source,
            "context": dict(self.attributes),
            "decision": self.decision.value,
            "outcome": self.result,
            "outcome_notes": self.outcome_notes,
            "timestamp": _iso(self.created_at),
            "deploy_at": _iso(self.deploy_at),
            "reason": self.reason,
            "summary": self.story,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds")
