"""Where a CI gate gets its decision: a release-agent server over HTTP, or this machine.

:class:`ServerBackend` speaks the JSON API (``POST /api/v1/decisions`` and
``POST /api/v1/decisions/{id}/outcome``) with the standard library only, so a CI job can
ask a server without installing release-agent's dependencies. :class:`LocalBackend` runs
an :class:`~release_agent.agent.Agent` in this process (imported only when used).

Both answer a :class:`Verdict` or raise :class:`GateError` carrying the exit status: 2
for input the caller must fix (a field, the token, the URL), 1 for anything else. Nothing
that fails is ever a GO: a server answer that is not a well-formed decision is an error.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

DECISIONS = ("GO", "NO_GO", "DELAY")
RESULTS = ("success", "degraded", "rolled_back", "incident", "not_deployed")

INPUT_OF_FIELD = {
    "service": "service",
    "env": "env",
    "feature_risk": "feature-risk",
    "service_criticality": "criticality",
    "clashes": "clash",
    "team": "team",
    "shadow": "shadow",
    "notes": "notes",
    "ref": "ref",
    "delays": "delays",
    "result": "result",
    "replace": "replace",
}
"""The action's input that carries each field of a request (for error messages)."""

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 30.0
MAX_MESSAGE = 300


class GateError(Exception):
    """The gate could not answer. ``exit_code`` 2: the caller's input is at fault (it
    names the input); 1: the server, the network or the database failed."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Ask:
    """One question to the gate: may this release go out now?"""

    service: str
    env: str
    feature_risk: str
    criticality: str
    clashes: list[str] = field(default_factory=list)
    notes: str | None = None
    ref: str | None = None
    team: str | None = None
    shadow: bool = False
    delays: int = 0

    def body(self) -> dict[str, Any]:
        """The request as the API takes it. It has no ``at``: the gate decides for the
        moment it is asked, in the time zone of the team's policy (a runner's clock and
        zone are not the team's)."""
        data: dict[str, Any] = {
            "service": self.service,
            "env": self.env,
            "feature_risk": self.feature_risk,
            "service_criticality": self.criticality,
            "clashes": list(self.clashes),
            "delays": self.delays,
        }
        if self.notes is not None:
            data["notes"] = self.notes
        if self.ref is not None:
            data["ref"] = self.ref
        if self.team is not None:
            data["team"] = self.team
        if self.shadow:
            data["shadow"] = True
        return data


@dataclass(frozen=True)
class Verdict:
    """What the gate answered."""

    decision: str
    """GO, NO_GO or DELAY."""
    release_id: str
    reason: str
    next_window: datetime | None
    delays: int
    """How many times the release had been delayed when this was decided."""
    shadow: bool = False
    """Advice only: the decision blocks nothing (the step passes whatever it is)."""
    warnings: tuple[str, ...] = ()
    """What the caller should look at, though it did not decide."""


class Backend(Protocol):
    """A place that decides and records outcomes."""

    def decide(self, ask: Ask) -> Verdict: ...

    def record_outcome(
        self, release_id: str, result: str, notes: str | None, replace: bool
    ) -> bool:
        """Record ``result``; True if it was recorded now, False if the same result was
        recorded already (a re-run). Raises GateError for a different result already
        recorded without ``replace``."""
        ...

    def close(self) -> None: ...


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


def _input_name(api_field: object) -> str | None:
    if not isinstance(api_field, str) or not api_field:
        return None
    head = api_field.split(".", 1)[0]
    return INPUT_OF_FIELD.get(head, head)


