"""The review callback: telling GitHub approved, rejected, or only a comment.

    client = ReviewClient(settings, credentials)
    client.review(callback_url, installation_id, "production", "approved", "GO: ...")
    client.review(callback_url, installation_id, "production", None, "DELAY until ...")

GitHub's endpoint (``deployment_callback_url``: ``POST
/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule``) takes
``environment_name`` with ``state`` (approved or rejected) and an optional ``comment``,
or ``environment_name`` with a ``comment`` alone: a status report that leaves the
deployment waiting. A DELAY uses the latter.

The token is sent only to the configured API (RELEASE_AGENT_GITHUB_API_URL): a callback
URL elsewhere is refused, never called. Each attempt has a timeout; what another attempt
may fix is tried again ``retries`` times, waiting ``backoff`` seconds and twice as long
each time; GitHub refusing the token makes an App fetch a fresh one, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .auth import Credentials
from .config import API_URL_ENV, GitHubSettings
from .http import Refused, Retryable, call

STATES = ("approved", "rejected")
MAX_COMMENT = 1000
TIMEOUT = 10.0
RETRIES = 3
BACKOFF = 1.0


class CallbackRefused(Exception):
    """The review cannot be sent, and trying again will not help."""


class ReviewClient:
    """Sends reviews to GitHub with ``credentials`` (see the module)."""

    def __init__(
        self,
        settings: GitHubSettings,
        credentials: Credentials | None,
        *,
        timeout: float = TIMEOUT,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
        stop: threading.Event | None = None,
    ) -> None:
        self.api_url = settings.api_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._stop = stop or threading.Event()
        self.attempts = 0
        """Requests sent (for tests and logs)."""

    def _wait(self, seconds: float) -> bool:
        """Wait, unless stopping; True when asked to stop."""
        return self._stop.wait(seconds)

    def check_url(self, url: str) -> None:
        """Raise CallbackRefused unless ``url`` is on the configured API."""
        if not url.startswith(self.api_url + "/"):
            raise CallbackRefused(
                f"the callback URL is not on the configured GitHub API ({self.api_url}); "
                f"set {API_URL_ENV} to the API that sends the webhooks"
            )

    def review(
        self,
        callback_url: str,
        installation_id: int | None,
        environment: str,
        state: str | None,
        comment: str,
    ) -> None:
        """POST the review; returns when GitHub accepted it. Raises CallbackRefused when
        it cannot be sent (no credentials, a foreign URL, a 4xx answer), Retryable when
        every attempt failed in a way a later one might not."""
        if state is not None and state not in STATES:
            raise ValueError(f"{state!r} is not a review state")
        if self.credentials is None:
            raise CallbackRefused(
                "no credentials to answer GitHub with: set RELEASE_AGENT_GITHUB_APP_ID and "
                "its private key, or RELEASE_AGENT_GITHUB_TOKEN"
            )
        self.check_url(callback_url)
        body: dict[str, str] = {"environment_name": environment}
        if state is not None:
            body["state"] = state
        body["comment"] = _cut(comment)
        self._send(callback_url, installation_id, body)

    def _send(self, url: str, installation_id: int | None, body: dict[str, str]) -> None:
        assert self.credentials is not None
        wait, renewed = self.backoff, False
        attempt = 0
        while True:
            try:
                token = self.credentials.token(installation_id)
                self.attempts += 1
                call("POST", url, body, token=token, timeout=self.timeout)
                return
            except Refused as error:
                if error.status == 401 and not renewed:
                    # An installation token revoked or expired early: one fresh try.
                    self.credentials.refused(installation_id)
                    renewed = True
                    continue
                raise CallbackRefused(str(error)) from None
            except Retryable:
                if attempt >= self.retries or self._wait(wait):
                    raise
                attempt += 1
                wait *= 2


def _cut(text: str) -> str:
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"


Sleep = Callable[[float], bool]
