"""Human-readable forms of records, for a terminal."""

from __future__ import annotations

import textwrap
from datetime import datetime

import click

from ..domain.conditions import describe
from ..domain.models import Decision, DecisionRecord, Heuristic

COLOURS = {Decision.GO: "green", Decision.DELAY: "yellow", Decision.NO_GO: "red"}
WIDTH = 96


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(
        " ".join(text.split()), WIDTH, initial_indent=indent, subsequent_indent=indent
    )


def when(moment: datetime | None) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M %z") if moment else "-"


def decision_record(record: DecisionRecord, trace: bool = False) -> str:
    lines = []
    head = click.style(
        f" {record.decision.value} ", bold=True, reverse=True, fg=COLOURS[record.decision]
    )
    until = f" until {when(record.next_window)}" if record.next_window else ""
    lines.append(f"{head}{until}   confidence {record.confidence:.2f}")
    req = record.request
    lines.append(
        f"release {record.release_id}: {req.service} -> {req.env}, {req.feature_risk.value} "
        f"risk, {req.service_criticality.value} criticality, at {when(req.at)}"
        + (f", clashes {', '.join(req.clashes)}" if req.clashes else "")
    )
    lines.append("reason:")
    lines.append(_wrap(record.reason))
    if record.guardrails:
        lines.append("guardrails:")
        lines.extend(_wrap(g) for g in record.guardrails)
    lines.append(
        "heuristics applied:" if record.heuristics_applied else "heuristics: none applicable"
    )
    for h in record.heuristics_applied:
        status = "followed" if h.followed else f"not followed: {h.why_not}"
        lines.append(
            _wrap(
                f"#{h.id} {describe(h.when)} -> {h.recommendation.value} "
                f"({h.confidence:.2f}), {status}"
            )
        )
    if record.red_team is not None:
        rt = record.red_team
        lines.append(f"red team: {rt.risk_level.value} risk, suggests {rt.suggested_action.value}")
        lines.extend(_wrap(f"- {c}") for c in rt.concerns)
    if record.reflection is not None:
        state = "confirmed" if record.reflection.confirmed else "NOT confirmed"
        lines.append(f"reflection: {state}")
        lines.append(_wrap(record.reflection.reason))
    else:
        lines.append("reflection: no production GO to confirm")
    calls = ", ".join(
        f"{c.task}={c.reasoner}"
        + (f"/{c.model}" if c.model else "")
        + f" {c.latency_ms:.0f}ms"
        + (f" {c.input_tokens}+{c.output_tokens} tokens" if c.input_tokens is not None else "")
        + ("" if c.ok else f" FAILED ({c.error})")
        + (f" -> {c.fallback}" if c.fallback else "")
        for c in record.reasoner_calls
    )
    lines.append(_wrap(f"reasoners: {calls}", ""))
    if record.outcome is not None:
        lines.append(
            f"outcome: {record.outcome.result.value}"
            + (f" ({record.outcome.notes})" if record.outcome.notes else "")
        )
    if trace:
        lines.append("trace:")
        lines.extend(_wrap(f"[{t.state}] {t.stage}: {t.summary}") for t in record.trace)
        lines.append("states: " + " -> ".join(s.split(":")[0] for s in record.states))
    return "\n".join(lines)


def heuristic_line(h: Heuristic) -> str:
    evidence = f"support {h.support}, failures {h.failures}, successes {h.successes}"
    checked = f", checked {h.last_checked:%Y-%m-%d %H:%M}" if h.last_checked else ""
    reason = f"\n{_wrap(h.reason, '      ')}" if h.reason else ""
    return (
        f"#{h.id:<4} {h.status.value:<8} {describe(h.when)} -> {h.recommendation.value} "
        f"(confidence {h.confidence:.3f}; {evidence}; {h.provenance.value}{checked}){reason}"
    )
