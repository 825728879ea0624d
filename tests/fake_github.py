"""A local fake of the GitHub API parts the integration speaks to, on pytest-httpserver,
and builders for the webhook deliveries GitHub sends.

    fake = FakeGitHub(httpserver)                 # a GitHub App with a fresh RSA key
    settings = fake.settings(secret)              # GitHubSettings pointing at the fake
    fake.callback_url(run_id=7)                   # a deployment_callback_url on the fake
    fake.reviews                                  # every review body received, in order
    fake.fail_reviews(2, status=502)              # the next two reviews answer 502

The fake checks what the real API checks: the App's JWT is verified with the App's
public key (RS256, issuer, lifetime of at most ten minutes) before an installation token
is issued, and a review needs a token the fake issued (or the plain token).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from release_agent.integrations.github.config import GitHubSettings
from release_agent.integrations.github.signature import sign

APP_ID = "424242"
INSTALLATION = 9001
PLAIN_TOKEN = "ghp_plain-token-for-tests-0123456789"
_TOKEN_PATH = re.compile(r"^/app/installations/(\d+)/access_tokens$")
_REVIEW_PATH = re.compile(r"^/repos/([^/]+)/([^/]+)/actions/runs/(\d+)/deployment_protection_rule$")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Review:
    """One review GitHub received: the path's run id and the body."""

    run_id: int
    body: dict[str, Any]
    token: str


@dataclass
class FakeGitHub:
    server: HTTPServer
    app_id: str = APP_ID
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    reviews: list[Review] = field(default_factory=list)
    tokens_issued: list[str] = field(default_factory=list)
    jwt_claims: list[dict[str, Any]] = field(default_factory=list)
    refused_jwts: int = 0
    failures_left: int = 0
    failure_status: int = 502
    stall_seconds: float = 0.0
    revoked: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    # -- configuration ------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    @property
    def private_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()

    def settings(self, secret: str, *, app: bool = True) -> GitHubSettings:
        if app:
            return GitHubSettings(
                webhook_secret=secret,
                app_id=self.app_id,
                private_key=self.private_pem,
                api_url=self.api_url,
            )
        return GitHubSettings(webhook_secret=secret, token=PLAIN_TOKEN, api_url=self.api_url)

    def callback_url(self, run_id: int = 7, repo: str = "acme/shop") -> str:
        return f"{self.api_url}/repos/{repo}/actions/runs/{run_id}/deployment_protection_rule"

    def fail_reviews(self, count: int, status: int = 502) -> None:
        with self._lock:
            self.failures_left = count
            self.failure_status = status

    # -- the API ------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        if request.method != "POST":
            return _json(405, {"message": "Method Not Allowed"})
        match = _TOKEN_PATH.match(request.path)
        if match:
            return self._access_token(request, int(match.group(1)))
        match = _REVIEW_PATH.match(request.path)
        if match:
            return self._review(request, int(match.group(3)))
        return _json(404, {"message": "Not Found"})

    def _access_token(self, request: Request, installation: int) -> Response:
        scheme, _, jwt = request.headers.get("Authorization", "").partition(" ")
        claims = self._verified(jwt) if scheme == "Bearer" else None
        if claims is None:
            with self._lock:
                self.refused_jwts += 1
            return _json(401, {"message": "A JSON web token could not be decoded"})
        with self._lock:
            self.jwt_claims.append(claims)
            token = f"ghs_installation{installation}-{len(self.tokens_issued)}"
            self.tokens_issued.append(token)
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _json(201, {"token": token, "expires_at": expires})

    def _verified(self, jwt: str) -> dict[str, Any] | None:
        try:
            head, payload, signature = jwt.split(".")
            header = json.loads(_unb64(head))
            claims = json.loads(_unb64(payload))
            self.key.public_key().verify(
                _unb64(signature),
                f"{head}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return None
        now = time.time()
        if header.get("alg") != "RS256" or claims.get("iss") != self.app_id:
            return None
        if not claims["iat"] <= now < claims["exp"] or claims["exp"] - claims["iat"] > 600:
            return None
        return dict(claims)

    def _review(self, request: Request, run_id: int) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        valid = token == PLAIN_TOKEN or token in self.tokens_issued
        if scheme.lower() != "token" or not valid or token in self.revoked:
            return _json(401, {"message": "Bad credentials"})
        if self.stall_seconds:
            time.sleep(self.stall_seconds)
        with self._lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return _json(self.failure_status, {"message": "Server Error"})
        body = json.loads(request.get_data())
        allowed = {"environment_name", "state", "comment"}
        if not set(body) <= allowed or "environment_name" not in body:
            return _json(422, {"message": "Invalid request"})
        if "state" not in body and not body.get("comment"):
            return _json(422, {"message": "comment is required when state is not provided"})
        if "state" in body and body["state"] not in ("approved", "rejected"):
            return _json(422, {"message": "state is not approved or rejected"})
        with self._lock:
            self.reviews.append(Review(run_id, body, token))
        return Response(status=204)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


# -- deliveries ---------------------------------------------------------------------------


def protection_event(
    callback_url: str,
    *,
    sha: str = "3f9c2e1a",
    environment: str = "production",
    repository: str = "acme/shop",
    installation: int | None = INSTALLATION,
    labels: tuple[str, ...] = (),
    payload: Any = None,
) -> dict[str, Any]:
    """A ``deployment_protection_rule`` body as GitHub sends it (the fields read, and a
    few others that are ignored)."""
    event: dict[str, Any] = {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "deployment_callback_url": callback_url,
        "deployment": {
            "id": 1234,
            "sha": sha,
            "ref": "main",
            "task": "deploy",
            "environment": environment,
            "payload": payload if payload is not None else {},
            "creator": {"login": "octocat"},
        },
        "pull_requests": [
            {"number": 12, "labels": [{"name": name, "color": "ededed"} for name in labels]}
        ],
        "repository": {"full_name": repository, "name": repository.split("/")[1]},
        "sender": {"login": "octocat"},
    }
    if installation is not None:
        event["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9u"}
    return event


def status_event(
    state: str, *, sha: str = "3f9c2e1a", environment: str = "production"
) -> dict[str, Any]:
    """A ``deployment_status`` body."""
    return {
        "action": "created",
        "deployment_status": {"state": state, "environment": environment, "id": 77},
        "deployment": {"id": 1234, "sha": sha, "environment": environment, "ref": "main"},
        "repository": {"full_name": "acme/shop", "name": "shop"},
    }


def delivery(
    secret: str, body: dict[str, Any] | bytes, event: str, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """The raw body and the headers GitHub sends with it, signed with ``secret``."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(secret, raw),
        "User-Agent": "GitHub-Hookshot/test",
    }
    return raw, headers
