"""The team gate: a team's token writes only that team's decisions, outcomes, overrides
and calendar slots; anything else it would write is refused with 403.

It runs after the guard (:mod:`.guard`), which has checked the token and left its
:class:`~.tokens.Access` in the scope's state. An admin token, a read, and a request
that authenticates itself (a signed webhook) pass untouched. For a team's token, each
write is matched to the team it writes for:

    POST /api/v1/decisions                    the body's "team" (default "default")
    POST /api/v1/scenarios/{id}/run           the default team (scenarios name none)
    POST /api/v1/decisions/{id}/outcome       the team of the stored decision
    POST /api/v1/decisions/{id}/override      (the id, or a unique prefix of it)
    POST /api/v1/calendar/{id}/cancel
    POST /api/v1/outcomes                     the team of the ref's live decision
    POST /api/v1/outcomes/flagger             (the ref in the body, or in its metadata)
    any other write (learn, ...)              refused: it needs an admin token

A write the gate cannot place (a body that is not JSON, an id no decision has) goes on
to its route, which refuses it as bad input or unknown (422, 404) without writing.
Reads are not filtered: every team may read every decision (see the README).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import NotFound, StoreError
from ..domain.models import DEFAULT_TEAM
from ..memory.store import Store
from . import errors
from .auth import Forbidden
from .guard import READ_METHODS, BodyTooLarge
from .tokens import ACCESS, Access

API = "/api/v1"
_BY_ID = (
    re.compile(rf"^{API}/decisions/([^/]+)/(?:outcome|override)$"),
    re.compile(rf"^{API}/calendar/([^/]+)/cancel$"),
)
_SCENARIO = re.compile(rf"^{API}/scenarios/[^/]+/run$")
_BY_REF = {f"{API}/outcomes": ("ref",), f"{API}/outcomes/flagger": ("metadata", "ref")}
DECISIONS = f"{API}/decisions"

Owner = Callable[[str], "str | None"]
"""The team of a decision named by an id (or a ref): None when none is found."""


class TeamGate:
    """The middleware; ``owner_of_id`` and ``owner_of_ref`` read the team of a stored
    decision (they are called in a worker thread)."""

    def __init__(self, app: ASGIApp, *, owner_of_id: Owner, owner_of_ref: Owner) -> None:
        self.app = app
        self.owner_of_id = owner_of_id
        self.owner_of_ref = owner_of_ref

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        access = scope.get("state", {}).get(ACCESS) if scope["type"] == "http" else None
        if not isinstance(access, Access) or access.admin or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):  # served under a prefix: route on the rest
            path = path[len(root) :]
        path = path.rstrip("/") or "/"
        try:
            if path == DECISIONS or path in _BY_REF:
                body, receive = await _buffered(receive)
                if path == DECISIONS:
                    team = _team_in(body)
                else:
                    ref = _at(body, _BY_REF[path])
                    team = await run_in_threadpool(self.owner_of_ref, ref) if ref else None
            elif _SCENARIO.match(path):
                team = DEFAULT_TEAM
            else:
                team = await self._team_by_id(path)
        except BodyTooLarge as refusal:
            await errors.problem(413, str(refusal.detail))(scope, receive, send)
            return
        except Forbidden as refusal:
            await errors.user_error(refusal)(scope, receive, send)
            return
        if team is not None and not access.may_write(team):
            denied = Forbidden(
                f"this token writes for {access.describe()} only, not for team {team!r}; "
                "use a token of that team, or an admin token",
                field="team",
            )
            await errors.user_error(denied)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _team_by_id(self, path: str) -> str | None:
        for pattern in _BY_ID:
            found = pattern.match(path)
            if found:
                return await run_in_threadpool(self.owner_of_id, found.group(1))
        raise Forbidden(
            "only an admin token may do this (it writes for no one team); this token "
            "writes for its teams' decisions, outcomes, overrides and calendar slots",
            field="authorization",
        )


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands it to the app as if unread."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _team_in(body: bytes) -> str | None:
    """The team a decision's body names (the route reads it the same way, and strips
    it); None when the body is not one the route would accept."""
    data = _parsed(body)
    if not isinstance(data, dict):
        return None
    team = data.get("team", DEFAULT_TEAM)
    return team.strip() if isinstance(team, str) else None


def _at(body: bytes, keys: tuple[str, ...]) -> str | None:
    value = _parsed(body)
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value.strip() if isinstance(value, str) else None


def install(app: Any, store: Store) -> None:
    """Add the gate to ``app`` (before the guard is added, so that the guard runs
    first), reading the teams of stored decisions from ``store``."""

    def owner_of_id(release_id: str) -> str | None:
        try:
            return store.get_decision(release_id).request.team
        except (NotFound, StoreError):  # the route answers it (404, 503)
            return None

    def owner_of_ref(ref: str) -> str | None:
        try:
            record = store.decision_by_ref(ref)
        except StoreError:
            return None
        return None if record is None else record.request.team

    app.add_middleware(TeamGate, owner_of_id=owner_of_id, owner_of_ref=owner_of_ref)
