"""`release-agent serve --workers N` in real processes: N worker processes answer on one
port over one database, and decisions from concurrent clients are each stored exactly
once. Over SQLite it warns that writes serialize; bad options fail before it listens.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api_support import body
from conftest import on_postgres
from release_agent.cli.serve import BLAS_THREADS
from release_agent.memory import schema
from release_agent.memory.store import Store

CLIENTS = 8
EACH = 10


def serve(db: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "release_agent", "serve", "--db", db, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: the name may hold spaces, so split after its ')'.
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_until_served(process: subprocess.Popen[str]) -> tuple[str, list[str]]:
    """The URL the server printed, once it answers, and the lines it printed before."""
    assert process.stderr is not None
    lines: list[str] = []
    while True:
        line = process.stderr.readline()
        assert line, f"serve ended: {''.join(lines)}"
        lines.append(line)
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if found:
            break
    url = found.group(0)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "healthz", timeout=10).status_code == 200:
                return url, lines
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server never answered"
        time.sleep(0.1)


def decide_many(url: str, client: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for i in range(EACH):
            at = f"2026-11-{2 + (client * EACH + i) % 25:02d}T10:00:00+01:00"
            answer = http.post("/api/v1/decisions", json=body(service=f"svc-{client}", at=at))
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["release_id"])
    return ids


def test_two_workers_answer_and_store_every_decision_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in BLAS_THREADS:
        monkeypatch.delenv(name, raising=False)
    process = serve(database_url, "--port", "0", "--workers", "2")
    try:
        url, printed = wait_until_served(process)
        workers = [p for p in children(process.pid) if "spawn_main" in command_line(p)]
        assert len(workers) == 2, [command_line(p) for p in children(process.pid)]
        for worker in workers:  # one linear-algebra thread each: the workers are the threads
            environ = (Path("/proc") / str(worker) / "environ").read_bytes().split(b"\0")
            assert {f"{name}=1".encode() for name in BLAS_THREADS} <= set(environ)
        if not on_postgres():
            assert any("2 workers over SQLite" in line for line in printed), printed

        with ThreadPoolExecutor(CLIENTS) as pool:
            answered = [i for ids in pool.map(decide_many, [url] * CLIENTS, range(CLIENTS))
                        for i in ids]  # fmt: skip
    finally:
        process.terminate()
        _, err = process.communicate(timeout=120)

    assert process.returncode == 0, err
    assert len(answered) == CLIENTS * EACH == len(set(answered))
    store = Store.open(database_url)
    try:
        with store.reading() as conn:
            stored = Counter(conn.execute(sa.select(schema.episodes.c.release_id)).scalars())
    finally:
        store.close()
    assert stored == Counter(answered)  # each answered decision stored, and only once


def test_bad_options_fail_before_any_worker_starts(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[decision]\nextract_every = 0\n")
    process = serve(
        f"sqlite:///{tmp_path / 'w.db'}", "--port", "0", "--workers", "2", "--policy", str(policy)
    )
    _, err = process.communicate(timeout=120)

    assert process.returncode == 2, err
    assert "extract_every" in err and "http://" not in err


def test_workers_are_refused_outside_their_range(tmp_path: Path) -> None:
    process = serve(f"sqlite:///{tmp_path / 'w.db'}", "--workers", "0")
    _, err = process.communicate(timeout=120)

    assert process.returncode == 2 and "--workers" in err
