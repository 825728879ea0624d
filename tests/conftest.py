"""Test-wide setup: no real network, a private data directory, a clean environment, and
the database under test (SQLite, or PostgreSQL with RELEASE_AGENT_TEST_DB)."""

from __future__ import annotations

import inspect
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from release_agent.memory.store import Store

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class RealNetworkForbidden(RuntimeError):
    """A test tried to reach a host that is not this machine."""


def _is_local(host: object) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if not _is_local(host):
        raise RealNetworkForbidden(f"tests must not reach {host!r}; use a local server")
    return _real_getaddrinfo(host, *args, **kwargs)


def _check_address(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_local(address[0]):
        raise RealNetworkForbidden(f"tests must not connect to {address!r}")


def _guarded_connect(self, address):  # type: ignore[no-untyped-def]
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):  # type: ignore[no-untyped-def]
    _check_address(address)
    return _real_connect_ex(self, address)


socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]

_ENV_VARS = (
    "RELEASE_AGENT_DB",
    "RELEASE_AGENT_POLICY",
    "RELEASE_AGENT_REASONER",
    "RELEASE_AGENT_MODEL",
    "RELEASE_AGENT_API_TOKEN",
    "RELEASE_AGENT_ON_LLM_FAILURE",
    "RELEASE_AGENT_LLM_TIMEOUT",
    "RELEASE_AGENT_LLM_RETRIES",
    "RELEASE_AGENT_LLM_BACKOFF",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data and config directories and no provider keys."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    yield


# -- the database under test -----------------------------------------------------------
#
# RELEASE_AGENT_TEST_DB chooses the backend of the tests that ask for ``database_url``:
# unset or "sqlite": a fresh SQLite file per test; "postgresql": a private PostgreSQL
# cluster started for the session from the distribution's binaries (initdb, pg_ctl), a
# fresh database per test; a postgresql:// URL: that server (its user must be allowed to
# create databases), a fresh database per test.

TEST_DB = "RELEASE_AGENT_TEST_DB"
POSTGRES_SKIP = f"needs PostgreSQL: set {TEST_DB}=postgresql (or a postgresql:// URL)"


def _test_db() -> str:
    return os.environ.get(TEST_DB, "").strip()


def on_postgres() -> bool:
    """Whether this run's tests use PostgreSQL."""
    return _test_db().lower().startswith("postgres")


def _pg_binaries() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail(f"{TEST_DB}=postgresql but no PostgreSQL server is installed (initdb)")
    return Path(initdb).resolve().parent


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` run as the postgres user when we are root (the server refuses root)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """A private PostgreSQL cluster in a temporary directory, on a free loopback port,
    run by the postgres user when we are root (the server refuses root)."""

    def __init__(self) -> None:
        self.bin_dir = _pg_binaries()
        self.home = Path(tempfile.mkdtemp(prefix="release-agent-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres")
        self.data = self.home / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        initdb = [str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust"]
        self._run([*initdb, "-U", "postgres", "--no-sync", "-E", "UTF8"])

    def _run(self, command: list[str]) -> None:
        subprocess.run(_as_postgres(command), check=True, capture_output=True, timeout=180)

    def _ctl(self, *args: str) -> list[str]:
        return [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), *args]

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.home / "server.log")
        self._run(self._ctl("-o", options, "-l", log, "-w", "start"))

    def restart(self) -> None:
        """Stop the server at once (every connection dies) and start it again."""
        self._run(self._ctl("-m", "immediate", "-w", "stop"))
        self.start()

    def remove(self) -> None:
        subprocess.run(
            _as_postgres(self._ctl("-m", "immediate", "stop")), capture_output=True, timeout=60
        )
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster | None]:
    """The private cluster RELEASE_AGENT_TEST_DB=postgresql asks for; None otherwise."""
    if not on_postgres() or "://" in _test_db():
        yield None
        return
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def postgres_server(postgres_cluster: PostgresCluster | None) -> str | None:
    """The administrator URL of the PostgreSQL server the tests use; None on SQLite."""
    if postgres_cluster is not None:
        return postgres_cluster.url
    return _test_db() if on_postgres() else None


def _admin(server: str, statement: str) -> None:
    import psycopg

    url = server.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(statement)


def create_database(server: str | None, directory: Path) -> str:
    """The URL of a new, empty database: an SQLite file in ``directory``, or a database
    created on the PostgreSQL ``server``."""
    if server is None:
        return f"sqlite:///{directory / f'memory-{uuid.uuid4().hex[:8]}.db'}"
    name = f"ra_test_{uuid.uuid4().hex[:16]}"
    _admin(server, f'CREATE DATABASE "{name}"')
    return f"{server.rsplit('/', 1)[0]}/{name}"


def drop_database(server: str | None, url: str) -> None:
    """Drop a database :func:`create_database` made on ``server`` (SQLite: nothing)."""
    if server is not None:
        _admin(server, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture
def fresh_database(postgres_server: str | None, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A maker of fresh, empty databases on the backend under test (each call: a new
    one); they are dropped when the test ends."""
    made: list[str] = []

    def make() -> str:
        made.append(create_database(postgres_server, tmp_path))
        return made[-1]

    yield make
    for url in made:
        drop_database(postgres_server, url)


@pytest.fixture
def database_url(fresh_database: Callable[[], str]) -> str:
    """A fresh, empty database on the backend under test (see RELEASE_AGENT_TEST_DB)."""
    return fresh_database()


@pytest.fixture
def sqlite_only() -> None:
    """Skip a test about SQLite itself (files, pragmas) when PostgreSQL is under test."""
    if on_postgres():
        pytest.skip("about SQLite itself; this run tests PostgreSQL")


@pytest.fixture
def postgres_only(postgres_server: str | None) -> str:
    """Skip unless PostgreSQL is under test; returns the administrator URL."""
    if postgres_server is None:
        pytest.skip(POSTGRES_SKIP)
    return postgres_server


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A store over a fresh database of the backend under test (a test module may define
    a ``store`` of its own)."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need PostgreSQL are deselected, not skipped, when this run does not test
    it: the SQLite run (the README's test command) then skips nothing, and the
    PostgreSQL run (RELEASE_AGENT_TEST_DB=postgresql, as .ci/run does) runs them."""
    if on_postgres():
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        # Only what a test asks for itself: many fixtures reach the cluster fixture to
        # learn that there is none.
        function = getattr(item, "function", None)
        asks = set(inspect.signature(function).parameters) if function else set()
        needs = "postgres_only" in asks or "postgres_cluster" in asks
        (dropped if needs else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
