"""One JSON request to the GitHub API over urllib, failing with what a caller can act on.

    status, answer = call("POST", url, {"state": "approved"}, token="...", timeout=10)

Raises :class:`Retryable` for what another attempt may fix (a timeout, a refused
connection, a 5xx, 408 or 429 answer) and :class:`Refused` (with the status) for any
other 4xx answer. No message quotes a token or a header.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

USER_AGENT = "release-agent-github"
API_VERSION = "2022-11-28"
MAX_ANSWER = 1024 * 1024


class GitHubHTTPError(Exception):
    """A request to GitHub failed."""


class Retryable(GitHubHTTPError):
    """Another attempt may succeed."""


class Refused(GitHubHTTPError):
    """GitHub answered that the request itself is wrong (4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"GitHub answered {status}: {message}")
        self.status = status


def _message(raw: bytes) -> str:
    """GitHub's ``message`` from an error body, cut short (it never holds our token)."""
    try:
        text = json.loads(raw.decode("utf-8")).get("message", "")
    except (ValueError, AttributeError, UnicodeDecodeError):
        text = ""
    return str(text)[:200]


def call(
    method: str,
    url: str,
    body: dict[str, Any] | None,
    *,
    token: str | None,
    timeout: float,
    scheme: str = "token",
) -> tuple[int, Any]:
    """Send ``body`` as JSON to ``url`` with ``Authorization: <scheme> <token>``; returns
    the status and the parsed answer (None for an empty one)."""
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": USER_AGENT,
    }
    data = None
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status = answer.status
            raw = answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as error:
        status = error.code
        raw = error.read(MAX_ANSWER) if error.fp is not None else b""
        error.close()
        if status >= 500 or status in (408, 429):
            raise Retryable(f"GitHub answered {status}") from None
        raise Refused(status, _message(raw)) from None
    except TimeoutError:
        raise Retryable(f"timed out after {timeout:g}s") from None
    except (urllib.error.URLError, OSError) as error:
        reason: Any = getattr(error, "reason", error)
        if isinstance(reason, TimeoutError):
            raise Retryable(f"timed out after {timeout:g}s") from None
        raise Retryable(f"could not connect: {type(reason).__name__}") from None
    if not raw.strip():
        return status, None
    try:
        return status, json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return status, None
