"""``release-agent serve``: the HTTP API and the web console in one process.

Without RELEASE_AGENT_API_TOKEN it listens on loopback only (exit 2 otherwise), so an
instance that anyone may write to is never reachable from another machine. The socket is
bound before anything is printed: a busy port exits 1 saying so, and the URL printed is
one that is really being listened on.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

import click

from ..domain.errors import RuntimeFault, UserError
from ..integrations.logs import FORMATS as LOG_FORMATS
from ..integrations.logs import log_config
from .common import EXIT_ERROR, EXIT_INPUT
from .options import AgentOptions, agent_options

BACKLOG = 2048


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
@agent_options()
def serve(host: str, port: int, log_format: str, agent: AgentOptions) -> None:
    """Serve the HTTP API (/api/v1, /openapi.json) and the console (/).

    With RELEASE_AGENT_API_TOKEN set, every write needs 'Authorization: Bearer <token>';
    without it the server listens on loopback only. Exits 2 when asked to listen elsewhere
    without a token, 1 when the port is taken.
    """
    import uvicorn

    from ..api import TOKEN_ENV, check_bind, create_app
    from ..api.auth import token_from_env

    token = token_from_env()
    # Handled here as well as by the group: tests and embedders invoke this command alone.
    try:
        check_bind(host, token)
        app = create_app(agent.build, token=token)
        sock = listen(host, port)
    except UserError as error:
        click.echo(f"error: {error}", err=True)
        click.get_current_context().exit(EXIT_INPUT)
    except RuntimeFault as error:
        click.echo(f"error: {error}", err=True)
        click.get_current_context().exit(EXIT_ERROR)
    with sock:
        bound = sock.getsockname()[1]
        auth = "writes need the bearer token" if token else f"no {TOKEN_ENV}: writes are open"
        shown = f"[{host.strip('[]')}]" if ":" in host else host
        click.echo(f"release-agent console on http://{shown}:{bound}/ ({auth})", err=True)
        # uvicorn serves the socket bound above (by its descriptor), so there is no moment
        # between the check and the serving when another process could take the port.
        uvicorn.run(
            app,
            host=host,
            port=bound,
            fd=sock.fileno(),
            log_level="info",
            log_config=log_config(log_format),
        )
