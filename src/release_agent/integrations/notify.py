"""The policy's ``[[notify]]`` tables: which webhooks hear of which events, and what
they are sent.

    [[notify]]
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    on = ["NO_GO", "DELAY", "incident"]
    format = "slack"            # or "json" (the default)
    timeout = 5.0               # seconds per attempt, from 0.1 to 60
    retries = 3                 # further attempts after a failed one, from 0 to 10

Events: a decision's result (``GO``, ``NO_GO``, ``DELAY``), ``incident`` (an outcome
recorded as incident) and ``override`` (a human overrode a decision: the payload's
``decision`` is the human's, ``override`` says who, why and what the agent said).
``slack`` posts Slack's incoming-webhook shape, ``{"text": ...}``; ``json``
posts :func:`payload`'s fields. The URL is a secret (a Slack webhook's path is its key):
it is never logged, only its host (:func:`host_of`).

The main policy parser does not read this table; :func:`load_targets` reads it from the
policy's file itself, with the same rules: unknown keys refused, finite numbers in range,
and errors naming the key (``notify[0].url``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
)
from pydantic_core import ErrorDetails

from ..domain.errors import PolicyError
from ..domain.freezes import TABLE_CONFIG, refusal
from ..domain.models import Decision, DecisionRecord

EVENTS = ("GO", "NO_GO", "DELAY", "override", "incident")
"""What a webhook may be sent: a decision's result, an override, an incident."""
FORMATS = ("json", "slack")
TIMEOUT_RANGE = (0.1, 60.0)
RETRIES_MAX = 10
URL_MAX = 2000


