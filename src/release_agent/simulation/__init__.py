"""The simulator: a world whose true risks the agent does not know, and the scores.

``simulate(load_world("default"), 2000, policies={...})`` runs the agent and the
baselines (``always_go``, ``static_rules``, ``oracle``) over the same releases and the
same random draws; :func:`build_report` turns the result into the documented report.
``parse_world(generate(seed))`` is a random valid world, for benchmarks on a population.
"""

from __future__ import annotations

from .decisions import MAX_DELAYS, Action, DecisionPoint, Setting, SimPolicy
from .generator import generate
from .report import build_report, halves, regret_ratio, render_text
from .runner import BASELINES, PolicyScore, SimulationResult, simulate
from .world import World, load_world, parse_world, shipped_worlds

__all__ = [
    "BASELINES",
    "MAX_DELAYS",
    "Action",
    "DecisionPoint",
    "PolicyScore",
    "Setting",
    "SimPolicy",
    "SimulationResult",
    "World",
    "build_report",
    "generate",
    "halves",
    "load_world",
    "parse_world",
    "regret_ratio",
    "render_text",
    "shipped_worlds",
    "simulate",
]
