"""``release-agent serve``: the HTTP API and the web console in one process.

Without RELEASE_AGENT_API_TOKEN it listens on loopback only (exit 2 otherwise), so an
instance that anyone may write to is never reachable from another machine. The socket is
bound before anything is printed: a busy port exits 1 saying so, and the URL printed is
one that is really being listened on.

It runs a background learner (a learning run after ``--learn-every`` new outcomes, or
``--learn-interval`` minutes after the last when any outcome is new; ``--no-learn``
leaves learning to ``release-agent learn`` from cron). ``--workers N`` runs N uvicorn
worker processes over one database: each builds its app from the environment
(:mod:`release_agent.api.serving`), which this command fills from its options; each has
its learner, and the database's learner lock lets one run at a time.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..domain.errors import RuntimeFault, UserError
from ..integrations.logs import FORMATS as LOG_FORMATS
from ..integrations.logs import log_config
from .common import EXIT_ERROR, EXIT_INPUT
from .options import AgentOptions, agent_options

if TYPE_CHECKING:
    from ..learn.worker import LearnSettings

BACKLOG = 2048
MAX_WORKERS = 64
MIN_INTERVAL_MINUTES = 0.1
WORKER_APP = "release_agent.api.serving:create_app_from_env"


def _address(name: str, port: int) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
    """The family and socket address for ``name``: an IP address as it is, a host name
    through the resolver (its first answer)."""
    try:
        ip = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        family, _, _, _, address = socket.getaddrinfo(
            name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        return family, tuple(address)
    if ip.version == 6:
        return socket.AF_INET6, (name, port, 0, 0)
    return socket.AF_INET, (name, port)


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` and listening (port 0: any free port).

    ``host`` may be a name, an IPv4 address or an IPv6 address (with or without
    brackets). Raises RuntimeFault saying why when the address cannot be had (in use,
    not this machine's, not permitted).
    """
    name = host.strip().strip("[]")
    try:
        family, address = _address(name, port)
    except (OSError, UnicodeError) as error:
        raise RuntimeFault(f"cannot listen on {host}: {error}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # as uvicorn does; on Windows it would allow stealing the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it (the server answers in small writes).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        raise RuntimeFault(f"cannot listen on {host}:{port}: {reason.lower()}") from None
    return sock


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port."
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="Log lines as text, or as one JSON object per line (with release_id).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, MAX_WORKERS),
    help="Worker processes over one database (PostgreSQL scales writes; SQLite has one "
    "writer at a time).",
)
@click.option(
    "--learn-every",
    type=click.IntRange(1, 1_000_000),
    envvar="RELEASE_AGENT_LEARN_EVERY",
    metavar="N",
    help="Learn in the background after N new outcomes (default: the policy's "
    "extract_every). Env: RELEASE_AGENT_LEARN_EVERY.",
)
@click.option(
    "--learn-interval",
    type=click.FloatRange(MIN_INTERVAL_MINUTES, 10_080.0),
    envvar="RELEASE_AGENT_LEARN_INTERVAL",
    default=10.0,
    show_default=True,
    metavar="MINUTES",
    help="Also learn this long after the last run when any outcome is new. "
    "Env: RELEASE_AGENT_LEARN_INTERVAL.",
)
@click.option(
    "--tokens-file",
    type=click.Path(dir_okay=False),
    envvar="RELEASE_AGENT_TOKENS_FILE",
    metavar="FILE",
    help="API tokens scoped to teams: SHA-256 hashes (`release-agent tokens hash`) with "
    "the teams each may write for, TOML or JSON. Env: RELEASE_AGENT_TOKENS_FILE.",
)
@click.option(
    "--no-learn",
    is_flag=True,
    help="No background learner: run `release-agent learn` (e.g. from cron) instead.",
)
@agent_options()
def serve(
    host: str,
    port: int,
    log_format: str,
    workers: int,
    learn_every: int | None,
    learn_interval: float,
    no_learn: bool,
    tokens_file: str | None,
    agent: AgentOptions,
) -> None:
    """Serve the HTTP API (/api/v1, /openapi.json) and the console (/).

    With RELEASE_AGENT_API_TOKEN set, every write needs 'Authorization: Bearer <token>'
    (RELEASE_AGENT_API_TOKENS and --tokens-file add tokens scoped to teams); without a
    token the server listens on loopback only. Exits 2 when asked to listen elsewhere
    without a token, 1 when the port is taken.

    Learning runs in the background (--learn-every, --learn-interval; --no-learn for
    none); with --workers N, in every worker, one run at a time per database.
    """
    import uvicorn

    from ..api import TOKEN_ENV, check_bind, create_app
    from ..api.auth import token_from_env
    from ..api.tokens import TOKENS_FILE_ENV, book_from_env
    from ..integrations.github.config import GitHubSettings
    from ..learn.worker import LearnSettings

    token = token_from_env()
    learning = None if no_learn else LearnSettings(learn_every, learn_interval * 60.0)
    target: Any
    # Handled here as well as by the group: tests and embedders invoke this command alone.
    try:
        book = book_from_env(token, tokens_file=tokens_file)
        check_bind(host, book.configured)
        if tokens_file:  # the worker processes read it too
            os.environ[TOKENS_FILE_ENV] = str(Path(tokens_file).resolve())
        # Checked here too: with --workers the apps are built in the worker processes.
        github = GitHubSettings.from_env()
        if workers == 1:
            target = create_app(agent.build, token=token, learning=learning, tokens=book)
        else:
            target = _for_workers(agent, learning, workers)
        sock = listen(host, port)
    except UserError as error:
        click.echo(f"error: {error}", err=True)
        click.get_current_context().exit(EXIT_INPUT)
    except RuntimeFault as error:
        click.echo(f"error: {error}", err=True)
        click.get_current_context().exit(EXIT_ERROR)
    with sock:
        bound = sock.getsockname()[1]
        auth = (
            "writes need a bearer token" if book.configured else f"no {TOKEN_ENV}: writes are open"
        )
        shown = f"[{host.strip('[]')}]" if ":" in host else host
        click.echo(f"release-agent console on http://{shown}:{bound}/ ({auth})", err=True)
        if github.enabled:
            click.echo(
                f"GitHub deployment protection rule on http://{shown}:{bound}"
                "/integrations/github/webhook"
                + ("" if github.can_review else " (no App or token set: it cannot answer)"),
                err=True,
            )
        # uvicorn serves the socket bound above (by its descriptor), so there is no moment
        # between the check and the serving when another process could take the port.
        uvicorn.run(
            target,
            host=host,
            port=bound,
            fd=sock.fileno(),
            log_level="info",
            log_config=log_config(log_format),
            workers=workers,
            factory=workers > 1,
        )