def _url(value: str) -> str:
    # The value itself is never repeated: it may hold the webhook's key.
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not one
    except ValueError:
        raise refusal("must be an http:// or https:// URL with a valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refusal("must be an http:// or https:// URL with a host")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise refusal("must not contain spaces or control characters (percent-encode them)")
    if len(value) > URL_MAX:
        raise refusal(f"must be at most {URL_MAX} characters")
    return value


def _events(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise refusal("must name at least one event", allowed=list(EVENTS))
    for event in value:
        if event not in EVENTS:
            raise refusal(f"{event!r} is not an event", allowed=list(EVENTS))
    return tuple(dict.fromkeys(value))


def _format(value: str) -> str:
    if value not in FORMATS:
        raise refusal(f"{value!r} is not a format", allowed=list(FORMATS))
    return value


def _timeout(value: float) -> float:
    low, high = TIMEOUT_RANGE
    if not low <= value <= high:  # written so that nan fails too
        raise refusal(f"{value!r} is out of range; must be from {low:g} to {high:g}")
    return value


def _retries(value: int) -> int:
    if not 0 <= value <= RETRIES_MAX:
        raise refusal(f"{value!r} is out of range; must be from 0 to {RETRIES_MAX}")
    return value


class NotifyTarget(BaseModel):
    """One ``[[notify]]`` table: a webhook and the events it hears of."""

    model_config = TABLE_CONFIG

    url: Annotated[str, Field(strict=True), AfterValidator(_url)]
    """Where to POST; a secret, never logged."""
    on: Annotated[tuple[Annotated[str, Field(strict=True)], ...], AfterValidator(_events)]
    """The events sent, from :data:`EVENTS`."""
    format: Annotated[str, Field(strict=True), AfterValidator(_format)] = "json"
    timeout: Annotated[StrictFloat | StrictInt, AfterValidator(_timeout)] = 5.0
    """Seconds each attempt may take."""
    retries: Annotated[StrictInt, AfterValidator(_retries)] = 3
    """Further attempts after a failed one (a timeout, a refused connection, a 5xx or 429
    answer), each after twice the previous wait."""

    @property
    def host(self) -> str:
        return host_of(self.url)


class _NotifyFile(BaseModel):
    """The part of the policy file this module reads; the rest is the main parser's."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    notify: tuple[NotifyTarget, ...] = ()


def host_of(url: str) -> str:
    """The host of ``url``: what may be logged of a webhook (never its path or user)."""
    return urlsplit(url).hostname or "?"


def parse_targets(data: Mapping[str, Any]) -> tuple[NotifyTarget, ...]:
    """The webhooks of a parsed policy file (``data`` as ``tomllib`` gives it; keys other
    than ``notify`` are ignored). Raises PolicyError naming the first key at fault, e.g.
    ``notify[0].on``, with the values allowed for a closed set."""
    try:
        return _NotifyFile.model_validate(data).notify
    except ValidationError as error:
        raise _error(error.errors(include_url=False)[0]) from None


def load_targets(source: str | os.PathLike[str] | None) -> tuple[NotifyTarget, ...]:
    """The webhooks named in the policy file ``source`` (none without a file). Raises
    PolicyError when the file cannot be read or its ``notify`` tables are malformed."""
    if source is None:
        return ()
    path = Path(source)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"cannot read {path}: {error}", field="policy") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{path} is not valid TOML: {error}", field="policy") from None
    return parse_targets(data)


_TYPES = {
    "missing": "is required",
    "string_type": "must be a string",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "finite_number": "must be a finite number",
    "tuple_type": "must be an array",
    "model_type": "must be a table",
}


def _error(error: ErrorDetails) -> PolicyError:
    loc = error["loc"]
    # A union (float | int) adds the member's name to the location: not a key.
    loc = tuple(part for part in loc if part not in ("float", "int"))
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    field = field.lstrip(".") or "notify"
    if error["type"] == "extra_forbidden":
        return PolicyError(
            f"unknown key {loc[-1]!r}", field=field, allowed=sorted(NotifyTarget.model_fields)
        )
    allowed = (error.get("ctx") or {}).get("allowed")
    message = _TYPES.get(error["type"], error["msg"])
    return PolicyError(message, field=field, allowed=allowed)


def event_of(record: DecisionRecord) -> str:
    """The event a new decision is: its result."""
    return record.decision.value


def payload(event: str, record: DecisionRecord, style: str) -> dict[str, Any]:
    """The body sent for ``event`` about ``record``: Slack's ``{"text": ...}`` for
    ``slack``; for ``json``, the event, decision, service, env, reason, release_id, next
    window and outcome (null when none), and for ``override`` who, why, when and what
    the agent said."""
    if style == "slack":
        return {"text": _text(event, record)}
    body: dict[str, Any] = {
        "event": event,
        "decision": record.decision.value,
        "service": record.request.service,
        "env": record.request.env,
        "reason": record.reason,
        "release_id": record.release_id,
        "next_window": record.next_window.isoformat() if record.next_window else None,
        "outcome": record.outcome.result.value if record.outcome else None,
    }
    if event == "override":
        body["override"] = _override(record)
    return body


def _override(record: DecisionRecord) -> dict[str, Any] | None:
    o = record.override
    if o is None:
        return None
    return {
        "by": o.by,
        "reason": o.reason,
        "at": o.at.isoformat(),
        "agent_decision": o.agent_decision.value,
        "decision": o.decision.value,
        "break_glass": o.break_glass,
    }


def _text(event: str, record: DecisionRecord) -> str:
    where = f"{record.request.service} to {record.request.env}"
    if event == "incident":
        head = f"Incident after {where} (decided {record.decision.value})"
    elif event == "override" and record.override is not None:
        o = record.override
        glass = " (break-glass: opens a freeze)" if o.break_glass else ""
        head = (
            f"Override: {where} is {o.decision.value}{glass}, by {o.by} "
            f"(the agent said {o.agent_decision.value}): {o.reason}"
        )
    else:
        head = f"{record.decision.value}: {where}"
        if record.decision is Decision.DELAY and record.next_window is not None:
            head += f", next window {record.next_window.isoformat()}"
    text = f"{head}\n{record.reason}\nrelease {record.release_id}"
    # Slack reads <...> as links and mentions: the reason may quote a release's notes.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = [
    "EVENTS",
    "FORMATS",
    "NotifyTarget",
    "event_of",
    "host_of",
    "load_targets",
    "parse_targets",
    "payload",
]
