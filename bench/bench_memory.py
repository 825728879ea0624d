"""Benchmark: storing 3,000 decisions with their outcomes, against a JSON-file memory.

The reference memory is what a first version of such a system often is: every episode
in one JSON file, the whole file rewritten whenever an episode is written — a decision,
then its outcome — through a temporary file, fsync and an atomic rename, so that it is as
durable as the store (SQLite in WAL mode with ``synchronous=FULL``: every acknowledged
write is on disk). Both memories are given the same decision records (made once by the
pipeline beforehand, not timed) and the same outcomes, one write at a time, as a service
receives them; the time of each memory's writes is compared.

    python bench/bench_memory.py                 # 3,000 decisions with outcomes
    python bench/bench_memory.py --decisions 500 --no-reference-sync

Target (issue "Serve many teams"): the store at least 50 times faster than the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from release_agent.agent import Agent
from release_agent.decide.context import evaluate
from release_agent.domain.models import (
    Context,
    Decision,
    DecisionRecord,
    Level,
    ReleaseRequest,
    Result,
)
from release_agent.memory.store import Store

START = datetime.fromisoformat("2026-01-05T00:00:00+01:00")
SERVICES = tuple(f"svc-{i:02d}" for i in range(40))
TARGET = 50.0


class JsonFileMemory:
    """The reference: every episode in one JSON file, rewritten on every write."""

    def __init__(self, path: Path, sync: bool = True) -> None:
        self.path = path
        self.sync = sync
        self.episodes: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}

    def _write(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            # One write of the whole text (json.dump would write it piece by piece,
            # several times slower): the reference at its fastest.
            out.write(json.dumps({"episodes": self.episodes}))
            if self.sync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, self.path)

    def save_decision(self, record: DecisionRecord, deploy: Context) -> None:
        episode = record.model_dump(mode="json", exclude={"outcome"})
        episode["deploy_context"] = deploy.model_dump(mode="json")
        self.index[record.release_id] = len(self.episodes)
        self.episodes.append(episode)
        self._write()

    def record_outcome(self, release_id: str, result: Result) -> None:
        episode = self.episodes[self.index[release_id]]
        if episode.get("outcome") is not None:
            raise ValueError(f"{release_id} already has an outcome")
        episode["outcome"] = {"result": result.value, "recorded_at": datetime.now().isoformat()}
        self._write()


def decisions(count: int, seed: int) -> list[tuple[DecisionRecord, Context, Result]]:
    """``count`` decision records made by the pipeline (in a scratch memory, with no
    learning), each with the context it deploys in and an outcome to record."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as scratch:
        agent = Agent(Store.open(f"sqlite:///{Path(scratch) / 'scratch.db'}", durable=False))
        out = []
        for i in range(count):
            request = ReleaseRequest(
                service=rng.choice(SERVICES),
                feature_risk=rng.choices(list(Level), weights=(6, 3, 1))[0],
                service_criticality=rng.choice(list(Level)),
                at=START + timedelta(hours=5 * i),
                clashes=["shared-db"] if rng.random() < 0.1 else [],
            )
            record = agent.decide(request)
            if record.decision is Decision.NO_GO:  # nothing deployed: no outcome to record
                continue
            deploy = record.context
            if record.next_window is not None:  # a DELAY deploys in its window
                deploy = evaluate(request, agent.policy.settings, at=record.next_window, clashes=[])
            result = Result.incident if rng.random() < 0.07 else Result.success
            out.append((record, deploy, result))
        agent.store.close()
    return out


def timed_store(work: list[tuple[DecisionRecord, Context, Result]], url: str) -> float:
    store = Store.open(url)
    started = time.perf_counter()
    for record, deploy, result in work:
        store.save_decision(record, deploy)
        store.record_outcome(record.release_id, result)
    seconds = time.perf_counter() - started
    assert store.count_decisions() == len(work) == store.count_outcomes()
    store.close()
    return seconds


def timed_reference(
    work: list[tuple[DecisionRecord, Context, Result]], path: Path, sync: bool
) -> float:
    memory = JsonFileMemory(path, sync)
    started = time.perf_counter()
    for record, deploy, result in work:
        memory.save_decision(record, deploy)
        memory.record_outcome(record.release_id, result)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--db", help="database URL for the store (default: an SQLite file)")
    parser.add_argument(
        "--no-reference-sync", action="store_true", help="the reference skips fsync (faster)"
    )
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    started = time.perf_counter()
    work = decisions(args.decisions, args.seed)
    size = sum(len(r.model_dump_json()) for r, _, _ in work) / len(work)
    print(
        f"{len(work):,} decision records made in {time.perf_counter() - started:.1f} s "
        f"(not timed; {size / 1024:.1f} KiB of JSON each)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'memory.db'}"
        ours = timed_store(work, url)
        sync = not args.no_reference_sync
        reference = timed_reference(work, Path(tmp) / "memory.json", sync)
    ratio = reference / ours
    print(f"store ({url.split(':', 1)[0]}, every write durable): {ours:8.2f} s")
    print(f"reference JSON file ({'fsync' if sync else 'no fsync'}):     {reference:8.2f} s")
    print(f"store is {ratio:.0f}x faster (target: at least {TARGET:.0f}x)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
