"""Benchmark: a learning run over a large memory of many services.

Fills a database with synthetic episodes (bulk insert, counted into their cells as the
store counts outcomes; one planted pattern: svc-03 deploys on Friday afternoons fail 40%
of the time against 5% elsewhere), then times a full learning run (re-check, mining,
validation, storage, risk-model refit, publication of the knowledge snapshot) and, apart,
its parts:

- reading memory as cells (the counts kept per context cell: no scan of the episodes),
- the selection of patterns from the cells (singles, pairs, significance, covering),
- the risk model's fit on the cells,

and checks that the planted pattern, and nothing else, was found.

    python bench/bench_mining.py                          # 1,000,000 episodes, 40 services
    python bench/bench_mining.py --episodes 100000
    python bench/bench_mining.py --db /tmp/mem.db --keep  # keep the filled file for reruns
    python bench/bench_mining.py --db postgresql://user@host/db

Targets (issue "Serve many teams"): a learning run over 1M episodes at 40 services within
10 s, over 100k within 2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import factories
from release_agent.agent import Agent
from release_agent.domain.conditions import describe
from release_agent.domain.models import HeuristicStatus
from release_agent.learn import knowledge
from release_agent.memory.store import Store
from release_agent.memory.urls import shown
from release_agent.stats import mining

PLANTED = factories.Planted({"service": "svc-03", "friday_afternoon": True}, 0.40)


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The shortest of ``repeat`` timed calls of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1_000_000)
    parser.add_argument("--services", type=int, default=40)
    parser.add_argument("--db", help="SQLite file or database URL (default: a temporary file)")
    parser.add_argument("--keep", action="store_true", help="keep the database file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each part")
    args = parser.parse_args()

    temporary = not args.db
    path = Path(tempfile.mkdtemp()) / "bench-mining.db" if temporary else Path(args.db)
    url = args.db if args.db and "://" in args.db else f"sqlite:///{path}"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"python {platform.python_version()}, database {shown(url)}")
    store = Store.open(url)
    existing = store.count_decisions(source=None)
    if existing != args.episodes:
        if existing:
            raise SystemExit(f"{shown(url)} holds {existing} episodes, not {args.episodes}")
        started = time.perf_counter()
        names = tuple(f"svc-{i:02d}" for i in range(args.services))
        world = factories.World(services=names, planted=(PLANTED,))
        factories.populate(store, world, args.episodes, seed=args.seed)
        print(f"filled {args.episodes:,} episodes in {time.perf_counter() - started:.1f} s")
    deployed = store.count_outcomes()
    print(f"{deployed:,} of {args.episodes:,} episodes are deploys with an outcome")

    cells = store.outcome_cells()
    read = best_of(args.repeat, store.outcome_cells)
    select = best_of(args.repeat, lambda: mining.mine(cells))
    mined = mining.mine(cells)
    print(f"cells: {len(cells):,} (bounded by the attribute domain, not by the episodes)")
    print(f"read cells      : {read:6.2f} s (best of {args.repeat})")
    print(f"pattern mining  : {select:6.2f} s ({mined.tested} patterns tested)")
    for stat in mined.patterns:
        print(f"  found: {describe(stat.when)}: {stat.failures}/{stat.deployed}")

    agent = Agent(store)
    started = time.perf_counter()
    report = agent.learn()
    full = time.perf_counter() - started
    active = store.list_heuristics(HeuristicStatus.active)
    fit = best_of(1, lambda: knowledge.fit(cells.risk_cells(), active, warm=None))
    print(f"LEARNING RUN    : {full:6.2f} s (knowledge version {report.knowledge_version})")
    print(f"  of which the risk model's fit, alone: {fit:6.2f} s")
    started = time.perf_counter()
    agent.learn()
    print(f"again (warm)    : {time.perf_counter() - started:6.2f} s")
    print(f"  report: added {report.added}, rejected {len(report.rejected)}")
    for h in active:
        print(f"  active: {describe(h.when)} -> {h.recommendation.value} ({h.confidence})")
    store.close()
    if temporary and not args.keep:
        path.unlink(missing_ok=True)
    found = [h.when for h in active] == [dict(sorted(PLANTED.when.items()))]
    print("planted pattern found, nothing else: " + ("yes" if found else "NO"))
    return 0 if found else 1


if __name__ == "__main__":
    raise SystemExit(main())
