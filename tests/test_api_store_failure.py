"""When the database fails during a request: 503 with Retry-After on every endpoint,
nothing written, and no credential in the answer or the log."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given
from hypothesis import strategies as st

from api_support import body, client_of, new_app, only_problem, store_of
from release_agent.api.redact import redact
from release_agent.domain.errors import StoreError
from release_agent.memory.store import Store

PASSWORD = "pa55-w0rd-in-url"
URL = f"postgresql+psycopg://release:{PASSWORD}@db.internal:5432/release"
DECISIONS = "/api/v1/decisions"


def calls(release_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """One request to every endpoint that reads or writes the store."""
    return [
        ("POST", DECISIONS, body()),
        ("GET", DECISIONS, None),
        ("GET", f"{DECISIONS}/{release_id}", None),
        ("POST", f"{DECISIONS}/{release_id}/outcome", {"result": "success"}),
        ("GET", "/api/v1/heuristics", None),
        ("POST", "/api/v1/learn", None),
        ("GET", "/api/v1/episodes", None),
        ("POST", "/api/v1/scenarios/monday-low/run", None),
    ]


def failing(name: str) -> Callable[..., Any]:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise StoreError(f"database read failed: could not connect to {URL} ({name})")

    return fail


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return client_of(new_app(tmp_path))


def test_a_failing_store_is_503_with_retry_after_and_no_password(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    release_id = client.post(DECISIONS, json=body()).json()["release_id"]
    store = store_of(client)
    for name in dir(Store):
        if (
            not name.startswith("_")
            and name not in ("open", "close")
            and callable(getattr(store, name))
        ):
            monkeypatch.setattr(store, name, failing(name))
    caplog.set_level(logging.ERROR, logger="release_agent.api")
    for method, url, payload in calls(release_id):
        answer = client.request(method, url, json=payload)
        problem = only_problem(answer, 503)
        assert int(answer.headers["retry-after"]) > 0, url
        assert PASSWORD not in answer.text and "db.internal" not in answer.text
        assert problem["field"] is None
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert "retry-after" in health.headers
    assert "could not connect" in caplog.text  # the log says why ...
    assert PASSWORD not in caplog.text  # ... without the secret
    assert "postgresql+psycopg://***@db.internal" in caplog.text


def test_a_database_file_that_goes_away_is_503_and_nothing_is_half_written(
    client: TestClient, tmp_path: Path
) -> None:
    release_id = client.post(DECISIONS, json=body()).json()["release_id"]
    store: Store = store_of(client)
    store.engine.dispose()
    db = tmp_path / "api.db"
    moved = tmp_path / "moved"
    moved.mkdir()
    for part in tmp_path.glob("api.db*"):
        shutil.move(part, moved / part.name)
    db.mkdir()  # a directory where the database was: SQLite cannot open it
    for method, url, payload in calls(release_id):
        answer = client.request(method, url, json=payload)
        only_problem(answer, 503)
        assert answer.headers["retry-after"]
    assert client.get("/healthz").status_code == 503

    store.engine.dispose()
    db.rmdir()
    for part in moved.iterdir():
        shutil.move(part, tmp_path / part.name)
    assert client.get("/healthz").json() == {
        "status": "ok",
        "auth": False,
        "version": client.get("/healthz").json()["version"],
        "decisions": 1,
    }
    assert client.get(f"{DECISIONS}/{release_id}").json()["outcome"] is None


# -- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"cannot open database {URL}: timeout", "postgresql+psycopg://***@db.internal:5432"),
        ("host=db user=release password=s3cret dbname=x", "password=***"),
        ("mysql://u:p@ss/w@rd@h/db", "mysql://***@h/db"),
        ("sqlite:////var/lib/release-agent.db", "sqlite:////var/lib/release-agent.db"),
    ],
)
def test_redact_masks_credentials(text: str, expected: str) -> None:
    assert expected in redact(text)


_SECRET = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="'\"<>"), min_size=6
)
"""A password as it can stand in a URL: visible ASCII, '@' and '/' included."""


@given(user=st.from_regex(r"[a-z]{1,12}", fullmatch=True), password=_SECRET)
def test_no_password_survives_redaction(user: str, password: str) -> None:
    text = f"StoreError: cannot open database postgresql://{user}:{password}@db.example/app: boom"
    assume(password not in text.replace(password, ""))
    assert password not in redact(text)
    assert redact(text).endswith("@db.example/app: boom")