def _for_workers(agent: AgentOptions, learning: LearnSettings | None, workers: int) -> str:
    """Check the options by building the agent once here (a bad database, policy or
    reasoner fails before anything listens), put them in the environment the worker
    processes inherit, and return the import string of their app factory."""
    from ..api.serving import LEARN_ENV, LEARN_EVERY_ENV, LEARN_INTERVAL_ENV

    built = agent.build()
    try:
        if learning is not None:
            learning.cadence(built.policy.settings.extract_every)
        if built.store.engine.dialect.name == "sqlite":
            click.echo(
                f"warning: {workers} workers over SQLite: it has one writer at a time, so "
                "decisions and outcomes are written one after another; use PostgreSQL "
                "(--db postgresql://...) for writes that scale",
                err=True,
            )
    finally:
        built.store.close()
    settings = {
        "RELEASE_AGENT_DB": agent.db,
        "RELEASE_AGENT_POLICY": str(Path(agent.policy).resolve()) if agent.policy else None,
        "RELEASE_AGENT_REASONER": agent.reasoner,
        "RELEASE_AGENT_MODEL": agent.model,
        "RELEASE_AGENT_ON_LLM_FAILURE": agent.on_llm_failure,
        LEARN_ENV: "off" if learning is None else "on",
        LEARN_EVERY_ENV: None if learning is None else _text(learning.every_outcomes),
        LEARN_INTERVAL_ENV: None if learning is None else repr(learning.every_seconds / 60.0),
    }
    for name, value in settings.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    # The workers are the parallelism: a linear-algebra library in each starting a thread
    # per core would put N times the cores' threads on the cores, spinning against each
    # other. One thread each, unless the environment says otherwise.
    for name in BLAS_THREADS:
        os.environ.setdefault(name, "1")
    return WORKER_APP


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables that set how many threads numpy's linear algebra starts."""


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)
