"""The simulation report: one JSON object, or the same as text tables.

Shape (``--json``)::

    {"world": str, "episodes": int, "seed": int,
     "policies": {NAME: {"cost", "deploys", "failures", "delays", "delay_hours", "no_gos"}},
     "regret_ratio": float | null,
     "regret": {"expected": {"whole", "first_half", "second_half"},
                "realized": {"whole", "first_half", "second_half"},
                "after_change": null | {"at", "releases", "expected", "realized"}},
     "calibration": {NAME: {"deploys", "brier", "brier_of_truth",
                            "deciles": [{"stated", "observed", "true", "deploys"}, ...]}},
     "learning_curve": [{"episodes", "agent_cost", "always_go_cost", "static_rules_cost",
                         "oracle_cost"}, ...]}

``regret_ratio = (agent − oracle) / (always_go − oracle)`` over the whole run, on realized
costs: 0 is as good as the oracle, 1 no better than deploying everything at once. It is
null when the agent did not run or when always_go is already optimal. ``regret`` gives the
same ratio over each half of the run, on *expected* costs (each deploy charged its true
expected failure cost: the decisions without the luck of the draws) and on realized
costs; every value is null without an agent. ``after_change`` is the regret over the
releases that arrived at or after the world's first change (a factor's ``from`` or
``until``), null for a world that does not change. ``calibration`` holds, for each policy
that states a failure probability for its deploys (the agent; the oracle, which states the
truth), the Brier score and the reliability table by decile
(:mod:`release_agent.simulation.calibration`). Learning-curve costs are cumulative.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .calibration import Calibration, calibration
from .runner import PolicyScore, SimulationResult

POLICY_ORDER = ("agent", "always_go", "static_rules", "oracle")
CURVE_POINTS = 20


def ordered_names(scores: dict[str, PolicyScore]) -> list[str]:
    """The policies of a run: the four known ones first, in :data:`POLICY_ORDER`."""
    known = [name for name in POLICY_ORDER if name in scores]
    return known + sorted(name for name in scores if name not in POLICY_ORDER)


def regret_ratio(agent: float, always_go: float, oracle: float) -> float | None:
    """``(agent − oracle) / (always_go − oracle)``; None when always_go is optimal."""
    spread = always_go - oracle
    if spread <= 1e-9:
        return None
    return (agent - oracle) / spread


def window_regret(
    result: SimulationResult, start: int, stop: int, *, expected: bool = False
) -> float | None:
    """The regret ratio over releases ``start .. stop-1`` alone (None without an agent).

    With ``expected``, deploys are charged their true expected failure cost rather than
    the draw (:attr:`PolicyScore.expected`): less noisy over short windows.
    """
    scores = result.scores
    if not {"agent", "always_go", "oracle"} <= scores.keys() or stop <= start:
        return None
    agent, always_go, oracle = (
        float((scores[name].expected if expected else scores[name].costs)[start:stop].sum())
        for name in ("agent", "always_go", "oracle")
    )
    return regret_ratio(agent, always_go, oracle)


def halves(
    result: SimulationResult, *, expected: bool = False
) -> tuple[float | None, float | None]:
    """Regret ratio over the first and over the second half of the releases."""
    middle = result.episodes // 2
    return (
        window_regret(result, 0, middle, expected=expected),
        window_regret(result, middle, result.episodes, expected=expected),
    )


def change_index(result: SimulationResult) -> int | None:
    """The index of the first release that arrived at or after the world's first change
    (None when the world does not change within the run's releases)."""
    world = result.world
    if len(world.era_starts) < 2 or not result.releases:
        return None
    first = int(world.era_starts[1])
    slots = np.array([release.slot for release in result.releases])
    index = int(np.searchsorted(slots, first, side="left"))
    return index if index < len(slots) else None


def policy_calibration(score: PolicyScore) -> Calibration | None:
    """How well the failure probabilities ``score``'s policy stated match its deploys."""
    return calibration(score.stated_risk, score.failed, score.true_risk)


def regret_summary(result: SimulationResult) -> dict[str, Any]:
    """The report's ``regret`` object (see the module docstring)."""
    summary: dict[str, Any] = {}
    for kind, expected in (("expected", True), ("realized", False)):
        first, second = halves(result, expected=expected)
        whole = window_regret(result, 0, result.episodes, expected=expected)
        summary[kind] = {
            "whole": _round(whole),
            "first_half": _round(first),
            "second_half": _round(second),
        }
    after = change_index(result)
    summary["after_change"] = None
    if after is not None:
        summary["after_change"] = {
            "at": result.world.changes[0].isoformat(),
            "releases": result.episodes - after,
            "expected": _round(window_regret(result, after, result.episodes, expected=True)),
            "realized": _round(window_regret(result, after, result.episodes)),
        }
    return summary


def checkpoints(episodes: int, points: int = CURVE_POINTS) -> list[int]:
    """Episode counts at which the learning curve is read: evenly spaced, ending at
    ``episodes`` and including the half-way point."""
    marks = {max(1, round(k * episodes / points)) for k in range(1, points + 1)}
    marks.add(max(1, episodes // 2))
    return sorted(marks)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def build_report(result: SimulationResult) -> dict[str, Any]:
    """The report of a run as plain JSON-ready data (see the module docstring)."""
    names = ordered_names(result.scores)
    scores = result.scores
    policies = {
        name: {
            "cost": _round(scores[name].cost),
            "deploys": scores[name].deploys,
            "failures": scores[name].failures,
            "delays": scores[name].delays,
            "delay_hours": scores[name].delay_hours,
            "no_gos": scores[name].no_gos,
        }
        for name in names
    }
    ratio = None
    if {"agent", "always_go", "oracle"} <= scores.keys():
        ratio = regret_ratio(scores["agent"].cost, scores["always_go"].cost, scores["oracle"].cost)
    cumulative = {name: scores[name].cumulative() for name in names}
    curve = []
    for mark in checkpoints(result.episodes):
        point: dict[str, Any] = {"episodes": mark}
        for name in names:
            point[f"{name}_cost"] = _round(cumulative[name][mark - 1])
        curve.append(point)
    calibrations = {name: policy_calibration(scores[name]) for name in names}
    return {
        "world": result.world.name,
        "episodes": result.episodes,
        "seed": result.seed,
        "policies": policies,
        "regret_ratio": _round(ratio),
        "regret": regret_summary(result),
        "calibration": {name: c.to_dict() for name, c in calibrations.items() if c is not None},
        "learning_curve": curve,
    }


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def render_text(report: dict[str, Any], result: SimulationResult | None = None) -> str:
    """The report as aligned text tables. It leads with the regret on expected costs,
    per half, then the realized regret and why it is noisier. ``result`` is accepted for
    callers of the earlier signature; everything shown is in ``report``."""
    lines = [
        f"World {report['world']}, seed {report['seed']}, {report['episodes']} episodes",
        "",
    ]
    header = ("policy", "cost", "deploys", "failures", "delays", "delay_hours", "no_gos")
    rows: list[tuple[str, ...]] = [header]
    for name, row in report["policies"].items():
        rows.append(
            (
                name,
                f"{row['cost']:.2f}",
                *(str(row[key]) for key in header[2:]),
            )
        )
    lines += _table(rows)
    lines.append("")
    lines += _regret_lines(report)
    lines += _calibration_lines(report)
    curve = report["learning_curve"]
    if curve:
        lines += ["", "cumulative cost by episode:"]
        names = [key.removesuffix("_cost") for key in curve[0] if key != "episodes"]
        shown = curve[1::2] if len(curve) > 10 else curve
        rows = [("episodes", *names)]
        rows += [(str(p["episodes"]), *(f"{p[f'{n}_cost']:.1f}" for n in names)) for p in shown]
        lines += _table(rows)
    return "\n".join(lines)


def _per_half(values: dict[str, float | None]) -> str:
    return (
        f"{_fmt(values['whole'])} (first half {_fmt(values['first_half'])}, "
        f"second half {_fmt(values['second_half'])})"
    )


def _regret_lines(report: dict[str, Any]) -> list[str]:
    regret = report.get("regret")
    if regret is None or "agent" not in report["policies"]:
        return [f"regret ratio: {_fmt(report['regret_ratio'])}"]
    lines = [
        "regret ratio on expected costs, without the luck of the draws: "
        + _per_half(regret["expected"]),
        "on realized costs: " + _per_half(regret["realized"]),
        "  (realized costs carry the luck of each failure draw, which moves a half's ratio "
        "more than learning does: judge by expected costs)",
    ]
    after = regret.get("after_change")
    if after is not None:
        lines.append(
            f"after the world changed at {after['at']} ({after['releases']} releases): "
            f"{_fmt(after['expected'])} on expected costs, {_fmt(after['realized'])} realized"
        )
    return lines


def _calibration_lines(report: dict[str, Any]) -> list[str]:
    stated = report.get("calibration", {}).get("agent")
    if stated is None:
        return []
    lines = [
        "",
        f"calibration of the agent's stated failure risk over {stated['deploys']} deploys: "
        f"Brier score {stated['brier']:.4f} (the true probabilities score "
        f"{stated['brier_of_truth']:.4f})",
    ]
    rows = [("decile", "stated", "observed", "true", "deploys")]
    for k, b in enumerate(stated["deciles"], start=1):
        rows.append(
            (
                str(k),
                f"{b['stated']:.3f}",
                f"{b['observed']:.3f}",
                f"{b['true']:.3f}",
                str(b["deploys"]),
            )
        )
    return lines + _table(rows)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        rest = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in rest]
        out.append("  ".join(cells).rstrip())
    return out


def cumulative_regret(result: SimulationResult, *, expected: bool = False) -> np.ndarray:
    """The regret ratio of releases ``0..k`` for each ``k`` (NaN where undefined), on
    realized costs or, with ``expected``, on expected costs."""
    scores = result.scores
    agent, always_go, oracle = (
        np.cumsum(scores[name].expected) if expected else scores[name].cumulative()
        for name in ("agent", "always_go", "oracle")
    )
    spread = always_go - oracle
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 1e-9, (agent - oracle) / spread, np.nan)
