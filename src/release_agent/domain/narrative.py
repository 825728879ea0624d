"""Stage 8: memory — the episode's narrative summary, and storing it."""

from __future__ import annotations

from .models import Context, DecisionRecord

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


def deploy_context(record: DecisionRecord, window_context: Context | None) -> Context:
    """The context an outcome of this decision is evidence about."""
    return window_context if window_context is not None else record.context
