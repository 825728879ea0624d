"""The learning curve as a PNG: cumulative cost per policy, and the agent's regret ratio.

Uses matplotlib's Agg canvas directly (no pyplot, no display, no global state), so it
works on a server and inside tests.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..domain.errors import InvalidInput
from .report import cumulative_regret, ordered_names, window_regret
from .runner import SimulationResult

_WINDOWS = 10


def plot(result: SimulationResult, path: str | Path) -> Path:
    """Draw the run's learning curve into the PNG file ``path`` and return its path.

    The top panel shows each policy's cumulative cost over episodes; the bottom one the
    agent's regret ratio: cumulative on realized costs, and per tenth of the run on
    expected costs, which do not swing with the luck of the draws (absent without an agent).
    Raises InvalidInput (field ``plot``) when the file cannot be written.
    """
    target = Path(path)
    figure = Figure(figsize=(9, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    episodes = np.arange(1, result.episodes + 1)
    for name in ordered_names(result.scores):
        top.plot(episodes, result.scores[name].cumulative(), label=name)
    top.set_ylabel("cumulative cost")
    top.set_title(f"world {result.world.name}, seed {result.seed}")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)

    if {"agent", "always_go", "oracle"} <= result.scores.keys():
        # The first releases give a tiny denominator and a meaningless ratio: skip them.
        skip = result.episodes // 20
        bottom.plot(episodes[skip:], cumulative_regret(result)[skip:], label="cumulative")
        edges = np.linspace(0, result.episodes, _WINDOWS + 1).round().astype(int)
        centers, values = [], []
        for start, stop in itertools.pairwise(edges):
            ratio = window_regret(result, int(start), int(stop), expected=True)
            if stop > start and ratio is not None:
                centers.append((start + stop) / 2)
                values.append(ratio)
        label = "per tenth of the run, on expected costs"
        bottom.plot(centers, values, marker="o", linestyle="--", label=label)
        bottom.axhline(0.0, color="grey", linewidth=0.8)
        bottom.legend(loc="best")
    else:
        bottom.text(0.5, 0.5, "no agent in this run", ha="center", va="center")
    bottom.set_ylabel("agent regret ratio")
    bottom.set_xlabel("episodes")
    bottom.grid(alpha=0.3)
    try:
        figure.savefig(target, format="png")
    except OSError as error:
        reason = error.strerror or error
        raise InvalidInput(f"cannot write {target}: {reason}", field="plot") from None
    return target
