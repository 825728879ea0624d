"""The API's limits: body size, how much of a bad value an error repeats, which Host a
server without a token answers, what a token must look like, one Authorization header."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api_support import AUTH, TOKEN, body, client_of, new_app, only_problem, post_raw, store_of
from release_agent.api import TOKEN_ENV, create_app
from release_agent.api.guard import MAX_BODY
from release_agent.cli import main
from release_agent.domain.errors import InvalidInput

DECISIONS = "/api/v1/decisions"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return client_of(new_app(tmp_path))


def padded(size: int) -> bytes:
    """A valid request body padded with white space to ``size`` bytes."""
    raw = json.dumps(body()).encode()
    return raw + b" " * (size - len(raw))


def chunks(raw: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


# -- body size ---------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_and_writes_nothing(client: TestClient) -> None:
    problem = only_problem(post_raw(client, DECISIONS, padded(MAX_BODY + 1)), 413)
    assert str(MAX_BODY) in problem["message"]
    assert store_of(client).count_decisions() == 0


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    answer = client.post(
        DECISIONS,
        content=chunks(padded(MAX_BODY + 1)),  # no Content-Length: Transfer-Encoding chunked
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in answer.request.headers
    only_problem(answer, 413)
    assert store_of(client).count_decisions() == 0


def test_a_body_at_the_limit_is_read(client: TestClient) -> None:
    assert post_raw(client, DECISIONS, padded(MAX_BODY)).status_code == 201
    chunked = client.post(
        DECISIONS, content=chunks(padded(MAX_BODY)), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 201


def test_a_declared_length_over_the_limit_is_refused_on_any_route(client: TestClient) -> None:
    for url in ("/healthz", "/api/v1/learn"):
        answer = client.request(
            "POST" if "learn" in url else "GET",
            url,
            content=b"x" * (MAX_BODY + 1),
        )
        only_problem(answer, 413)


# -- a bad value is echoed short --------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"clashes": ["x" * 100_000 + "!"]},
        {"at": "y" * 100_000},
        {"feature_risk": "z" * 100_000},
        {"w" * 100_000: 1},
    ],
)
def test_an_error_repeats_at_most_a_short_prefix_of_the_value(
    client: TestClient, overrides: dict[str, object]
) -> None:
    answer = client.post(DECISIONS, json=body(**overrides))
    assert answer.status_code == 422
    assert len(answer.content) < 2_000
    for problem in answer.json()["detail"]:
        assert len(problem["message"]) <= 500
        assert problem["field"] is None or len(problem["field"]) <= 100


# -- the Host of a server without a token ---------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "attacker:8000", "10.0.0.1"],
)
def test_without_a_token_a_foreign_host_is_refused(client: TestClient, host: str) -> None:
    for answer in (
        client.post(DECISIONS, json=body(), headers={"Host": host}),
        client.get("/healthz", headers={"Host": host}),
        client.get("/", headers={"Host": host}),
    ):
        problem = only_problem(answer, 421)
        assert problem["field"] == "host"
        assert TOKEN_ENV in problem["message"]
        assert answer.headers["x-frame-options"] == "DENY"
    assert store_of(client).count_decisions() == 0


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"])
def test_without_a_token_loopback_hosts_are_answered(client: TestClient, host: str) -> None:
    assert client.post(DECISIONS, json=body(), headers={"Host": host}).status_code == 201


def test_with_a_token_any_host_is_answered(tmp_path: Path) -> None:
    client = client_of(new_app(tmp_path, TOKEN))
    answer = client.post(DECISIONS, json=body(), headers={"Host": "release.example", **AUTH})
    assert answer.status_code == 201
    assert client.get("/healthz", headers={"Host": "release.example"}).status_code == 200


# -- the token -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["short", "x" * 15, f" {TOKEN}", f"{TOKEN}\n", "a b c d e f g h i j", "tökentökentöken!!"],
)
def test_a_weak_or_padded_token_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(TOKEN_ENV, value)
    with pytest.raises(InvalidInput) as caught:
        new_app(tmp_path)
    assert caught.value.field == TOKEN_ENV
    assert value.strip() not in str(caught.value)  # the message never repeats the secret
    with pytest.raises(InvalidInput) as given:
        create_app(db_url=f"sqlite:///{tmp_path / 'b.db'}", token=value)
    assert given.value.field == "token"


def test_serve_with_a_short_token_exits_2_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    monkeypatch.setenv(TOKEN_ENV, "hunter2")
    result = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 2
    assert TOKEN_ENV in result.output
    assert "hunter2" not in result.output


# -- one Authorization header ---------------------------------------------------------------------


@pytest.mark.parametrize("token", [TOKEN, None])
def test_two_authorization_headers_are_401(tmp_path: Path, token: str | None) -> None:
    app = new_app(tmp_path, token)
    client = client_of(app)
    twice = [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer other")]
    for answer in (
        client.post(DECISIONS, json=body(), headers=twice),
        client.get("/healthz", headers=twice),
    ):
        problem = only_problem(answer, 401)
        assert problem["field"] == "authorization"
        assert answer.headers["www-authenticate"] == "Bearer"
    assert store_of(client).count_decisions() == 0
