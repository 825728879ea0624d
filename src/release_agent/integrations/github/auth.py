"""Credentials for the GitHub API: a GitHub App's installation tokens, or a plain token.

A GitHub App signs a JSON Web Token (RS256, issued by the App id, valid ten minutes) with
its private key and trades it for an installation token (``POST
/app/installations/{id}/access_tokens``), which lasts an hour: it is cached per
installation and fetched again a few minutes before it expires, or at once after GitHub
refuses it. RS256 needs the ``cryptography`` package (``pip install
'release-agent[github]'``). A token or key never appears in a message or a log line.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ...domain.errors import InvalidInput
from .config import KEY_ENV, GitHubSettings
from .http import Retryable, call

JWT_LIFETIME = timedelta(minutes=9)
"""GitHub accepts at most ten minutes; a minute is left for clocks that differ."""
CLOCK_SKEW = timedelta(seconds=60)
"""The JWT is dated this far back, for a GitHub clock a little behind ours."""
REFRESH_BEFORE = timedelta(minutes=5)
"""An installation token is fetched again this long before it expires."""


class Credentials(Protocol):
    def token(self, installation_id: int | None) -> str:
        """A token good for ``installation_id``'s repositories."""
        ...

    def refused(self, installation_id: int | None) -> None:
        """GitHub refused the token: forget it."""
        ...


class StaticToken:
    """A plain token (RELEASE_AGENT_GITHUB_TOKEN), the same for every installation."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(***)"

    def token(self, installation_id: int | None) -> str:
        return self._token

    def refused(self, installation_id: int | None) -> None:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(pem: str) -> Any:
    """The RSA private key in ``pem``. Raises InvalidInput naming the variable (never
    quoting the key) when it is no RSA key, and saying which extra to install when the
    ``cryptography`` package is missing."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        raise InvalidInput(
            "a GitHub App needs the cryptography package to sign its token: "
            "pip install 'release-agent[github]'",
            field=KEY_ENV,
        ) from None
    try:
        key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise InvalidInput(
            "is not a PEM private key (GitHub's App settings give one: "
            "-----BEGIN RSA PRIVATE KEY----- ...)",
            field=KEY_ENV,
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput("must be an RSA private key, as GitHub issues", field=KEY_ENV)
    return key


def app_jwt(app_id: str, key: Any, now: datetime) -> str:
    """The JSON Web Token that authenticates the App itself (RS256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "typ": "JWT"}
    issued = int((now - CLOCK_SKEW).timestamp())
    claims = {"iat": issued, "exp": int((now + JWT_LIFETIME).timestamp()), "iss": app_id}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class AppTokens:
    """Installation tokens of a GitHub App, cached per installation until shortly
    before they expire."""

    def __init__(
        self,
        app_id: str,
        private_key: str,
        api_url: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app_id = app_id
        self._key = load_private_key(private_key)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self._cache: dict[int, tuple[str, datetime]] = {}
        self._lock = threading.Lock()
        self.fetched = 0
        """How many installation tokens were fetched (the cache's misses)."""

    def __repr__(self) -> str:
        return f"AppTokens(app_id={self.app_id!r})"

    def token(self, installation_id: int | None) -> str:
        if installation_id is None:
            raise InvalidInput(
                "the event names no installation: a GitHub App answers only events of "
                "its installations (or set RELEASE_AGENT_GITHUB_TOKEN)",
                field="installation",
            )
        now = self.clock()
        with self._lock:
            cached = self._cache.get(installation_id)
            if cached is not None and cached[1] - REFRESH_BEFORE > now:
                return cached[0]
            token, expires = self._fetch(installation_id, now)
            self._cache[installation_id] = (token, expires)
            self.fetched += 1
            return token

    def refused(self, installation_id: int | None) -> None:
        with self._lock:
            self._cache.pop(installation_id or -1, None)

    def _fetch(self, installation_id: int, now: datetime) -> tuple[str, datetime]:
        url = f"{self.api_url}/app/installations/{installation_id}/access_tokens"
        jwt = app_jwt(self.app_id, self._key, now)
        _, answer = call("POST", url, None, token=jwt, timeout=self.timeout, scheme="Bearer")
        if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
            raise Retryable("GitHub's answer held no installation token")
        expires = now + timedelta(hours=1)
        text = answer.get("expires_at")
        if isinstance(text, str):
            with contextlib.suppress(ValueError):
                expires = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return answer["token"], expires


def credentials_for(settings: GitHubSettings, clock: Callable[[], datetime]) -> Credentials | None:
    """The App's tokens when an App is configured, else the plain token, else None."""
    if settings.app_id is not None and settings.private_key is not None:
        return AppTokens(settings.app_id, settings.private_key, settings.api_url, clock=clock)
    if settings.token is not None:
        return StaticToken(settings.token)
    return None
