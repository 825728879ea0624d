"""Every exception release-agent raises on purpose.

    ReleaseAgentError
    ├── UserError                 the caller asked for something wrong: exit 2, HTTP 422/404
    │   ├── InvalidInput          a field has a value outside what is allowed
    │   ├── NotFound              an id that the store does not hold
    │   ├── Conflict              the request clashes with what is stored already
    │   ├── PolicyError           the policy file cannot be read or is malformed
    │   └── ImportFormatError     a memory file is malformed (says where)
    └── RuntimeFault              something around us failed: exit 1
        ├── StoreError            the database failed
        └── ReasonerError         a reasoner failed (timeout, HTTP, bad answer, ...)

User errors carry the field they are about and, where it helps, the allowed values, so
that every interface can say how to fix the input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ReleaseAgentError(Exception):
    """Base of every error release-agent raises on purpose."""


class UserError(ReleaseAgentError):
    """The caller's input is wrong; nothing was written."""

    def __init__(
        self, message: str, *, field: str | None = None, allowed: Iterable[str] | None = None
    ) -> None:
        self.field = field
        self.allowed = list(allowed) if allowed is not None else None
        text = message
        if field and not message.startswith(field):
            text = f"{field}: {message}"
        if self.allowed:
            text += f" (allowed: {', '.join(self.allowed)})"
        super().__init__(text)
        self.message = text

    def to_dict(self) -> dict[str, object]:
        return {"field": self.field, "message": self.message, "allowed": self.allowed}


class InvalidInput(UserError):
    """A field has a value that is not allowed."""


class NotFound(UserError):
    """The id names nothing in the store."""


class Conflict(UserError):
    """The request contradicts what is stored (e.g. an outcome already recorded)."""


class PolicyError(UserError):
    """The policy file is unreadable or malformed."""


class ImportFormatError(UserError):
    """A memory file is malformed; ``field`` holds the JSON path of the fault."""


class RuntimeFault(ReleaseAgentError):
    """Something release-agent depends on failed."""


class StoreError(RuntimeFault):
    """The database failed."""


class ReasonerError(RuntimeFault):
    """A reasoner could not give a valid answer.

    ``kind`` is one of: timeout, connection, http, invalid_json, schema, refusal,
    truncated, missing_key, internal.
    """

    def __init__(self, message: str, *, kind: str = "internal", status_code: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status_code = status_code
        self.call: Any = None
        """The record of the failed call, when the reasoner kept one (a ReasonerCall)."""
