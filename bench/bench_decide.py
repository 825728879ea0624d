"""Benchmark: how long one decision takes with the built-in reasoner.

Fills a fresh SQLite memory with decided releases and their outcomes (through Agent, so
learning runs as it does in use), then times further decisions one by one and prints the
median, the 95th percentile and the slowest, with and without a learning run among them.

    python bench/bench_decide.py                  # 2,000 decisions of history, 300 timed
    python bench/bench_decide.py --history 5000 --timed 500
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from release_agent.agent import Agent
from release_agent.domain.models import Decision, Level, ReleaseRequest, Result
from release_agent.memory.store import Store

SERVICES = (("payments", Level.HIGH), ("search", Level.MEDIUM), ("blog", Level.LOW))
START = datetime.fromisoformat("2026-01-05T00:00:00+01:00")


def request(rng: random.Random, hour: int) -> ReleaseRequest:
    service, criticality = rng.choice(SERVICES)
    return ReleaseRequest(
        service=service,
        env="prod",
        feature_risk=rng.choices(list(Level), weights=(6, 3, 1))[0],
        service_criticality=criticality,
        at=START + timedelta(hours=hour),
        clashes=["shared-db"] if rng.random() < 0.1 else [],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=2000)
    parser.add_argument("--timed", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        agent = Agent(Store.open(f"sqlite:///{Path(tmp) / 'memory.db'}"))
        for i in range(args.history):
            record = agent.decide(request(rng, 4 * i))
            if record.decision is Decision.GO:
                result = Result.incident if rng.random() < 0.07 else Result.success
                agent.record_outcome(record.release_id, result)
        times = []
        for i in range(args.timed):
            started = time.perf_counter()
            record = agent.decide(request(rng, 4 * (args.history + i)))
            times.append((time.perf_counter() - started) * 1000)
            if record.decision is Decision.GO:
                agent.record_outcome(record.release_id, Result.success)
        agent.store.close()
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(f"history {args.history} decisions; {args.timed} timed (file SQLite, full sync)")
    print(
        f"decide: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
        f"max {times[-1]:.1f} ms (every {agent.policy.settings.extract_every}th includes learning)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
