"""The simulation report: one JSON object, or the same as text tables.

Shape (``--json``)::

    {"world": str, "episodes": int, "seed": int,
     "policies": {NAME: {"cost", "deploys", "failures", "delays", "delay_hours", "no_gos"}},
     "regret_ratio": float | null,
     "learning_curve": [{"episodes", "agent_cost", "always_go_cost", "static_rules_cost",
                         "oracle_cost"}, ...]}

``regret_ratio = (agent − oracle) / (always_go − oracle)`` over the whole run: 0 is as good
as the oracle, 1 no better than deploying everything at once. It is null when the agent
did not run or when always_go is already optimal. Learning-curve costs are cumulative.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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
    return {
        "world": result.world.name,
        "episodes": result.episodes,
        "seed": result.seed,
        "policies": policies,
        "regret_ratio": _round(ratio),
        "learning_curve": curve,
    }


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def render_text(report: dict[str, Any], result: SimulationResult | None = None) -> str:
    """The report as aligned text tables (with the regret of each half when ``result``
    is given)."""
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
    regret = f"regret ratio: {_fmt(report['regret_ratio'])}"
    if result is not None and "agent" in result.scores:
        first, second = halves(result)
        regret += f" (first half {_fmt(first)}, second half {_fmt(second)})"
        lines.append(regret)
        whole = window_regret(result, 0, result.episodes, expected=True)
        first, second = halves(result, expected=True)
        regret = (
            f"on expected costs, without the luck of the draws: {_fmt(whole)} "
            f"(first half {_fmt(first)}, second half {_fmt(second)})"
        )
    lines.append(regret)
    curve = report["learning_curve"]
    if curve:
        lines += ["", "cumulative cost by episode:"]
        names = [key.removesuffix("_cost") for key in curve[0] if key != "episodes"]
        shown = curve[1::2] if len(curve) > 10 else curve
        rows = [("episodes", *names)]
        rows += [(str(p["episodes"]), *(f"{p[f'{n}_cost']:.1f}" for n in names)) for p in shown]
        lines += _table(rows)
    return "\n".join(lines)


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        rest = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in rest]
        out.append("  ".join(cells).rstrip())
    return out


def cumulative_regret(result: SimulationResult) -> np.ndarray:
    """The regret ratio of releases ``0..k`` for each ``k`` (NaN where undefined)."""
    scores = result.scores
    agent, always_go, oracle = (
        scores[name].cumulative() for name in ("agent", "always_go", "oracle")
    )
    spread = always_go - oracle
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 1e-9, (agent - oracle) / spread, np.nan)
