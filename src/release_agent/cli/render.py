"""Human-readable forms of records, for a terminal.

Stored text (notes, outcomes, reasons, an LLM's words, a memory file's contents) is
untrusted: it goes through :func:`visible` before it is printed, so that no record can
move the cursor, retitle or clear a terminal, or reorder what is shown.
"""

from __future__ import annotations

import shutil
import textwrap
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from ..domain.conditions import describe
from ..domain.episodes import Episode
from ..domain.models import Decision, DecisionRecord, Heuristic

COLOURS = {Decision.GO: "green", Decision.DELAY: "yellow", Decision.NO_GO: "red"}
WIDTH = 96

# Categories a terminal acts on or that cannot be shown: controls (C0, DEL, C1, which
# hold ESC and CSI), line and paragraph separators, and surrogates.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
# Bidirectional controls reorder the text around them ("Trojan Source"): show them too.
_BIDI_CONTROLS = frozenset(
    chr(code) for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
)


def _escape(char: str) -> str:
    if char in _BIDI_CONTROLS or unicodedata.category(char) in _HIDDEN_CATEGORIES:
        code = ord(char)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return char


def visible(text: str) -> str:
    """``text`` with every control, separator, surrogate and bidirectional control
    character written as a visible escape (ESC becomes ``\\x1b``); other text unchanged."""
    return "".join(_escape(char) for char in text)


def plural(count: float, singular: str, plural_form: str | None = None) -> str:
    """``1 outcome``, ``0 outcomes``, ``2.5 releases``: the count with the right noun."""
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {singular if count == 1 else plural_form or singular + 's'}"


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(
        visible(" ".join(text.split())), WIDTH, initial_indent=indent, subsequent_indent=indent
    )


def when(moment: datetime | None) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M %z") if moment else "-"


def _ledger_lines(record: DecisionRecord) -> list[str]:
    """A human override, shadow mode and a superseding decision, when the record has
    them (the reason below is the agent's)."""
    lines = []
    o = record.override
    if o is not None:
        glass = " (break-glass: opens a freeze)" if o.break_glass else ""
        lines.append(
            _wrap(
                f"overridden: agent said {o.agent_decision.value}, {o.by} decided "
                f"{o.decision.value} at {when(o.at)}{glass}: {o.reason}"
            )
        )
    if record.shadow:
        lines.append("shadow: advice only, blocks nothing")
    if record.superseded_by:
        lines.append(visible(f"superseded by {record.superseded_by}"))
    return lines


def decision_record(record: DecisionRecord, trace: bool = False) -> str:
    lines = []
    head = click.style(
        f" {record.decision.value} ", bold=True, reverse=True, fg=COLOURS[record.decision]
    )
    until = f" until {when(record.next_window)}" if record.next_window else ""
    lines.append(f"{head}{until}   confidence {record.confidence:.2f}")
    req = record.request
    lines.append(
        visible(
            f"release {record.release_id}: {req.service} -> {req.env}, {req.feature_risk.value} "
            f"risk, {req.service_criticality.value} criticality, at {when(req.at)}"
            + (f", clashes {', '.join(req.clashes)}" if req.clashes else "")
        )
    )
    lines.extend(_ledger_lines(record))
    lines.append("reason:")
    lines.append(_wrap(record.reason))
    if record.guardrails:
        lines.append("guardrails:")
        lines.extend(_wrap(g) for g in record.guardrails)
    if record.warnings:
        lines.append(click.style("warnings:", fg="yellow"))
        lines.extend(_wrap(w) for w in record.warnings)
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
        notes = record.outcome.notes
        lines.append(
            f"outcome: {record.outcome.result.value}"
            + (f" ({visible(' '.join(notes.split()))})" if notes else "")
        )
    if trace:
        lines.append("trace:")
        lines.extend(_wrap(f"[{t.state}] {t.stage}: {t.summary}") for t in record.trace)
        lines.append(visible("states: " + " -> ".join(s.split(":")[0] for s in record.states)))
    return "\n".join(lines)


def heuristic_line(h: Heuristic) -> str:
    """One heuristic: its status, condition and recommendation, its confidence as every
    view shows it (:func:`~release_agent.stats.evidence.confidence_text`), where it came
    from, and its reason on the next line."""
    from ..stats.evidence import confidence_text

    checked = f", checked {h.last_checked:%Y-%m-%d %H:%M}" if h.last_checked else ""
    reason = f"\n{_wrap(h.reason, '      ')}" if h.reason else ""
    return (
        visible(
            f"#{h.id:<4} {h.status.value:<8} {describe(h.when)} -> {h.recommendation.value}: "
            f"confidence {confidence_text(h)}; {h.provenance.value}{checked}"
        )
        + reason
    )


EPISODE_COLUMNS = ("RELEASE", "PLANNED (UTC)", "SERVICE", "DECISION", "OUTCOME")
MAX_SERVICE = 20
MIN_WHY = 12
"""Narrower than this, the last column (the reason) is left out."""


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _planned(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


def episodes_table(episodes: Sequence[Episode], width: int | None = None) -> str:
    """One line per episode, newest first, fitted to ``width`` (default: the terminal's).

    Columns: release id (whole, since commands take it), the planned deploy time in UTC,
    service, decision, outcome, and as much of the reason as fits.
    """
    width = width or shutil.get_terminal_size((WIDTH, 24)).columns
    rows: list[list[Any]] = [
        [
            visible(e.release_id),
            _planned(e.deploy_at),
            _cell(visible(str(e.attributes.get("service") or "-")), MAX_SERVICE),
            e.decision.value,
            visible(e.result or "-"),
            visible(" ".join((e.reason or e.story).split())),
        ]
        for e in episodes
    ]
    widths = [
        max(len(title), *(len(row[i]) for row in rows)) for i, title in enumerate(EPISODE_COLUMNS)
    ]
    fixed = sum(widths) + 2 * len(widths)
    why = width - fixed
    lines = []
    for row in [[*EPISODE_COLUMNS, "WHY"], *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        if why >= MIN_WHY:
            cells.append(_cell(row[-1], why))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
