"""Benchmark: mine heuristics from a million stored episodes.

Fills an SQLite file with synthetic episodes (bulk insert; one planted pattern:
payments deploys on Friday afternoons fail 40% of the time against 5% elsewhere), then
times, separately:

- the aggregate query that reads memory as cells (one GROUP BY),
- the selection of patterns from the cells (singles, pairs, significance, covering),
- a full learning run (re-check, mining, validation, storage, risk-model refit),

and checks that the planted pattern, and nothing else, was found.

    python bench/bench_mining.py                  # 1,000,000 episodes
    python bench/bench_mining.py --episodes 100000 --db /tmp/mem.db --keep
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import factories
from release_agent.domain.conditions import describe
from release_agent.domain.models import HeuristicStatus
from release_agent.domain.policy import Policy
from release_agent.learn.loop import learn
from release_agent.memory.store import Store
from release_agent.reasoners.builtin import BuiltinReasoner
from release_agent.stats import mining

PLANTED = factories.Planted({"service": "payments", "friday_afternoon": True}, 0.40)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the database file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the query")
    args = parser.parse_args()

    path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "bench-mining.db"
    url = f"sqlite:///{path}"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"python {platform.python_version()}, SQLite file {path}")
    store = Store.open(url)
    existing = store.count_decisions(source=None)
    if existing != args.episodes:
        if existing:
            raise SystemExit(f"{path} holds {existing} episodes, not {args.episodes}")
        started = time.perf_counter()
        world = factories.World(planted=(PLANTED,))
        factories.populate(store, world, args.episodes, seed=args.seed)
        print(f"filled {args.episodes:,} episodes in {time.perf_counter() - started:.1f} s")
    deployed = store.count_outcomes()
    print(f"{deployed:,} of {args.episodes:,} episodes are deploys with an outcome")

    query_times, select_times = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        cells = store.outcome_cells()
        query_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        mined = mining.mine(cells)
        select_times.append(time.perf_counter() - started)
    query, select = min(query_times), min(select_times)
    print(f"cells: {len(cells):,} (bounded by the attribute domain)")
    print(f"aggregate query : {query:6.2f} s (best of {args.repeat})")
    print(f"pattern mining  : {select:6.2f} s ({mined.tested} patterns tested)")
    print(f"MINING TOTAL    : {query + select:6.2f} s")
    for stat in mined.patterns:
        print(f"  found: {describe(stat.when)}: {stat.failures}/{stat.deployed}")

    started = time.perf_counter()
    report, _ = learn(store, Policy(), BuiltinReasoner(), BuiltinReasoner())
    full = time.perf_counter() - started
    print(f"full learn      : {full:6.2f} s (mining, validation, storage, risk-model refit)")
    print(f"  report: added {report.added}, rejected {len(report.rejected)}")
    active = store.list_heuristics(HeuristicStatus.active)
    for h in active:
        print(f"  active: {describe(h.when)} -> {h.recommendation.value} ({h.confidence})")
    store.close()
    if not args.keep and not args.db:
        path.unlink(missing_ok=True)
    found = [h.when for h in active] == [dict(sorted(PLANTED.when.items()))]
    print("planted pattern found, nothing else: " + ("yes" if found else "NO"))
    return 0 if found else 1


if __name__ == "__main__":
    raise SystemExit(main())
