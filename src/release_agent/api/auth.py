"""Who may write, where the server may listen, and which host names it answers.

With ``RELEASE_AGENT_API_TOKEN`` set, every write (POST) needs ``Authorization: Bearer
<token>``; reads are open. Without a token the server listens on loopback only, so that an
unauthenticated instance is never reachable from another machine, and it answers only
requests addressed to a loopback name, so that a web page cannot reach it through a DNS
name that its attacker points at 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from ..domain.errors import InvalidInput, UserError

TOKEN_ENV = "RELEASE_AGENT_API_TOKEN"
MIN_TOKEN = 16
"""The shortest token accepted: anything shorter can be guessed."""
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class Unauthorized(UserError):
    """A request came without the right bearer token (HTTP 401)."""


class Forbidden(UserError):
    """A valid token that may not write this (another team's release; HTTP 403)."""


class MisdirectedHost(UserError):
    """A request named a host that this server does not answer for (HTTP 421)."""


def check_token_value(token: str, name: str = TOKEN_ENV) -> str:
    """``token`` if it is a usable secret: at least MIN_TOKEN visible ASCII characters,
    no white space (a space pasted around it would never match the header).

    Raises InvalidInput naming ``name``; the message never repeats the token.
    """
    if token.strip() != token or any(c.isspace() for c in token):
        raise InvalidInput(
            "has white space in it; set it to the token alone, without spaces or newlines",
            field=name,
        )
    if not (token.isascii() and token.isprintable()):
        raise InvalidInput(
            "must be visible ASCII characters, as an HTTP header can carry them", field=name
        )
    if len(token) < MIN_TOKEN:
        raise InvalidInput(
            f"is {len(token)} characters long; use at least {MIN_TOKEN}, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            field=name,
        )
    return token


def token_from_env() -> str | None:
    """The API token from the environment; an empty value counts as none.

    Raises InvalidInput naming RELEASE_AGENT_API_TOKEN when the value is too short or
    has white space around it (see ``check_token_value``).
    """
    value = os.environ.get(TOKEN_ENV)
    return check_token_value(value) if value else None


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


def check_bind(host: str, token: str | bool | None) -> None:
    """Allow listening on ``host`` only with a token (a token, or True when tokens are
    configured) or on loopback.

    Raises InvalidInput (field ``host``) naming RELEASE_AGENT_API_TOKEN otherwise.
    """
    if token or is_loopback(host):
        return
    raise InvalidInput(
        f"refusing to listen on {host} without authentication: set {TOKEN_ENV} to a secret "
        "that clients send as 'Authorization: Bearer <token>', or listen on 127.0.0.1",
        field="host",
    )


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:8000`` gives ``::1``."""
    header = header.strip()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") == 1:
        return header.partition(":")[0]
    return header


def check_host(header: str | None) -> None:
    """Pass when the ``Host`` header names a loopback address or ``localhost``; raise
    MisdirectedHost otherwise (for a server without a token)."""
    if header is not None and is_loopback(host_name(header)):
        return
    given = "no Host header" if header is None else f"Host {header[:60]!r}"
    raise MisdirectedHost(
        f"this server has no {TOKEN_ENV}, so it answers only requests addressed to "
        f"localhost, 127.0.0.1 or [::1]; got {given}. Open it at http://127.0.0.1:<port>/, "
        f"or set {TOKEN_ENV} to serve other names",
        field="host",
    )


def check_authorization(headers: list[str], token: str | None, write: bool) -> None:
    """Pass when the request may go on; raise Unauthorized otherwise.

    ``headers`` are the request's ``Authorization`` values. More than one is refused on
    any request (which would a proxy and we each read?); a write needs the token when one
    is configured. The comparison runs in constant time.
    """
    if len(headers) > 1:
        raise Unauthorized("send one Authorization header, not several", field="authorization")
    if token is None or not write:
        return
    scheme, _, given = (headers[0] if headers else "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized(
            "this server needs 'Authorization: Bearer <token>' for writes", field="authorization"
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("the bearer token is not valid", field="authorization")