def verdict_of(data: object) -> Verdict:
    """The :class:`Verdict` in a decision record (as JSON). Raises GateError(1) if
    ``data`` is not one: a garbled answer must never pass as a GO."""
    if not isinstance(data, dict):
        raise GateError("the server's answer is not a decision record (not a JSON object)")
    decision = data.get("decision")
    release_id = data.get("release_id")
    reason = data.get("reason")
    window = data.get("next_window")
    request = data.get("request")
    delays = request.get("delays", 0) if isinstance(request, dict) else 0
    if decision not in DECISIONS:
        raise GateError("the server's answer has no decision (GO, NO_GO or DELAY)")
    if not isinstance(release_id, str) or not release_id:
        raise GateError("the server's answer has no release_id")
    if not isinstance(reason, str):
        raise GateError("the server's answer has no reason")
    if not isinstance(delays, int) or isinstance(delays, bool) or delays < 0:
        raise GateError("the server's answer has a malformed request.delays")
    next_window: datetime | None = None
    if window is not None:
        try:
            next_window = datetime.fromisoformat(str(window))
        except ValueError:
            raise GateError("the server's answer has a malformed next_window") from None
        if next_window.tzinfo is None:
            raise GateError("the server's answer has a next_window without a UTC offset")
    if decision == "DELAY" and next_window is None:
        raise GateError("the server's answer is a DELAY without a next_window")
    shadow = data.get("shadow", False)
    if not isinstance(shadow, bool):
        raise GateError("the server's answer has a malformed shadow")
    warnings = data.get("warnings", [])
    if not isinstance(warnings, list):
        raise GateError("the server's answer has malformed warnings")
    said = tuple(str(warning) for warning in warnings)
    return Verdict(str(decision), release_id, reason, next_window, delays, shadow, said)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: following one would send the bearer token to wherever it
    points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class ServerBackend:
    """A release-agent server at ``url`` (its root, e.g. ``https://gate.example.com``).

    Requests are retried ``retries`` times on a dropped connection, a timeout, 429, 502,
    503 or 504, waiting 2 s, 4 s, ... or the server's ``Retry-After`` (at most 30 s).
    Retrying a decision is safe because it carries a ``ref``: the server answers the
    decision already made for it.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout: float = 120.0,
        retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self.opener = urllib.request.build_opener(_NoRedirect())

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> tuple[int, Any]:
        """(status, parsed JSON or None). Raises GateError when no answer came."""
        headers = {"Accept": "application/json", "User-Agent": "release-agent-action"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        attempt = 0
        while True:
            request = urllib.request.Request(
                self.url + path, data=data, headers=headers, method=method
            )
            wait = 2.0 * 2**attempt
            try:
                with self.opener.open(request, timeout=self.timeout) as answer:
                    return answer.status, _json(answer.read())
            except urllib.error.HTTPError as error:
                status = error.code
                payload = _json(error.read())
                if status not in RETRY_STATUSES or attempt >= self.retries:
                    if 300 <= status < 400:
                        raise GateError(
                            f"server-url: the server answered {status} (a redirect), which "
                            "is not followed so the token stays with this server; give the "
                            "address it redirects to",
                            2,
                        ) from None
                    return status, payload
                wait = _retry_after(error.headers.get("Retry-After"), wait)
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                TimeoutError,
                ConnectionError,
            ) as error:
                reason = getattr(error, "reason", error)
                cause = f"{type(reason).__name__}: {reason}"
                if attempt >= self.retries:
                    raise GateError(
                        f"cannot reach the release-agent server at {self.url}: {cause}"
                    ) from None
            attempt += 1
            self.sleep(wait)

    def _problem(self, status: int, payload: Any, what: str) -> GateError:
        """The error for an answer that is not a success."""
        detail = payload.get("detail") if isinstance(payload, dict) else None
        first = detail[0] if isinstance(detail, list) and detail else None
        message = first.get("message") if isinstance(first, dict) else None
        input_name = _input_name(first.get("field")) if isinstance(first, dict) else None
        said = f": {_clip(message)}" if isinstance(message, str) else ""
        if status == 401:
            return GateError(
                f"token: the server refused the request (401); set token to the server's "
                f"RELEASE_AGENT_API_TOKEN{said}",
                2,
            )
        if status == 422:
            if input_name and isinstance(message, str):
                shown = _clip(message)
                prefix = first.get("field") if isinstance(first, dict) else None
                if isinstance(prefix, str) and shown.startswith(prefix + ":"):
                    shown = shown[len(prefix) + 1 :].lstrip()
                return GateError(f"{input_name}: {shown}", 2)
            return GateError(f"the server refused the {what} (422){said}", 2)
        if status in (404, 409, 413, 421):
            return GateError(f"the server refused the {what} ({status}){said}", 2)
        return GateError(f"the server failed to answer the {what} ({status}){said}")

    def decide(self, ask: Ask) -> Verdict:
        status, payload = self._call("POST", "/api/v1/decisions", ask.body())
        if status not in (200, 201):
            raise self._problem(status, payload, "decision")
        return verdict_of(payload)

    def record_outcome(
        self, release_id: str, result: str, notes: str | None, replace: bool
    ) -> bool:
        path = f"/api/v1/decisions/{urllib.parse.quote(release_id, safe='')}"
        body: dict[str, Any] = {"result": result, "replace": replace}
        if notes is not None:
            body["notes"] = notes
        status, payload = self._call("POST", path + "/outcome", body)
        if status in (200, 201):
            return True
        if status == 409:
            # A re-run, or a retry whose first attempt landed: the same result is done.
            got, record = self._call("GET", path, None)
            outcome = record.get("outcome") if isinstance(record, dict) else None
            if got != 200 or not isinstance(outcome, dict):
                raise self._problem(status, payload, "outcome")  # e.g. a NO_GO: say why
            if outcome.get("result") == result:
                return False
            recorded = outcome.get("result")
            raise GateError(
                f"result: release {release_id} already has the outcome {recorded!s}; set "
                "replace: true to overwrite it",
                2,
            )
        raise self._problem(status, payload, "outcome")

    def close(self) -> None:
        self.opener.close()


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _retry_after(header: str | None, default: float) -> float:
    try:
        seconds = float(header) if header is not None else default
    except ValueError:
        return default
    if seconds != seconds or seconds < 0:  # NaN or negative
        return default
    return min(seconds, MAX_RETRY_AFTER)


class LocalBackend:
    """An Agent in this process over ``db`` (default: RELEASE_AGENT_DB, else the data
    directory) and ``policy`` (default: RELEASE_AGENT_POLICY, else the config directory);
    the reasoner is chosen by the environment as for ``release-agent decide``."""

    def __init__(self, db: str | None, policy: str | None) -> None:
        from ..agent import Agent
        from ..domain.errors import ReleaseAgentError, UserError
        from ..domain.policy import load_policy
        from ..memory.store import Store
        from ..reasoners.registry import build_reasoner

        try:
            reasoner = build_reasoner(None, None)
            loaded = load_policy(policy)
            store = Store.open(db)
        except UserError as error:
            raise _user_error(error) from None
        except ReleaseAgentError as error:
            raise GateError(str(error)) from None
        self.agent = Agent(store, loaded, reasoner)

    def decide(self, ask: Ask) -> Verdict:
        from ..domain.errors import ReleaseAgentError, UserError
        from ..domain.models import DEFAULT_TEAM, parse_request

        zone = self.agent.policy.for_team(ask.team or DEFAULT_TEAM).settings.zone
        try:
            record = self.agent.decide(parse_request({**ask.body(), "at": datetime.now(zone)}))
        except UserError as error:
            raise _user_error(error) from None
        except ReleaseAgentError as error:
            raise GateError(str(error)) from None
        return verdict_of(record.to_json_dict())

    def record_outcome(
        self, release_id: str, result: str, notes: str | None, replace: bool
    ) -> bool:
        from ..domain.errors import Conflict, ReleaseAgentError, UserError
        from ..domain.models import Result

        try:
            self.agent.record_outcome(release_id, Result(result), notes, replace=replace)
        except Conflict as error:
            recorded = self.agent.get(release_id).outcome
            if recorded is None:  # e.g. a NO_GO: say why
                raise _user_error(error) from None
            if recorded.result.value == result:
                return False
            raise GateError(
                f"result: release {release_id} already has the outcome "
                f"{recorded.result.value}; set replace: true to overwrite it",
                2,
            ) from None
        except UserError as error:
            raise _user_error(error) from None
        except ReleaseAgentError as error:
            raise GateError(str(error)) from None
        return True

    def close(self) -> None:
        self.agent.store.close()


def _user_error(error: Any) -> GateError:
    """A library UserError as a GateError(2) naming the action's input."""
    name = _input_name(error.field)
    message = str(error)
    if name and error.field and message.startswith(error.field + ":"):
        message = f"{name}:{message[len(error.field) + 1 :]}"
    return GateError(message, 2)
