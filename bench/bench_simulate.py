"""Benchmark: the simulator's targets on every shipped world, through the full pipeline.

    PYTHONPATH=src python bench/bench_simulate.py [--episodes 2000] [--world NAME ...]

For each world: the cost of each policy, the regret ratio over the run and over each half
(also on expected costs, which removes the luck of the failure draws), and the wall time.
The issue's targets on the default world (2,000 episodes, built-in reasoner): regret ratio
at most 0.3, lower in the second half than in the first (judged on expected costs: the
luck of the draws moves a half's realized regret more than learning does), agent cheaper
than always_go and static_rules, under 60 seconds. Prints a Markdown table for
BENCHMARKS.md at the end; exits 1 when a target of the default world is missed.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass

from release_agent.simulation import build_report, halves, load_world, shipped_worlds, simulate
from release_agent.simulation.agent_policy import agent_factory
from release_agent.simulation.report import window_regret
from release_agent.simulation.runner import BASELINES

TARGET_REGRET = 0.3
TARGET_SECONDS = 60.0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@dataclass(frozen=True)
class Row:
    world: str
    seconds: float
    regret: float | None
    first: float | None
    second: float | None
    expected_first: float | None
    expected_second: float | None
    costs: dict[str, float]


def run(world_name: str, episodes: int) -> Row:
    world = load_world(world_name)
    started = time.perf_counter()
    result = simulate(world, episodes, policies={"agent": agent_factory(), **BASELINES})
    seconds = time.perf_counter() - started
    report = build_report(result)
    first, second = halves(result)
    print(f"\n== {world_name}: {episodes} episodes, seed {report['seed']}, {seconds:.1f} s")
    for name, row in report["policies"].items():
        print(
            f"  {name:<13} cost {row['cost']:>9.2f}  deploys {row['deploys']:>5}  "
            f"failures {row['failures']:>4}  delays {row['delays']:>4}  "
            f"delay_hours {row['delay_hours']:>6}  no_gos {row['no_gos']:>4}"
        )
    print(
        f"  regret ratio {_fmt(report['regret_ratio'])} "
        f"(first half {_fmt(first)}, second half {_fmt(second)})"
    )
    e_first, e_second = halves(result, expected=True)
    e_whole = window_regret(result, 0, episodes, expected=True)
    print(
        f"  on expected costs {_fmt(e_whole)} "
        f"(first half {_fmt(e_first)}, second half {_fmt(e_second)})"
    )
    stated = report["calibration"].get("agent")
    if stated is not None:
        print(
            f"  stated risk: Brier {stated['brier']:.4f} over {stated['deploys']} deploys "
            f"(the true probabilities: {stated['brier_of_truth']:.4f})"
        )
    costs = {name: row["cost"] for name, row in report["policies"].items()}
    return Row(world_name, seconds, report["regret_ratio"], first, second, e_first, e_second, costs)


def missed_targets(row: Row) -> list[str]:
    """The issue's targets that a 2,000-episode run of the default world misses."""
    missed = []
    if row.regret is None or row.regret > TARGET_REGRET:
        missed.append(f"regret ratio {_fmt(row.regret)} > {TARGET_REGRET}")
    # Learning is judged on expected costs: over 1,000 releases the luck of the failure
    # draws moves a half's realized regret by about 0.3, more than learning does.
    first, second = row.expected_first, row.expected_second
    if first is None or second is None or second >= first:
        missed.append("the second half is not better than the first, on expected costs")
    if not row.costs["agent"] < min(row.costs["always_go"], row.costs["static_rules"]):
        missed.append("the agent does not beat both always_go and static_rules")
    if row.seconds > TARGET_SECONDS:
        missed.append(f"{row.seconds:.1f} s > {TARGET_SECONDS:.0f} s")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--world", action="append", help="a world to run (default: all shipped)")
    args = parser.parse_args()
    worlds = args.world or shipped_worlds()
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    rows = [run(name, args.episodes) for name in worlds]

    print(
        "\n| world | agent | always_go | static_rules | oracle | regret | 1st half "
        "| 2nd half | expected 1st → 2nd | wall s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        c = r.costs
        print(
            f"| {r.world} | {c['agent']:.1f} | {c['always_go']:.1f} | {c['static_rules']:.1f} "
            f"| {c['oracle']:.1f} | {_fmt(r.regret)} | {_fmt(r.first)} | {_fmt(r.second)} "
            f"| {_fmt(r.expected_first)} → {_fmt(r.expected_second)} | {r.seconds:.1f} |"
        )
    default = next((r for r in rows if r.world == "default"), None)
    if default is None or args.episodes != 2000:
        return 0
    missed = missed_targets(default)
    for line in missed:
        print(f"target missed on default: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
