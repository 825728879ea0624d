"""The learning curve as a PNG: cumulative cost per policy, the agent's regret ratio, and
a reliability diagram of the failure risks the agent stated.

Uses matplotlib's Agg canvas directly (no pyplot, no display, no global state), so it
works on a server and inside tests.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..domain.errors import InvalidInput
from .report import cumulative_regret, ordered_names, policy_calibration, window_regret
from .runner import SimulationResult

_WINDOWS = 10
REGRET_LIMITS = (-1.0, 2.0)
"""The regret panel's range: a ratio outside it says only that the denominator is still
tiny, and one such value would flatten the range that matters."""
SETTLING = 0.1
"""Share of the run before the cumulative ratios are drawn: over the first releases
always_go and the oracle differ by a few failures, and their ratio is noise."""


def plot(result: SimulationResult, path: str | Path) -> Path:
    """Draw the run's learning curve into the PNG file ``path`` and return its path.

    Left, top: each policy's cumulative cost over episodes. Left, bottom: the agent's
    regret ratio — cumulative on expected and on realized costs from the first tenth of
    the run on, and per tenth of the run on expected costs — within
    :data:`REGRET_LIMITS` (values beyond are drawn at the edge and said to be clipped).
    Right: the reliability diagram of the agent's stated failure risks by decile, against
    the observed failure rate and the true probability. Panels without an agent say so.
    Raises InvalidInput (field ``plot``) when the file cannot be written.
    """
    target = Path(path)
    figure = draw(result)
    try:
        figure.savefig(target, format="png")
    except OSError as error:
        reason = error.strerror or error
        raise InvalidInput(f"cannot write {target}: {reason}", field="plot") from None
    return target


def draw(result: SimulationResult) -> Figure:
    """The figure :func:`plot` writes: three panels (cost, regret, reliability), told
    apart by their y labels."""
    figure = Figure(figsize=(13, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplot_mosaic(
        [["cost", "reliability"], ["regret", "reliability"]], width_ratios=[2, 1]
    )
    top, bottom = axes["cost"], axes["regret"]
    bottom.sharex(top)
    episodes = np.arange(1, result.episodes + 1)
    for name in ordered_names(result.scores):
        top.plot(episodes, result.scores[name].cumulative(), label=name)
    top.set_ylabel("cumulative cost")
    top.set_title(f"world {result.world.name}, seed {result.seed}")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)

    if {"agent", "always_go", "oracle"} <= result.scores.keys():
        _regret_panel(bottom, result, episodes)
    else:
        bottom.text(0.5, 0.5, "no agent in this run", ha="center", va="center")
    bottom.set_ylabel("agent regret ratio")
    bottom.set_xlabel("episodes")
    bottom.grid(alpha=0.3)
    _reliability_panel(axes["reliability"], result)
    return figure


def _regret_panel(axis: Axes, result: SimulationResult, episodes: np.ndarray) -> None:
    low, high = REGRET_LIMITS
    skip = int(result.episodes * SETTLING)
    clipped = False
    for expected, label in ((True, "cumulative, expected costs"), (False, "cumulative, realized")):
        values = cumulative_regret(result, expected=expected)[skip:]
        clipped |= bool(np.any((values < low) | (values > high)))
        axis.plot(episodes[skip:], np.clip(values, low, high), label=label)
    edges = np.linspace(0, result.episodes, _WINDOWS + 1).round().astype(int)
    centers, ratios = [], []
    for start, stop in itertools.pairwise(edges):
        ratio = window_regret(result, int(start), int(stop), expected=True)
        if stop > start and ratio is not None:
            centers.append((start + stop) / 2)
            ratios.append(ratio)
    shown = np.clip(np.array(ratios, dtype=float), low, high)
    clipped |= bool(np.any(shown != np.array(ratios, dtype=float)))
    label = "per tenth of the run, expected costs"
    axis.plot(centers, shown, marker="o", linestyle="--", label=label)
    axis.axhline(0.0, color="grey", linewidth=0.8)
    axis.set_ylim(low - 0.05, high + 0.05)
    if clipped:
        axis.set_title(f"values beyond {low:g} .. {high:g} drawn at the edge", fontsize=9)
    axis.legend(loc="best")


def _reliability_panel(axis: Axes, result: SimulationResult) -> None:
    axis.set_title("agent's stated failure risk, by decile")
    axis.set_xlabel("stated failure probability")
    axis.set_ylabel("failure rate")
    axis.grid(alpha=0.3)
    score = result.scores.get("agent")
    stated = policy_calibration(score) if score is not None else None
    if stated is None:
        axis.text(0.5, 0.5, "no stated risks in this run", ha="center", va="center")
        return
    x = np.array([b.stated for b in stated.bins])
    observed = np.array([b.observed for b in stated.bins])
    true = np.array([b.true for b in stated.bins])
    top = float(max(x.max(), observed.max(), true.max(), 0.01)) * 1.1
    axis.plot([0, top], [0, top], color="grey", linewidth=0.8, label="calibrated")
    axis.plot(x, observed, marker="o", label=f"observed (Brier {stated.brier:.4f})")
    axis.plot(
        x,
        true,
        marker="s",
        linestyle=":",
        fillstyle="none",
        label=f"true probability (Brier {stated.brier_of_truth:.4f})",
    )
    axis.set_xlim(0, top)
    axis.set_ylim(0, top)
    axis.legend(loc="upper left", fontsize=8)
