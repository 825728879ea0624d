"""Who may write, and where the server may listen.

With ``RELEASE_AGENT_API_TOKEN`` set, every write (POST) needs ``Authorization: Bearer
<token>``; reads are open. Without a token the server listens on loopback only, so that an
unauthenticated instance is never reachable from another machine.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from fastapi import Request

from ..domain.errors import InvalidInput, UserError

TOKEN_ENV = "RELEASE_AGENT_API_TOKEN"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class Unauthorized(UserError):
    """A write came without the right bearer token (HTTP 401)."""


def token_from_env() -> str | None:
    """The API token from the environment; an empty value counts as none."""
    return os.environ.get(TOKEN_ENV) or None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``; False otherwise,
    including for any other host name (it might resolve to anything)."""
    text = host.strip().strip("[]").lower()
    if text in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Allow listening on ``host`` only with a token or on loopback.

    Raises InvalidInput (field ``host``) naming RELEASE_AGENT_API_TOKEN otherwise.
    """
    if token or is_loopback(host):
        return
    raise InvalidInput(
        f"refusing to listen on {host} without authentication: set {TOKEN_ENV} to a secret "
        "that clients send as 'Authorization: Bearer <token>', or listen on 127.0.0.1",
        field="host",
    )


def check_token(request: Request, token: str | None) -> None:
    """Pass when no token is configured or the request carries it; raise Unauthorized.

    The comparison runs in constant time.
    """
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized(
            "this server needs 'Authorization: Bearer <token>' for writes", field="authorization"
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("the bearer token is not valid", field="authorization")
