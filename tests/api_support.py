"""What the API tests share: an app over a fresh SQLite file, a client that speaks to it
under a loopback name, a valid request body, and a reader for the error shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from release_agent.api import create_app
from release_agent.memory.store import Store

LOCAL = "http://localhost"
"""Where test clients send requests: a loopback name, as a server without a token needs."""
TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TUESDAY = "2026-11-24T10:00:00+01:00"


def body(**overrides: Any) -> dict[str, Any]:
    """A valid decision request, with ``overrides``."""
    data: dict[str, Any] = {
        "service": "search",
        "env": "prod",
        "feature_risk": "LOW",
        "service_criticality": "MEDIUM",
        "at": TUESDAY,
    }
    data.update(overrides)
    return data


def new_app(tmp_path: Path, token: str | None = None) -> FastAPI:
    return create_app(db_url=f"sqlite:///{tmp_path / 'api.db'}", token=token)


def client_of(app: FastAPI, **options: Any) -> TestClient:
    return TestClient(app, base_url=LOCAL, **options)


def store_of(app: FastAPI | TestClient) -> Store:
    """The store behind an app, or behind the app a client speaks to."""
    target: Any = app.app if isinstance(app, TestClient) else app
    return target.state.agent.store


def only_problem(answer: Any, status: int) -> dict[str, Any]:
    """The first entry of an error answer, after checking its status and shape."""
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, list) and detail
    assert set(detail[0]) == {"field", "message", "allowed"}
    return detail[0]


def post_raw(client: TestClient, url: str, raw: bytes, **headers: str) -> Any:
    """POST ``raw`` bytes as JSON."""
    return client.post(url, content=raw, headers={"content-type": "application/json", **headers})
