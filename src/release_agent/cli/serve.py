"""``release-agent serve``: the HTTP API and the web console in one process.

Without RELEASE_AGENT_API_TOKEN it listens on loopback only (exit 2 otherwise), so an
instance that anyone may write to is never reachable from another machine.
"""

from __future__ import annotations

import click

from ..api import TOKEN_ENV, check_bind, create_app
from ..api.auth import token_from_env
from ..domain.errors import UserError
from .common import EXIT_INPUT, agent_options, build_agent


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port."
)
@agent_options
def serve(
    host: str,
    port: int,
    db: str | None,
    policy: str | None,
    reasoner: str | None,
    model: str | None,
    on_llm_failure: str,
) -> None:
    """Serve the HTTP API (/api/v1, /openapi.json) and the console (/).

    With RELEASE_AGENT_API_TOKEN set, every write needs 'Authorization: Bearer <token>'; without it
    the server listens on loopback only. Exits 2 when asked to listen elsewhere without
    a token.
    """
    import uvicorn

    token = token_from_env()
    try:
        check_bind(host, token)
        app = create_app(
            lambda: build_agent(db, policy, reasoner, model, on_llm_failure), token=token
        )
    except UserError as error:
        click.echo(f"error: {error}", err=True)
        click.get_current_context().exit(EXIT_INPUT)
    auth = "writes need the bearer token" if token else f"no {TOKEN_ENV}: writes are open"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"release-agent console on http://{shown}:{port}/ ({auth})", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info")
