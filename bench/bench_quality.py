"""Benchmark: the agent's decision quality on a population of worlds no one tuned it for.

    PYTHONPATH=src python bench/bench_quality.py [--worlds 20] [--seeds 4100-4119]
        [--episodes 2000] [--sim-seeds 2] [--default-seeds 5] [--jobs 2] [--markdown FILE]

Runs the agent (built-in reasoner, full pipeline) and the baselines on:

- ``--worlds`` generated worlds (:mod:`release_agent.simulation.generator`), from fresh
  generator seeds each time unless ``--seeds`` names them (``4100-4119`` or ``3,17,40``);
  the seeds are printed so that a run can be repeated;
- every shipped world (``--shipped NAME`` to choose some, ``--no-shipped`` for none);

each at ``--sim-seeds`` simulation seeds (the world's own seed and the next ones), plus the
default world at ``--default-seeds`` seeds on its own. Runs go in parallel over ``--jobs``
processes, with progress on stderr. It prints, and with ``--markdown`` writes:

- the regret ratio ``(agent − oracle) / (always_go − oracle)`` over the population, on
  expected costs (each deploy charged its true expected failure cost: the decisions
  without the luck of the draws) and on realized costs: mean, 90th percentile, worst;
- how many runs cost more than always_go, and than static_rules;
- the runs where always_go is optimal — defined as: the oracle holds back at most 1% of
  the releases (its DELAYs waited out plus its NO_GOs number at most ``episodes / 100``),
  so the regret ratio's denominator is near zero and says nothing — scored instead as
  agent cost / always_go cost on expected costs (1.0 is as good);
- for worlds that change (a factor's ``from`` / ``until``), the regret over the releases
  that arrived after the first change;
- the calibration of the agent's stated failure risk: Brier score, and its excess over
  the Brier score of the true probabilities on the same deploys;
- the default world at each of its seeds;
- one row per run.

It sets no target and exits 0 unless a run fails: it measures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import secrets
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One BLAS thread per process, set before numpy loads: the runs are already spread over
# --jobs processes, and OpenBLAS threads competing for the same cores made each small
# solve of the risk model's fit about 100 times slower on a busy 2-core machine (0.11 s
# instead of 1 ms for a 189 x 189 system), which dominated the wall time of a run.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from release_agent.domain.policy import load_policy
from release_agent.simulation import build_report, load_world, parse_world, shipped_worlds
from release_agent.simulation import simulate as run_simulation
from release_agent.simulation.agent_policy import agent_factory
from release_agent.simulation.generator import generate
from release_agent.simulation.report import regret_ratio
from release_agent.simulation.runner import BASELINES

HOLD_SHARE = 0.01
"""always_go is optimal on a run when the oracle holds back at most this share of it."""


@dataclass(frozen=True)
class Job:
    kind: str
    """``generated`` or ``shipped``."""
    spec: str
    """The generator seed or the shipped world's name."""
    seed: int
    """The simulation seed."""
    episodes: int
    population: bool
    """Counted in the population figures (the default world's extra seeds are not)."""
    policy: str | None = None
    """A policy file for the agent (its costs are replaced by the world's)."""


@dataclass(frozen=True)
class Run:
    job: Job
    world: str
    seconds: float
    realized: dict[str, float]
    expected: dict[str, float]
    oracle_holds: int
    regret_expected: float | None
    regret_realized: float | None
    halves_expected: tuple[float | None, float | None]
    after_change: dict[str, Any] | None
    brier: float | None
    brier_of_truth: float | None

    @property
    def always_go_optimal(self) -> bool:
        return self.oracle_holds <= HOLD_SHARE * self.job.episodes

    @property
    def versus_always_go(self) -> float:
        """Agent / always_go on expected costs."""
        always = self.expected["always_go"]
        return self.expected["agent"] / always if always > 0 else float("nan")


def execute(job: Job) -> Run:
    """Simulate one job (in a worker process) and keep what the summary needs."""
    if job.kind == "generated":
        world = parse_world(generate(int(job.spec)))
    else:
        world = load_world(job.spec)
    policy = load_policy(Path(job.policy)) if job.policy else None
    started = time.perf_counter()
    result = run_simulation(
        world,
        job.episodes,
        seed=job.seed,
        policies={"agent": agent_factory(policy=policy), **BASELINES},
    )
    seconds = time.perf_counter() - started
    report = build_report(result)
    scores = result.scores
    expected = {name: float(score.expected.sum()) for name, score in scores.items()}
    realized = {name: score.cost for name, score in scores.items()}
    regret = report["regret"]
    calibration = report["calibration"].get("agent")
    return Run(
        job=job,
        world=world.name,
        seconds=seconds,
        realized=realized,
        expected=expected,
        oracle_holds=scores["oracle"].delays + scores["oracle"].no_gos,
        regret_expected=regret_ratio(expected["agent"], expected["always_go"], expected["oracle"]),
        regret_realized=regret_ratio(realized["agent"], realized["always_go"], realized["oracle"]),
        halves_expected=(regret["expected"]["first_half"], regret["expected"]["second_half"]),
        after_change=regret["after_change"],
        brier=calibration["brier"] if calibration else None,
        brier_of_truth=calibration["brier_of_truth"] if calibration else None,
    )


