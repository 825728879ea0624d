"""The checks every request passes before it reaches a route, as plain ASGI middleware.

In order, each answering in the API's error shape:

1. Host: without a token, only loopback names (421), against DNS rebinding;
2. Authorization: one header at most, and the token on every write (401), before the
   body is read, so a write without the token learns nothing, not even if it was valid;
3. size: a body over ``MAX_BODY`` bytes is refused (413) at once when Content-Length
   says so, and as soon as it grows past the limit when it comes in chunks.

Every answer, refusals included, carries the security headers.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import UserError
from . import errors
from .auth import check_host
from .tokens import ACCESS, TokenBook, authenticate

MAX_BODY = 1024 * 1024
"""The largest request body accepted, in bytes (1 MiB: a request is a few hundred)."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The console loads only its own files: no inline script, no third party, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class BodyTooLarge(HTTPException):
    """The body grew past the limit while it was read (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


class Guard:
    """The middleware: ``token`` is the bearer token writes need (None: loopback mode,
    which checks the Host instead); ``max_body`` the size limit in bytes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        max_body: int = MAX_BODY,
        signed: frozenset[str] = frozenset(),
        tokens: TokenBook | None = None,
    ) -> None:
        """``signed``: paths whose requests authenticate themselves (a webhook's HMAC
        signature, checked by its route), so they need no bearer token. ``tokens``:
        every token accepted, with what each may write (default: ``token`` as the one
        admin token); a write's access is left in the scope's state for the team gate
        (:mod:`.scopes`)."""
        self.app = app
        self.book = tokens if tokens is not None else TokenBook.admin(token)
        self.max_body = max_body
        self.signed = signed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        headers = Headers(scope=scope)
        try:
            if not self.book.configured:
                check_host(headers.get("host"))
            write = scope["method"] not in READ_METHODS and scope["path"] not in self.signed
            access = authenticate(headers.getlist("authorization"), self.book, write)
            if access is not None:
                scope.setdefault("state", {})[ACCESS] = access
        except UserError as error:
            await errors.user_error(error)(scope, receive, send_secured)
            return
        length = _content_length(headers)
        if length is not None and length > self.max_body:
            refusal = BodyTooLarge(self.max_body)
            await errors.problem(413, str(refusal.detail))(scope, receive, send_secured)
            return
        await self.app(scope, self._limited(receive), send_secured)

    def _limited(self, receive: Receive) -> Receive:
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        return receive_limited
