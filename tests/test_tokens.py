"""API tokens scoped to teams: a team's token writes that team's decisions, outcomes and
overrides and is refused (403) for any other team's and for organisation-wide writes; an
admin token (RELEASE_AGENT_API_TOKEN, or ``=*``) writes everything; tokens come from
RELEASE_AGENT_API_TOKENS or a file of SHA-256 hashes, are kept hashed, and are never
printed or logged.

API tests run on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api_support import body, client_of, only_problem, store_of
from release_agent.api import check_bind, create_app
from release_agent.api.serving import create_app_from_env
from release_agent.api.tokens import (
    ADMIN,
    Access,
    TokenBook,
    book_from_env,
    hash_token,
    load_tokens_file,
    parse_tokens_env,
)
from release_agent.cli import main
from release_agent.domain.errors import InvalidInput

PAYMENTS = "payments-token-0123456789"
SEARCH = "search-and-ads-token-0123456789"
ADMIN_TOKEN = "admin-token-from-the-list-0123"
OLD_ADMIN = "the-single-admin-token-0123456"
ENTRIES = f"{PAYMENTS}=payments, {SEARCH}=search|ads,{ADMIN_TOKEN}=*"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("RELEASE_AGENT_API_TOKEN", OLD_ADMIN)
    monkeypatch.setenv("RELEASE_AGENT_API_TOKENS", ENTRIES)
    return create_app(db_url=database_url)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with client_of(app) as opened:
        yield opened


def decide(client: TestClient, token: str, team: str | None, **fields: Any) -> Any:
    data = body(**fields) if team is None else body(team=team, **fields)
    return client.post("/api/v1/decisions", json=data, headers=bearer(token))


# -- writes, team by team -------------------------------------------------------------------


def test_a_teams_token_decides_for_its_teams_and_is_refused_for_others(
    client: TestClient, app: FastAPI
) -> None:
    assert decide(client, PAYMENTS, "payments").status_code == 201
    assert decide(client, SEARCH, "ads").status_code == 201
    assert decide(client, SEARCH, " search ").status_code == 201  # the name as stored

    refused = only_problem(decide(client, PAYMENTS, "search"), 403)
    assert refused["field"] == "team"
    assert "payments" in refused["message"] and "'search'" in refused["message"]
    # No team named: the default team's, which this token does not write for.
    assert only_problem(decide(client, PAYMENTS, None), 403)["field"] == "team"
    assert store_of(app).count_decisions() == 3


def test_admin_tokens_write_for_every_team(client: TestClient, app: FastAPI) -> None:
    for token in (OLD_ADMIN, ADMIN_TOKEN):
        for team in ("payments", "search", None):
            assert decide(client, token, team).status_code == 201
    assert client.post("/api/v1/learn", headers=bearer(OLD_ADMIN)).status_code == 200
    assert store_of(app).count_decisions() == 6


def test_outcomes_and_overrides_of_another_teams_decision_are_refused(
    client: TestClient, app: FastAPI
) -> None:
    theirs = decide(client, SEARCH, "search", ref="abc123:prod").json()["release_id"]
    ours = decide(client, PAYMENTS, "payments").json()["release_id"]
    outcome = {"result": "success"}
    override = {"decision": "NO_GO", "by": "mallory", "reason": "not mine to stop"}

    for url, data in (
        (f"/api/v1/decisions/{theirs}/outcome", outcome),
        (f"/api/v1/decisions/{theirs[:8]}/outcome", outcome),  # a prefix names it too
        (f"/api/v1/decisions/{theirs}/override", override),
        ("/api/v1/outcomes", {"ref": "abc123:prod", "result": "failure"}),
        ("/api/v1/scenarios/friday-afternoon/run", None),  # the default team's
    ):
        answer = client.post(url, json=data, headers=bearer(PAYMENTS))
        assert only_problem(answer, 403)["field"] == "team", url
    stored = store_of(app).get_decision(theirs)
    assert stored.outcome is None and stored.override is None

    answer = client.post(
        f"/api/v1/decisions/{ours}/outcome", json=outcome, headers=bearer(PAYMENTS)
    )
    assert answer.status_code == 201
    answer = client.post(
        f"/api/v1/decisions/{theirs}/outcome", json=outcome, headers=bearer(SEARCH)
    )
    assert answer.status_code == 201


def test_an_organisation_wide_write_needs_an_admin_token(client: TestClient) -> None:
    refused = only_problem(client.post("/api/v1/learn", headers=bearer(PAYMENTS)), 403)

    assert refused["field"] == "authorization" and "admin" in refused["message"]


def test_what_the_gate_cannot_place_goes_to_its_route(client: TestClient) -> None:
    missing = client.post(
        "/api/v1/decisions/no-such-decision/outcome",
        json={"result": "success"},
        headers=bearer(PAYMENTS),
    )
    assert missing.status_code == 404
    bad = client.post(
        "/api/v1/decisions",
        content=b"{not json",
        headers={**bearer(PAYMENTS), "content-type": "application/json"},
    )
    assert bad.status_code == 422
    assert only_problem(decide(client, PAYMENTS, "pay|ments"), 403)["field"] == "team"


def test_unknown_tokens_are_refused_and_reads_stay_open(client: TestClient) -> None:
    assert decide(client, "not-a-token-of-this-server", "payments").status_code == 401
    assert client.post("/api/v1/decisions", json=body()).status_code == 401
    decide(client, SEARCH, "search")
    # Reads are not filtered by team: every team reads every decision.
    items = client.get("/api/v1/decisions", headers=bearer(PAYMENTS)).json()["items"]
    assert [item["request"]["team"] for item in items] == ["search"]
    assert client.get("/api/v1/decisions").status_code == 200


def test_no_token_is_ever_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    decide(client, PAYMENTS, "search")
    decide(client, "wrong-token-0123456789abcdef", "payments")
    decide(client, SEARCH, "search")

    text = caplog.text
    for token in (PAYMENTS, SEARCH, ADMIN_TOKEN, OLD_ADMIN, "wrong-token-0123456789abcdef"):
        assert token not in text


# -- where tokens come from ----------------------------------------------------------------


def test_the_environment_list_gives_each_token_its_teams() -> None:
    book = parse_tokens_env(ENTRIES)

    assert book.access_of(PAYMENTS) == Access(frozenset({"payments"}))
    assert book.access_of(SEARCH) == Access(frozenset({"search", "ads"}))
    assert book.access_of(ADMIN_TOKEN) == ADMIN
    assert book.access_of("payments") is None and book.access_of(PAYMENTS + "x") is None


def test_a_token_may_hold_equals_signs() -> None:
    token = "c2VjcmV0LXRva2VuLWJhc2U2NA=="
    assert parse_tokens_env(f"{token}=payments").access_of(token) == Access(frozenset({"payments"}))


@pytest.mark.parametrize(
    "text",
    [
        "just-a-token-without-teams-0123",
        "=payments",
        "short=payments",
        "a-long-enough-token-0123456=",
        "a-long-enough-token-0123456=pay ments|",
        "a-long-enough-token-0123456=*|payments",
        "a-long-enough-token-0123456=-payments",
    ],
)
def test_a_bad_entry_is_refused_by_position_without_its_token(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_tokens_env(f"{PAYMENTS}=payments,{text}")

    assert caught.value.field is not None and "entry 2" in caught.value.field
    token = text.partition("=")[0]
    assert not token or token not in str(caught.value)


def test_only_hashes_are_kept() -> None:
    book = book_from_env(environ={"RELEASE_AGENT_API_TOKENS": ENTRIES,
                                  "RELEASE_AGENT_API_TOKEN": OLD_ADMIN})  # fmt: skip
    kept = repr(book) + repr(book.entries)

    for token in (PAYMENTS, SEARCH, ADMIN_TOKEN, OLD_ADMIN):
        assert token not in kept
        assert hashlib.sha256(token.encode()).digest() in [d for d, _ in book.entries]


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_tokens_file_holds_hashes_with_their_teams(tmp_path: Path, suffix: str) -> None:
    table = {hash_token(PAYMENTS): ["payments"], hash_token(ADMIN_TOKEN)[7:]: "*"}
    file = tmp_path / f"tokens{suffix}"
    if suffix == ".json":
        file.write_text(json.dumps({"tokens": table}))
    else:
        lines = [f'"{key}" = {json.dumps(value)}' for key, value in table.items()]
        file.write_text("[tokens]\n" + "\n".join(lines) + "\n")

    book = load_tokens_file(file)

    assert book.access_of(PAYMENTS) == Access(frozenset({"payments"}))
    assert book.access_of(ADMIN_TOKEN) == ADMIN
    assert book.access_of(SEARCH) is None


@pytest.mark.parametrize(
    "content",
    [
        f'[tokens]\n"{PAYMENTS}" = ["payments"]\n',  # a token where its hash belongs
        f'[tokens]\n"{hash_token(PAYMENTS)}" = []\n',
        f'[tokens]\n"{hash_token(PAYMENTS)}" = [3]\n',
        f'[other]\n"{hash_token(PAYMENTS)}" = "*"\n',
        "not toml at all [",
    ],
)
def test_a_bad_tokens_file_is_refused_without_a_token(tmp_path: Path, content: str) -> None:
    file = tmp_path / "tokens.toml"
    file.write_text(content)

    with pytest.raises(InvalidInput) as caught:
        load_tokens_file(file)

    assert caught.value.field is not None and caught.value.field.startswith("tokens_file")
    assert PAYMENTS not in str(caught.value)


def test_the_app_of_serve_reads_the_tokens_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "tokens.toml"
    file.write_text(f'[tokens]\n"{hash_token(PAYMENTS)}" = ["payments"]\n')
    monkeypatch.setenv("RELEASE_AGENT_DB", f"sqlite:///{tmp_path / 'f.db'}")
    monkeypatch.setenv("RELEASE_AGENT_TOKENS_FILE", str(file))
    monkeypatch.setenv("RELEASE_AGENT_LEARN", "off")

    with client_of(create_app_from_env()) as client:
        assert decide(client, PAYMENTS, "payments").status_code == 201
        assert decide(client, PAYMENTS, "search").status_code == 403
        assert client.post("/api/v1/decisions", json=body()).status_code == 401


def test_scoped_tokens_alone_allow_listening_beyond_loopback() -> None:
    check_bind("0.0.0.0", book_from_env(environ={"RELEASE_AGENT_API_TOKENS": ENTRIES}).configured)
    with pytest.raises(InvalidInput):
        check_bind("0.0.0.0", book_from_env(environ={}).configured)


@given(
    teams=st.sets(st.sampled_from(["payments", "search", "ads", "default"]), min_size=1),
    team=st.sampled_from(["payments", "search", "ads", "default", "other"]),
)
def test_a_token_writes_exactly_for_its_teams(teams: set[str], team: str) -> None:
    token = "property-token-0123456789"
    book = parse_tokens_env(f"{token}={'|'.join(sorted(teams))}")
    access = book.access_of(token)

    assert access is not None and access.may_write(team) == (team in teams)
    assert TokenBook.admin(token).access_of(token) == ADMIN


# -- release-agent tokens hash -----------------------------------------------------------------


def test_tokens_hash_prints_the_hash_and_never_the_token() -> None:
    result = CliRunner().invoke(main, ["tokens", "hash"], input=PAYMENTS + "\n")

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sha256:" + hashlib.sha256(PAYMENTS.encode()).hexdigest()
    assert PAYMENTS not in result.output


def test_tokens_hash_refuses_a_short_token_without_printing_it() -> None:
    result = CliRunner().invoke(main, ["tokens", "hash"], input="tiny-secret\n")

    assert result.exit_code == 2
    assert "tiny-secret" not in result.output and "at least 16" in result.output


def test_serve_refuses_a_bad_tokens_file_before_listening(tmp_path: Path) -> None:
    file = tmp_path / "tokens.toml"
    file.write_text(f'[tokens]\n"{PAYMENTS}" = ["payments"]\n')  # a token, not its hash

    result = CliRunner().invoke(
        main,
        ["serve", "--db", f"sqlite:///{tmp_path / 's.db'}", "--tokens-file", str(file)],
    )

    assert result.exit_code == 2
    assert "tokens_file" in result.output and PAYMENTS not in result.output
    assert "http://" not in result.output


def test_serve_with_scoped_tokens_alone_may_listen_beyond_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused without any token (exit 2); with RELEASE_AGENT_API_TOKENS the bind check
    passes and serve goes on to the port (here one that cannot be had: exit 1)."""
    args = ["serve", "--db", f"sqlite:///{tmp_path / 's.db'}", "--host", "192.0.2.1"]
    assert CliRunner().invoke(main, args).exit_code == 2
    monkeypatch.setenv("RELEASE_AGENT_API_TOKENS", ENTRIES)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "cannot listen on 192.0.2.1" in result.output


def test_the_gate_routes_on_the_path_under_the_apps_prefix() -> None:
    import asyncio

    from release_agent.api.scopes import TeamGate
    from release_agent.api.tokens import ACCESS

    reached: list[str] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    owners = {"ours": "payments", "theirs": "search"}
    gate = TeamGate(app, owner_of_id=owners.get, owner_of_ref=owners.get)
    for release in ("ours", "theirs"):
        scope = {
            "type": "http",
            "method": "POST",
            "root_path": "/release-agent",
            "path": f"/release-agent/api/v1/decisions/{release}/outcome",
            "headers": [],
            "state": {ACCESS: Access(frozenset({"payments"}))},
        }
        asyncio.run(gate(scope, receive, send))

    assert reached == ["/release-agent/api/v1/decisions/ours/outcome"]
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [403]
