"""Benchmark: decisions per second through the HTTP API, with concurrent clients.

Starts ``python -m release_agent serve --workers N`` on a free loopback port over a
database (a new SQLite file, the URL given with ``--db``, or ``--postgres``: a private
PostgreSQL cluster started for the run from the distribution's binaries), waits for
``/healthz``, then ``--clients`` threads, each with its own keep-alive connection, post
valid release requests to ``POST /api/v1/decisions`` one after another for
``--warmup`` + ``--seconds`` seconds. Only requests sent after the warm-up and answered
before the end are timed. Prints decisions/s, the median, 95th and 99th percentile and
slowest latency, every answer that was not a decision (an error) and the CPU the server
and the clients used; then stops the server and checks that every decision answered
201 was stored once.

    python bench/bench_api.py                           # SQLite file, 4 workers
    python bench/bench_api.py --workers 1 --seconds 3   # a quick look
    python bench/bench_api.py --postgres                # a private PostgreSQL cluster
    python bench/bench_api.py --db postgresql://user@host/empty_db

The server is the real one: the built-in reasoner, background learning on (it starts
after ``extract_every`` outcomes; this benchmark records none), an access-log line per
request (to a file). The clients run on the same machine and take their share of its CPU.

Target (issue "Serve many teams"): 16 concurrent clients, 4 workers on PostgreSQL:
>= 300 decisions/s, 0 errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from release_agent.memory.store import Store
from release_agent.memory.urls import shown

START = datetime.fromisoformat("2027-01-04T00:00:00+01:00")
SERVICES = tuple(f"svc-{i:02d}" for i in range(40))
LEVELS = ("LOW", "MEDIUM", "HIGH")
SECRET_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "RELEASE_AGENT_API_TOKEN")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temporary directory, listening on a free
    loopback port (and a unix socket in that directory), run as the ``postgres`` user
    when this process is root, since the server will not run as root. Durable settings
    (fsync on), as a production server would have."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        initdb = str(found[-1]) if found else shutil.which("initdb")
        if initdb is None:
            raise SystemExit("--postgres needs a PostgreSQL server installed (initdb not found)")
        self.bin = Path(initdb).resolve().parent
        self.home = Path(tempfile.mkdtemp(prefix="bench-api-pg-"))
        self.root = os.geteuid() == 0
        if self.root:
            shutil.chown(self.home, "postgres")
        self.data = self.home / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        argv = ["runuser", "-u", "postgres", "--", *command] if self.root else list(command)
        subprocess.run(argv, check=True, capture_output=True, timeout=180)

    def start(self) -> None:
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust"]
        self._run(*initdb, "-U", "postgres", "-E", "UTF8")
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1"
        log = str(self.home / "server.log")
        ctl = [str(self.bin / "pg_ctl"), "-D", str(self.data)]
        self._run(*ctl, "-o", options, "-l", log, "-w", "start")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # it may never have started
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.home, ignore_errors=True)


def body(rng: random.Random, hour: int) -> dict[str, object]:
    """A valid release request: one of 40 services, some hour of the coming years."""
    return {
        "service": rng.choice(SERVICES),
        "feature_risk": rng.choices(LEVELS, weights=(6, 3, 1))[0],
        "service_criticality": rng.choice(LEVELS),
        "at": (START + timedelta(hours=hour)).isoformat(),
        "clashes": ["shared-db"] if rng.random() < 0.1 else [],
        "notes": "bench_api",
    }


@dataclass
class Tally:
    """What one client saw: latencies (ms) of the timed decisions, and every answer."""

    latencies: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    created: int = 0


def client(base: str, me: int, clients: int, timed_from: float, end: float, tally: Tally) -> None:
    rng = random.Random(me)
    hour = me
    with httpx.Client(base_url=base, timeout=60.0) as http:
        while time.perf_counter() < end:
            payload = body(rng, hour)
            hour += clients  # every client its own hours: no two requests alike
            sent = time.perf_counter()
            try:
                answer = http.post("/api/v1/decisions", json=payload)
            except httpx.HTTPError as error:
                tally.answers[type(error).__name__] += 1
                continue
            took = time.perf_counter()
            tally.answers[str(answer.status_code)] += 1
            if answer.status_code == 201:
                tally.created += 1
            if sent >= timed_from and took <= end and answer.status_code == 201:
                tally.latencies.append((took - sent) * 1000)
                tally.decisions[answer.json()["decision"]] += 1


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants
    (Linux /proc; 0 elsewhere)."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue
    return total


def wait_healthy(base: str, server: subprocess.Popen[bytes], log: Path, workers: int) -> None:
    """Until every worker has logged its start-up and /healthz answers ok, or fail with
    the server's log."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}):\n{log.read_text()}")
        if log.read_text().count("Application startup complete") >= workers:
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise SystemExit(f"no answer from {base}/healthz in 120 s:\n{log.read_text()}")


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn stops its workers), then SIGKILL to its process group."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(args: argparse.Namespace, url: str, home: Path) -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env |= {
        "RELEASE_AGENT_DB": url,
        "XDG_CONFIG_HOME": str(home / "config"),  # no user policy file
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    command = [sys.executable, "-m", "release_agent", "serve", "--port", str(port)]
    command += ["--workers", str(args.workers), "--reasoner", "builtin"]
    log = home / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(base, server, log, args.workers)
        tallies = [Tally() for _ in range(args.clients)]
        now = time.perf_counter()
        timed_from, end = now + args.warmup, now + args.warmup + args.seconds
        threads = [
            threading.Thread(target=client, args=(base, me, args.clients, timed_from, end, t))
            for me, t in enumerate(tallies)
        ]
        for t in threads:
            t.start()
        time.sleep(max(0.0, timed_from - time.perf_counter()))
        server_cpu, own_cpu = tree_cpu(server.pid), time.process_time()
        time.sleep(max(0.0, end - time.perf_counter()))
        server_cpu, own_cpu = tree_cpu(server.pid) - server_cpu, time.process_time() - own_cpu
        for t in threads:
            t.join()
    finally:
        stop(server)

    latencies = sorted(x for t in tallies for x in t.latencies)
    answers = sum((t.answers for t in tallies), Counter[str]())
    decisions = sum((t.decisions for t in tallies), Counter[str]())
    created = sum(t.created for t in tallies)
    errors = sum(n for a, n in answers.items() if a not in ("200", "201"))
    store = Store.open(url)
    stored = store.count_decisions()
    store.close()
    if not latencies:
        raise SystemExit(f"no decision was timed; answers: {dict(answers)}\n{log.read_text()}")

    print(
        f"{args.clients} clients, {args.workers} worker(s), {args.seconds:.0f} s timed "
        f"after {args.warmup:.0f} s of warm-up"
    )
    print(
        f"decisions/s: {len(latencies) / args.seconds:.0f} ({len(latencies)} timed; "
        + ", ".join(f"{d} {n}" for d, n in sorted(decisions.items()))
        + ")"
    )
    print(
        f"latency: p50 {statistics.median(latencies):.1f} ms, p95 "
        f"{percentile(latencies, 0.95):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {latencies[-1]:.1f} ms"
    )
    print(f"errors: {errors} (answers: {dict(sorted(answers.items()))})")
    print(
        f"CPU while timed: server {server_cpu / args.seconds:.2f} cores, "
        f"clients {own_cpu / args.seconds:.2f} cores (of {os.cpu_count()})"
    )
    print(f"stored: {stored} decisions for {created} answered 201")
    return 0 if errors == 0 and stored == created else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed seconds first")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", help="an empty database's URL (default: a new SQLite file)")
    where.add_argument("--postgres", action="store_true", help="start a private PostgreSQL cluster")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    cluster = PrivatePostgres() if args.postgres else None
    try:
        if cluster is not None:
            cluster.start()
        url = cluster.url if cluster else args.db or f"sqlite:///{home / 'bench-api.db'}"
        print(f"database {shown(url)}")
        return run(args, url, home)
    finally:
        if cluster is not None:
            cluster.remove()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
