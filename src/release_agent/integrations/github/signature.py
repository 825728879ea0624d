"""GitHub's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body, keyed with the webhook secret>``, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret``. A missing or
    malformed header is not; the comparison takes the same time whatever differs."""
    if header is None or not header.startswith(PREFIX):
        return False
    given = header[len(PREFIX) :].strip().lower().encode("ascii", "replace")
    expected = sign(secret, body)[len(PREFIX) :].encode("ascii")
    return hmac.compare_digest(given, expected)