# --- arguments ---------------------------------------------------------------------------


def parse_seeds(text: str) -> list[int]:
    """``"4100-4119"``, ``"3,17,40"`` or both (``"1-3,9"``) as a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            if dash:
                seeds.extend(range(int(low), int(high) + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a seed or a range a-b") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError("seeds must be non-negative integers")
    return seeds


def format_seeds(seeds: Sequence[int]) -> str:
    """The inverse of :func:`parse_seeds`, as short as ranges make it."""
    parts, ordered = [], sorted(set(seeds))
    start = prev = ordered[0]
    for seed in [*ordered[1:], None]:
        if seed is not None and seed == prev + 1:
            prev = seed
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if seed is not None:
            start = prev = seed
    return ",".join(parts)


def jobs_for(args: argparse.Namespace, seeds: list[int]) -> list[Job]:
    jobs = []
    for g in seeds:
        for k in range(args.sim_seeds):
            jobs.append(Job("generated", str(g), g + k, args.episodes, True, args.policy))
    names = [] if args.no_shipped else (args.shipped or shipped_worlds())
    for name in names:
        base = load_world(name).seed
        for k in range(args.sim_seeds):
            jobs.append(Job("shipped", name, base + k, args.episodes, True, args.policy))
    if args.default_seeds and not args.no_shipped:
        base = load_world("default").seed
        have = {job.seed for job in jobs if job.spec == "default"}
        for k in range(args.default_seeds):
            if base + k not in have:
                jobs.append(Job("shipped", "default", base + k, args.episodes, False, args.policy))
    return jobs


# --- summary -----------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "n/a" if value is None or np.isnan(value) else format(value, spec)


def spread(values: Iterable[float | None]) -> tuple[float, float, float, int] | None:
    """Mean, 90th percentile and worst (largest) of the defined values, and their count."""
    known = np.array([v for v in values if v is not None], dtype=float)
    if not len(known):
        return None
    return float(known.mean()), float(np.percentile(known, 90)), float(known.max()), len(known)


def summary_lines(runs: list[Run]) -> list[str]:
    population = [r for r in runs if r.job.population]
    lines = [f"## Population: {len(population)} runs", ""]
    lines += [
        "| regret ratio | runs | mean | 90th percentile | worst |",
        "|---|---:|---:|---:|---:|",
    ]
    informative = [r for r in population if not r.always_go_optimal]
    for label, attr in (("on expected costs", "regret_expected"), ("realized", "regret_realized")):
        stats = spread(getattr(r, attr) for r in informative)
        if stats is None:
            lines.append(f"| {label} | 0 | n/a | n/a | n/a |")
            continue
        mean, p90, worst, count = stats
        lines.append(f"| {label} | {count} | {mean:.3f} | {p90:.3f} | {worst:.3f} |")
    lines.append("")
    lines.append(
        f"(over the {len(informative)} runs where always_go is not optimal; "
        f"{len(population) - len(informative)} runs where it is are scored below)"
    )
    lines.append("")
    lines += ["| agent costs more than | on expected costs | realized |", "|---|---:|---:|"]
    for rival in ("always_go", "static_rules"):
        worse_e = sum(r.expected["agent"] > r.expected[rival] for r in population)
        worse_r = sum(r.realized["agent"] > r.realized[rival] for r in population)
        total = len(population)
        lines.append(f"| {rival} | {worse_e} of {total} | {worse_r} of {total} |")
    lines.append("")
    optimal = [r for r in population if r.always_go_optimal]
    lines.append(
        f"always_go optimal (the oracle holds back at most {HOLD_SHARE:.0%} of the releases): "
        f"{len(optimal)} runs"
    )
    if optimal:
        ratios = [r.versus_always_go for r in optimal]
        lines.append(
            f"agent / always_go on expected costs: mean {np.mean(ratios):.3f}, "
            f"worst {np.max(ratios):.3f} (1.000 is as good)"
        )
    lines += ["", *drift_lines(population), "", *calibration_lines(population)]
    return lines


def drift_lines(runs: list[Run]) -> list[str]:
    changed = [r for r in runs if r.after_change is not None]
    if not changed:
        return ["No run crossed a change of its world."]
    lines = [
        f"### Worlds that change: {len(changed)} runs, regret over the releases after the change",
        "",
        "| world | seed | change at | releases after | expected | realized |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in changed:
        a = r.after_change or {}
        lines.append(
            f"| {r.world} | {r.job.seed} | {a['at']} | {a['releases']} "
            f"| {_fmt(a['expected'])} | {_fmt(a['realized'])} |"
        )
    stats = spread(r.after_change["expected"] for r in changed if r.after_change)
    if stats:
        lines += ["", f"mean {stats[0]:.3f}, worst {stats[2]:.3f} on expected costs"]
    return lines


def calibration_lines(runs: list[Run]) -> list[str]:
    scored = [r for r in runs if r.brier is not None and r.brier_of_truth is not None]
    if not scored:
        return ["No stated risks to score."]
    excess = [(r.brier or 0.0) - (r.brier_of_truth or 0.0) for r in scored]
    return [
        f"Calibration of the agent's stated risk over {len(scored)} runs: Brier score mean "
        f"{np.mean([r.brier for r in scored]):.4f}; excess over the true probabilities' "
        f"mean {np.mean(excess):.4f}, worst {np.max(excess):.4f} (0 is perfect)"
    ]


def default_lines(runs: list[Run]) -> list[str]:
    default = sorted((r for r in runs if r.job.spec == "default"), key=lambda r: r.job.seed)
    if not default:
        return []
    lines = [
        f"## The default world at {len(default)} seeds",
        "",
        "| seed | agent | always_go | static_rules | oracle | regret | expected "
        "| 1st → 2nd half (expected) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in default:
        c = r.realized
        first, second = r.halves_expected
        lines.append(
            f"| {r.job.seed} | {c['agent']:.1f} | {c['always_go']:.1f} | {c['static_rules']:.1f} "
            f"| {c['oracle']:.1f} | {_fmt(r.regret_realized)} | {_fmt(r.regret_expected)} "
            f"| {_fmt(first)} → {_fmt(second)} |"
        )
    stats = spread(r.regret_expected for r in default)
    if stats:
        lines += ["", f"regret on expected costs: mean {stats[0]:.3f}, worst {stats[2]:.3f}"]
    return lines


def run_lines(runs: list[Run]) -> list[str]:
    lines = [
        "## Every run",
        "",
        "| world | seed | regret (expected) | regret (realized) | agent / always_go "
        "| oracle holds | Brier excess | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(runs, key=lambda r: (r.job.kind, r.world, r.job.seed)):
        excess = None if r.brier is None or r.brier_of_truth is None else r.brier - r.brier_of_truth
        lines.append(
            f"| {r.world} | {r.job.seed} | {_fmt(r.regret_expected)} | {_fmt(r.regret_realized)} "
            f"| {_fmt(r.versus_always_go)} | {r.oracle_holds} | {_fmt(excess, '.4f')} "
            f"| {r.seconds:.1f} |"
        )
    return lines


# --- main --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--worlds", type=int, default=20, help="generated worlds (default 20)")
    parser.add_argument("--seeds", type=parse_seeds, help="generator seeds: 4100-4119 or 3,17")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--sim-seeds", type=int, default=2, help="simulation seeds per world")
    parser.add_argument("--default-seeds", type=int, default=5)
    parser.add_argument("--shipped", action="append", help="a shipped world (default: all)")
    parser.add_argument("--no-shipped", action="store_true", help="generated worlds only")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument(
        "--policy", help="a policy file for the agent, e.g. other [priors] (costs: the world's)"
    )
    args = parser.parse_args()
    if args.episodes < 1 or args.sim_seeds < 1 or args.jobs < 1 or args.worlds < 0:
        parser.error("--episodes, --sim-seeds and --jobs must be at least 1, --worlds at least 0")
    for name in args.shipped or []:
        if name not in shipped_worlds():
            parser.error(f"--shipped {name}: not a shipped world ({', '.join(shipped_worlds())})")
    if args.seeds is None:
        base = secrets.randbelow(10**6)
        args.seeds = list(range(base, base + args.worlds))
    seeds: list[int] = args.seeds
    jobs = jobs_for(args, seeds)
    head = [
        f"python {platform.python_version()} on {platform.machine()}, {platform.system()}; "
        f"{args.episodes} episodes a run, built-in reasoner, {args.jobs} processes",
        f"generator seeds: --seeds {format_seeds(seeds) if seeds else '(none)'}",
    ]
    print("\n".join(head), flush=True)
    runs = run_all(jobs, args.jobs)
    body = "\n".join(["", *summary_lines(runs), "", *default_lines(runs), "", *run_lines(runs)])
    print(body)
    if args.markdown is not None:
        args.markdown.write_text("\n".join(head) + "\n" + body + "\n", encoding="utf-8")
        print(f"\nwritten to {args.markdown}", file=sys.stderr)
    return 0


def run_all(jobs: list[Job], processes: int) -> list[Run]:
    """Every job, over ``processes`` workers, with a line of progress on stderr for each."""
    started = time.perf_counter()
    runs: list[Run] = []
    with multiprocessing.Pool(processes) as pool:
        for run in pool.imap_unordered(execute, jobs):
            runs.append(run)
            elapsed = time.perf_counter() - started
            left = elapsed / len(runs) * (len(jobs) - len(runs))
            print(
                f"[{len(runs):>3}/{len(jobs)}] {run.world} seed {run.job.seed}: regret "
                f"{_fmt(run.regret_expected)} expected, {_fmt(run.regret_realized)} realized "
                f"({run.seconds:.0f} s; {elapsed / 60:.1f} min elapsed, ~{left / 60:.1f} min left)",
                file=sys.stderr,
                flush=True,
            )
    return runs


if __name__ == "__main__":
    sys.exit(main())
