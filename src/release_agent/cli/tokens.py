"""``release-agent tokens``: the hashes a tokens file holds (see ``serve --tokens-file``).

    $ python -c 'import secrets; print(secrets.token_urlsafe(32))' > payments.token
    $ release-agent tokens hash < payments.token
    sha256:3c9d0b...

The token is read from standard input (or asked for, without echo, on a terminal) and
never printed; only its hash is.
"""

from __future__ import annotations

import sys

import click

from .common import echo_json
from .options import output_options


@click.group()
def tokens() -> None:
    """API tokens scoped to teams: hash one for a tokens file."""


@tokens.command("hash")
@output_options
def hash_command(as_json: bool) -> None:
    """Print the SHA-256 hash of a token read from standard input (the token itself is
    never printed). Put it in a tokens file with the teams it may write for:

    \b
        [tokens]
        "sha256:..." = ["payments"]     # or "*" for an admin token
    """
    from ..api.auth import check_token_value
    from ..api.tokens import hash_token

    if sys.stdin.isatty():
        given = click.prompt("token", hide_input=True, err=True)
    else:
        given = sys.stdin.readline().rstrip("\r\n")
    token = check_token_value(given, "token")
    digest = hash_token(token)
    if as_json:
        echo_json({"sha256": digest})
        return
    click.echo(digest)
