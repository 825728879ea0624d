"""One learner at a time per database, across processes: concurrent learners give one
result, a learner that finds the lock taken does nothing, and a lock whose holder died
is taken over.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default): an advisory lock
on PostgreSQL, a lease row on SQLite."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from factories import Planted, World, populate
from release_agent.agent import Agent
from release_agent.domain.errors import Conflict
from release_agent.learn.imports import import_memory
from release_agent.memory import lease, schema
from release_agent.memory.lease import LearnerBusy
from release_agent.memory.store import Store
from release_agent.stats.validation import canonical_when, merge_key

PAYMENTS_FRIDAY = {"friday_afternoon": True, "service": "payments"}
WORLD = World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),))


def live_keys(store: Store) -> Counter[tuple[str, str]]:
    return Counter(
        merge_key(canonical_when(h.when), h.recommendation) for h in store.active_heuristics()
    )


LEARNER = textwrap.dedent(
    """
    import sys
    from release_agent.agent import Agent
    from release_agent.memory.lease import LearnerBusy
    from release_agent.memory.store import Store

    agent = Agent(Store.open(sys.argv[1]))
    print("ready", flush=True)
    sys.stdin.readline()  # every learner starts at the same moment
    try:
        report = agent.learn()
    except LearnerBusy:
        print("busy", flush=True)
    else:
        print("learned", report.added, report.knowledge_version, flush=True)
    """
)


def test_four_concurrent_learners_give_one_result(store: Store, database_url: str) -> None:
    """Before, 4 concurrent runs stored 4 identical active heuristics."""
    populate(store, WORLD, 6000, seed=11)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LEARNER, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    answers = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in answers]

    lines = [out.strip() for out, _ in answers]
    learned = [line.split() for line in lines if line.startswith("learned")]
    assert learned, lines
    assert sum(int(added) for _, added, _ in learned) == 1  # one run found the pattern
    assert [h.when for h in store.active_heuristics()] == [PAYMENTS_FRIDAY]
    assert all(n == 1 for n in live_keys(store).values())
    versions = sorted(int(version) for *_, version in learned)
    assert versions[-1] == store.knowledge_version()
    assert len(set(versions)) == len(versions)  # each run published its own version


def test_a_learner_that_finds_the_lock_taken_does_nothing(store: Store) -> None:
    populate(store, WORLD, 6000, seed=11)
    agent = Agent(store)

    with store.learner_lock():
        with pytest.raises(LearnerBusy) as caught:
            agent.learn()
        with pytest.raises(LearnerBusy):
            import_memory(store, [], wait=0.0)

    assert isinstance(caught.value, Conflict)
    assert "another learning run is in progress" in str(caught.value)
    assert store.list_heuristics() == []
    assert store.knowledge_version() == 0
    assert agent.learn().added == 1  # free again


def test_a_learner_may_wait_for_the_lock(store: Store) -> None:
    populate(store, WORLD, 3000, seed=11)
    agent = Agent(store)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.learner_lock():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    threading.Timer(0.5, release.set).start()

    report = agent.learn(wait=30)

    holder.join()
    assert report.knowledge_version == store.knowledge_version() == 1


def test_an_expired_lease_of_a_dead_learner_is_taken_over(store: Store, sqlite_only: None) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    with store.engine.begin() as conn:
        conn.execute(
            schema.learner_lease.insert().values(
                name=lease.LEARNER, holder="gone:1:dead", expires_at=past
            )
        )

    with store.learner_lock() as holder:
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(schema.learner_lease)).one()
        assert row.holder == holder != "gone:1:dead"

    with store.engine.connect() as conn:
        assert conn.execute(sa.select(schema.learner_lease)).all() == []


def test_a_live_lease_of_another_process_blocks(store: Store, sqlite_only: None) -> None:
    future = datetime.now(UTC) + timedelta(seconds=60)
    with store.engine.begin() as conn:
        conn.execute(
            schema.learner_lease.insert().values(
                name=lease.LEARNER, holder="other-host:42:abcd", expires_at=future
            )
        )

    with pytest.raises(LearnerBusy) as caught, store.learner_lock():
        pass

    assert "other-host:42:abcd" in str(caught.value)


def test_a_lease_is_renewed_while_the_run_goes_on(database_url: str, sqlite_only: None) -> None:
    engine = Store.open(database_url).engine
    with lease.learner_lock(engine, lease_seconds=0.6):
        threading.Event().wait(1.5)  # longer than the lease: renewed meanwhile
        with engine.connect() as conn:
            expires = conn.execute(sa.select(schema.learner_lease.c.expires_at)).scalar_one()
        assert expires > datetime.now(UTC)


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from release_agent.memory.store import Store

    store = Store.open(sys.argv[1])
    with store.learner_lock():
        print("holding", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_the_lock_of_a_killed_learner_is_freed(
    store: Store, database_url: str, postgres_only: str
) -> None:
    """PostgreSQL drops a dead session's advisory lock at once (a lease would wait for
    its expiry)."""
    child = subprocess.run(
        [sys.executable, "-c", KILLED, database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -9 and "holding" in child.stdout

    with store.learner_lock(wait=10) as holder:
        assert holder
