"""Benchmark: how long one decision takes in a large memory, while outcomes keep arriving.

Fills a memory with synthetic episodes over many services (bulk insert, counted into
their cells as the store counts outcomes), learns once, adds synthetic active heuristics
and publishes them, then times decisions one by one through ``Agent.decide`` (a stream of requests,
``--pause`` ms apart) while another process records the outcome of each GO and DELAY as
soon as it is decided (a DELAY deploys in its window) and,
with ``--learn-every``, a third process runs the background learner. Prints the median,
the 95th and 99th percentiles and the slowest decision, and how many took over 100 ms.

    python bench/bench_decide.py                       # 100,000 episodes, 40 services
    python bench/bench_decide.py --learn-every 200     # and a learner publishing knowledge
    python bench/bench_decide.py --db postgresql://user@host/db --keep

Targets (issue "Serve many teams"): p50 <= 5 ms, p99 <= 25 ms, none over 100 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import factories
from release_agent.agent import Agent
from release_agent.domain.models import (
    DAYS,
    Decision,
    Heuristic,
    Level,
    Provenance,
    ReleaseRequest,
)
from release_agent.memory.store import Store
from release_agent.memory.urls import shown

START = datetime.fromisoformat("2026-01-05T00:00:00+01:00")
PLANTED = factories.Planted({"service": "svc-03", "friday_afternoon": True}, 0.40)


def services(count: int) -> tuple[str, ...]:
    return tuple(f"svc-{i:02d}" for i in range(count))


def heuristics(count: int, names: tuple[str, ...], seed: int) -> list[Heuristic]:
    """``count`` distinct synthetic cautionary heuristics, each about a service on a day in
    a part of the day, half of them for high-risk changes only; mostly DELAY."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Heuristic] = []
    while len(out) < count:
        low = rng.randrange(0, 24, 3)
        when: dict[str, object] = {
            "service": rng.choice(names),
            "day_of_week": rng.choice(DAYS).value,
            "hour_of_day": {"from": low, "to": low + 2},
        }
        if rng.random() < 0.5:
            when["feature_risk"] = Level.HIGH.value
        key = repr(sorted(when.items()))
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Heuristic(
                when=when,
                recommendation=Decision.DELAY if rng.random() < 0.75 else Decision.NO_GO,
                confidence=round(rng.uniform(0.55, 0.95), 2),
                provenance=Provenance.human,
            )
        )
    return out


def request(rng: random.Random, names: tuple[str, ...], hour: int) -> ReleaseRequest:
    return ReleaseRequest(
        service=rng.choice(names),
        env="prod",
        feature_risk=rng.choices(list(Level), weights=(6, 3, 1))[0],
        service_criticality=rng.choice(list(Level)),
        at=START + timedelta(hours=hour),
        clashes=["shared-db"] if rng.random() < 0.1 else [],
    )


def prepare(store: Store, args: argparse.Namespace) -> None:
    names = services(args.services)
    present = store.count_decisions(source=None)
    if present == 0:
        started = time.perf_counter()
        world = factories.World(services=names, planted=(PLANTED,))
        factories.populate(store, world, args.episodes, seed=args.seed)
        print(f"filled {args.episodes:,} episodes in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    if store.knowledge_version() == 0:
        Agent(store).learn()
        print(f"learned in {time.perf_counter() - started:.1f} s")
    missing = args.heuristics - len(store.active_heuristics())
    if missing > 0:
        with store.transaction() as conn:
            for h in heuristics(missing, names, args.seed):
                store.insert_heuristic(h, conn)
            store.publish_knowledge(conn, "heuristics")


OUTCOMES = """
import random, sys
from release_agent.domain.models import Result
from release_agent.memory.store import Store

store, rng, done = Store.open(sys.argv[1]), random.Random(5), 0
print("ready", flush=True)
for line in sys.stdin:  # a release id per decision that deploys, as soon as it is decided
    result = Result.incident if rng.random() < 0.07 else Result.success
    store.record_outcome(line.strip(), result)
    done += 1
print(done, flush=True)
"""

LEARNER = """
import sys, time
from release_agent.agent import Agent
from release_agent.learn.worker import Cadence, LearningWorker
from release_agent.memory.store import Store

worker = LearningWorker(Agent(Store.open(sys.argv[1])), Cadence(int(sys.argv[2]), 3600), 0.5)
worker.start()
print("ready", flush=True)
while True:
    time.sleep(1)
    print(worker.runs, worker.last_error or "", flush=True)
"""


def child(code: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    return proc


def last_line(proc: subprocess.Popen[str], stop: bool) -> str:
    """The last line the child printed once it ended (on end of input, or terminated)."""
    assert proc.stdin is not None and proc.stdout is not None
    if stop:
        proc.terminate()
    proc.stdin.close()
    out = proc.stdout.read()
    proc.wait(600)
    lines = out.strip().splitlines()
    return lines[-1] if lines else ""


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=40)
    parser.add_argument("--heuristics", type=int, default=1000)
    parser.add_argument("--timed", type=int, default=1000)
    parser.add_argument(
        "--pause", type=float, default=5.0, help="milliseconds between decisions (a stream)"
    )
    parser.add_argument("--learn-every", type=int, default=0, help="0: no background learner")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    path = Path(tempfile.mkdtemp()) / "bench-decide.db"
    url = args.db or f"sqlite:///{path}"
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(f"database {shown(url)}")
    store = Store.open(url)
    prepare(store, args)
    agent = Agent(store)
    knowledge = agent.knowledge()
    print(
        f"memory: {store.count_decisions(source=None):,} episodes, "
        f"{len(store.outcome_cells()):,} cells, {len(knowledge.heuristics)} active heuristics, "
        f"knowledge version {knowledge.version}"
    )

    rng = random.Random(args.seed)
    names = services(args.services)
    hour = 0
    for _ in range(20):  # warm-up: connections, caches
        agent.decide(request(rng, names, hour))
        hour += 3
    writer = child(OUTCOMES, url)
    assert writer.stdin is not None
    learner = child(LEARNER, url, str(args.learn_every)) if args.learn_every else None
    times: list[float] = []
    versions: set[int | None] = set()
    for _ in range(args.timed):
        started = time.perf_counter()
        record = agent.decide(request(rng, names, hour))
        times.append((time.perf_counter() - started) * 1000)
        versions.add(record.knowledge_version)
        if record.decision is not Decision.NO_GO:
            writer.stdin.write(record.release_id + "\n")
            writer.stdin.flush()
        hour += 3
        time.sleep(args.pause / 1000)
    outcomes = last_line(writer, stop=False)
    learned = last_line(learner, stop=True) if learner else "off"
    store.close()
    if not args.keep and not args.db:
        path.unlink(missing_ok=True)

    ordered = sorted(times)
    slow = sum(t > 100 for t in times)
    print(
        f"{args.timed} decisions while another process recorded {outcomes} outcomes "
        f"(learner runs: {learned}; knowledge versions used: {len(versions)})"
    )
    print(
        f"decide: p50 {statistics.median(ordered):.1f} ms, p95 {percentile(ordered, 0.95):.1f} ms, "
        f"p99 {percentile(ordered, 0.99):.1f} ms, max {ordered[-1]:.1f} ms, "
        f"{slow} over 100 ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
