"""Benchmark: many processes on one database.

1. ``--processes`` processes each make ``--decisions`` decisions at once, each recording
   the outcome of its GOs, on a blank database that every process opens (and so
   migrates) at the same moment. Exactly processes x decisions must be stored, with the
   outcomes counted in their cells.
2. ``--processes`` learners start at the same moment on the filled memory: one result
   (no duplicate heuristic; each run that ran published its own knowledge version).

    python bench/bench_concurrency.py                                  # SQLite file
    python bench/bench_concurrency.py --db postgresql://user@host/db   # an empty database

Target (issue "Serve many teams"): 4 processes x 500 concurrent decisions -> exactly
2,000 stored, on both databases; 4 concurrent learners -> one result.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from release_agent.memory.store import Store
from release_agent.memory.urls import shown
from release_agent.stats.validation import canonical_when, merge_key

DECIDER = """
import random, sys
from datetime import datetime, timedelta
from release_agent.agent import Agent
from release_agent.domain.models import Decision, Level, ReleaseRequest, Result
from release_agent.memory.store import Store

url, me, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.stdin.readline()  # every process opens the blank database at the same moment
agent = Agent(Store.open(url))
rng = random.Random(me)
base = datetime.fromisoformat("2026-11-23T00:00:00+01:00")
for i in range(count):
    record = agent.decide(ReleaseRequest(
        service=f"svc-{rng.randrange(8)}", feature_risk=rng.choice(list(Level)),
        service_criticality=rng.choice(list(Level)), at=base + timedelta(hours=7 * i + me),
        clashes=["db"] if rng.random() < 0.1 else []))
    if record.decision is Decision.GO:
        failed = rng.random() < (0.4 if record.context.friday_afternoon else 0.05)
        agent.record_outcome(record.release_id, Result.incident if failed else Result.success)
print("done", flush=True)
"""

LEARNER = """
import sys
from release_agent.agent import Agent
from release_agent.memory.lease import LearnerBusy
from release_agent.memory.store import Store

agent = Agent(Store.open(sys.argv[1]))
sys.stdin.readline()
try:
    report = agent.learn()
except LearnerBusy:
    print("busy", flush=True)
else:
    print("learned", report.knowledge_version, flush=True)
"""


def together(code: str, argv: list[list[str]]) -> tuple[list[str], float]:
    """Start one process per argument list, release them at once, wait for all; returns
    their outputs and the seconds from the release to the last one's end."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in argv
    ]
    time.sleep(1.0)  # let every interpreter start
    started = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    answers = [p.communicate(timeout=3600) for p in procs]
    seconds = time.perf_counter() - started
    failed = [err for p, (_, err) in zip(procs, answers, strict=True) if p.returncode != 0]
    if failed:
        raise SystemExit("a process failed:\n" + failed[0])
    return [out.strip() for out, _ in answers], seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--decisions", type=int, default=500)
    parser.add_argument("--db", help="an empty database's URL (default: a new SQLite file)")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench-concurrency.db'}"
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(f"database {shown(url)} (blank: every process migrates it at once)")

    argv = [[url, str(me), str(args.decisions)] for me in range(args.processes)]
    _, seconds = together(DECIDER, argv)
    store = Store.open(url)
    stored, outcomes = store.count_decisions(), store.count_outcomes()
    counted = store.outcome_cells().totals[0]
    expected = args.processes * args.decisions
    print(
        f"{args.processes} processes x {args.decisions} decisions in {seconds:.1f} s "
        f"({expected / seconds:.0f} decisions/s): {stored} stored (expected {expected}), "
        f"{outcomes} outcomes, {counted} counted in cells"
    )

    answers, seconds = together(LEARNER, [[url]] * args.processes)
    keys = Counter(
        merge_key(canonical_when(h.when), h.recommendation) for h in store.active_heuristics()
    )
    learned = [a for a in answers if a.startswith("learned")]
    versions = [int(a.split()[1]) for a in learned]
    print(
        f"{args.processes} concurrent learners in {seconds:.1f} s: {len(learned)} learned, "
        f"{answers.count('busy')} found another at work; {sum(keys.values())} active "
        f"heuristics, {sum(n > 1 for n in keys.values())} duplicated; versions {sorted(versions)}"
    )
    store.close()
    ok = (
        stored == expected
        and outcomes == counted
        and all(n == 1 for n in keys.values())
        and len(set(versions)) == len(versions)
    )
    print("one result, nothing lost: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
