"""The GitHub webhook endpoint: signatures, deliveries taken once, and what it answers
before anything is decided."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from api_support import AUTH, LOCAL, TOKEN, client_of, only_problem
from fake_github import FakeGitHub, delivery, protection_event, status_event
from release_agent.api import create_app
from release_agent.integrations.github.config import GitHubSettings
from release_agent.integrations.github.signature import sign, verify
from release_agent.memory import approvals, schema
from release_agent.memory.store import Store

SECRET = "webhook-secret-for-tests-0123456789"
URL = "/integrations/github/webhook"
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver)


def make_app(tmp_path: Path, fake: FakeGitHub, **options: Any) -> FastAPI:
    options.setdefault("github", fake.settings(SECRET))
    return create_app(
        db_url=f"sqlite:///{tmp_path / 'gh.db'}", github_clock=Clock(TUESDAY), **options
    )


@pytest.fixture
def app(tmp_path: Path, fake: FakeGitHub) -> FastAPI:
    return make_app(tmp_path, fake)


def rows(app: FastAPI) -> tuple[int, int]:
    """(deliveries taken, pending reviews) in the app's database."""
    store: Store = app.state.agent.store
    with store.reading() as conn:
        taken = conn.execute(
            sa.select(sa.func.count()).select_from(schema.github_deliveries)
        ).scalar_one()
        pending = conn.execute(
            sa.select(sa.func.count()).select_from(schema.pending_approvals)
        ).scalar_one()
    return int(taken), int(pending)


def test_signature_is_the_hmac_of_the_raw_body() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    header = sign(SECRET, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify(SECRET, body, header)
    assert verify(SECRET, body, header.upper().replace("SHA256=", "sha256="))
    assert not verify(SECRET, body + b" ", header)
    assert not verify("another-secret-of-some-length", body, header)
    assert not verify(SECRET, body, None)
    assert not verify(SECRET, body, header.removeprefix("sha256="))


def test_a_well_signed_protection_event_is_accepted_at_once(app: FastAPI, fake: FakeGitHub) -> None:
    raw, headers = delivery(
        SECRET, protection_event(fake.callback_url()), "deployment_protection_rule", "d-1"
    )
    answer = client_of(app).post(URL, content=raw, headers=headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "accepted"
    assert rows(app) == (1, 1)
    # Accepted, not decided: no client lifespan here, so no reviewer ran.
    assert fake.reviews == []


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64, "md5=" + "1" * 32],
)
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(
    app: FastAPI, fake: FakeGitHub, signature: str | None
) -> None:
    raw, headers = delivery(
        SECRET, protection_event(fake.callback_url()), "deployment_protection_rule", "d-1"
    )
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    problem = only_problem(client_of(app).post(URL, content=raw, headers=headers), 401)
    assert problem["field"] == "x-hub-signature-256"
    assert rows(app) == (0, 0)


def test_a_body_signed_with_another_secret_is_refused(app: FastAPI, fake: FakeGitHub) -> None:
    raw, headers = delivery(
        "not-the-secret-at-all-0123456789",
        protection_event(fake.callback_url()),
        "deployment_protection_rule",
        "d-1",
    )
    only_problem(client_of(app).post(URL, content=raw, headers=headers), 401)
    assert rows(app) == (0, 0)


def test_any_body_with_any_wrong_signature_is_refused(app: FastAPI, fake: FakeGitHub) -> None:
    client = client_of(app)

    @settings(max_examples=60, deadline=None)
    @given(
        body=st.binary(max_size=2000),
        signature=st.one_of(
            st.text(max_size=80).filter(lambda s: s.isascii() and s.isprintable()),
            st.binary(min_size=32, max_size=32).map(lambda b: "sha256=" + b.hex()),
        ),
        event=st.sampled_from(["deployment_protection_rule", "deployment_status", "ping"]),
    )
    def check(body: bytes, signature: str, event: str) -> None:
        if signature == sign(SECRET, body):  # not a wrong one
            return
        answer = client.post(
            URL,
            content=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": "d-x",
                "X-Hub-Signature-256": signature,
                "Content-Type": "application/json",
            },
        )
        assert answer.status_code == 401, answer.text
        assert rows(app) == (0, 0)

    check()


def test_without_a_secret_the_endpoint_accepts_nothing(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake, github=GitHubSettings(api_url=fake.api_url))
    raw, headers = delivery(SECRET, {"zen": "x"}, "ping", "d-1")
    problem = only_problem(client_of(app).post(URL, content=raw, headers=headers), 404)
    assert "RELEASE_AGENT_GITHUB_WEBHOOK_SECRET" in problem["message"]
    unsigned = client_of(app).post(
        URL, content=raw, headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-2"}
    )
    assert unsigned.status_code == 404
    assert rows(app) == (0, 0)


def test_the_secret_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASE_AGENT_GITHUB_WEBHOOK_SECRET", SECRET)
    app = create_app(db_url=f"sqlite:///{tmp_path / 'env.db'}")
    raw, headers = delivery(SECRET, {"zen": "x", "hook_id": 1}, "ping", "d-1")
    answer = client_of(app).post(URL, content=raw, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["status"] == "pong"


def test_a_short_secret_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from release_agent.domain.errors import InvalidInput

    monkeypatch.setenv("RELEASE_AGENT_GITHUB_WEBHOOK_SECRET", "short")
    with pytest.raises(InvalidInput, match="RELEASE_AGENT_GITHUB_WEBHOOK_SECRET") as error:
        create_app(db_url=f"sqlite:///{tmp_path / 'env.db'}")
    assert "short" not in str(error.value).replace("characters long", "")


def test_ping_and_other_events_are_answered_and_ignored(app: FastAPI) -> None:
    client = client_of(app)
    for event in ("ping", "push", "workflow_job"):
        raw, headers = delivery(SECRET, {"zen": "x"}, event, f"d-{event}")
        answer = client.post(URL, content=raw, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] in ("pong", "ignored")
    assert rows(app) == (0, 0)


def test_a_delivery_seen_before_is_not_taken_twice(app: FastAPI, fake: FakeGitHub) -> None:
    client = client_of(app)
    raw, headers = delivery(
        SECRET, protection_event(fake.callback_url()), "deployment_protection_rule", "d-same"
    )
    first = client.post(URL, content=raw, headers=headers)
    again = client.post(URL, content=raw, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["status"] == "duplicate"
    assert rows(app) == (1, 1)


def test_a_delivery_is_taken_once_across_processes(database_url: str) -> None:
    """Two stores over one database (two servers): only one takes a delivery id."""
    first, second = Store.open(database_url), Store.open(database_url)
    try:
        now = datetime.now(UTC)
        with first.transaction() as conn:
            assert approvals.take_delivery(conn, "d-1", "deployment_protection_rule", now)
        with second.transaction() as conn:
            assert not approvals.take_delivery(conn, "d-1", "deployment_protection_rule", now)
            assert approvals.take_delivery(conn, "d-2", "deployment_status", now)
        assert approvals.delivery_taken(first, "d-2")
    finally:
        first.close()
        second.close()


def test_a_payload_without_what_the_event_needs_is_refused_naming_the_field(
    app: FastAPI, fake: FakeGitHub
) -> None:
    event = protection_event(fake.callback_url())
    del event["deployment"]["sha"]
    raw, headers = delivery(SECRET, event, "deployment_protection_rule", "d-1")
    problem = only_problem(client_of(app).post(URL, content=raw, headers=headers), 422)
    assert problem["field"] == "payload.deployment.sha"
    raw, headers = delivery(SECRET, b"not json", "deployment_protection_rule", "d-2")
    only_problem(client_of(app).post(URL, content=raw, headers=headers), 422)
    raw, headers = delivery(SECRET, protection_event(fake.callback_url()), "x", "d-3")
    del headers["X-GitHub-Delivery"]
    headers["X-GitHub-Event"] = "deployment_protection_rule"
    problem = only_problem(client_of(app).post(URL, content=raw, headers=headers), 422)
    assert problem["field"] == "x-github-delivery"
    assert rows(app) == (0, 0)


def test_the_webhook_needs_no_bearer_token_but_other_writes_do(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    app = make_app(tmp_path, fake, token=TOKEN)
    client = TestClient(app, base_url=LOCAL)
    raw, headers = delivery(SECRET, {"zen": "x"}, "ping", "d-1")
    assert client.post(URL, content=raw, headers=headers).status_code == 200
    bad = dict(headers, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert client.post(URL, content=raw, headers=bad).status_code == 401
    outcome = {"ref": "abc:prod", "result": "success"}
    assert client.post("/api/v1/outcomes", json=outcome).status_code == 401
    assert client.post("/api/v1/outcomes", json=outcome, headers=AUTH).status_code == 404


def test_no_secret_reaches_a_log_or_an_answer(
    tmp_path: Path, fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(tmp_path, fake)
    with TestClient(app, base_url=LOCAL) as client:
        raw, headers = delivery(
            SECRET, protection_event(fake.callback_url()), "deployment_protection_rule", "d-1"
        )
        texts = [client.post(URL, content=raw, headers=headers).text]
        assert app.state.github.reviewer.settle()
        raw, headers = delivery(SECRET, status_event("success"), "deployment_status", "d-2")
        texts.append(client.post(URL, content=raw, headers=headers).text)
        texts.append(client.get("/metrics").text)
    assert fake.reviews, "the review was sent"
    logged = caplog.text + "".join(texts) + repr(app.state.github.settings)
    for secret in (SECRET, *fake.tokens_issued, fake.private_pem.splitlines()[1]):
        assert secret not in logged


def _json(answer: Any) -> Any:
    return json.loads(answer.text)


@pytest.fixture(autouse=True)
def _no_github_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "RELEASE_AGENT_GITHUB_WEBHOOK_SECRET",
        "RELEASE_AGENT_GITHUB_TOKEN",
        "RELEASE_AGENT_GITHUB_APP_ID",
        "RELEASE_AGENT_GITHUB_PRIVATE_KEY",
        "RELEASE_AGENT_GITHUB_PRIVATE_KEY_FILE",
        "RELEASE_AGENT_GITHUB_API_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    yield


# -- the mapping of an event to a request -----------------------------------------------

_LEVELS = ["LOW", "MEDIUM", "HIGH"]
_label = st.one_of(
    st.sampled_from(["risk:low", "risk:medium", "Risk: HIGH", "feature-risk=low", "risk/med"]),
    st.text(max_size=20).map(lambda t: f"risk:{t}"),
    st.text(max_size=30),
)


@settings(max_examples=200, deadline=None)
@given(first=st.lists(_label, max_size=6), more=st.lists(_label, max_size=6))
def test_labels_never_lower_the_risk_and_an_unreadable_one_counts_as_high(
    first: list[str], more: list[str]
) -> None:
    from release_agent.integrations.github.events import RISK_LABEL, PullRequest, label_risk

    def pulls(names: list[str]) -> list[PullRequest]:
        return [PullRequest.model_validate({"labels": [{"name": n} for n in names]})]

    before, after = label_risk(pulls(first)), label_risk(pulls(first + more))
    if before is not None:
        assert after is not None and _LEVELS.index(after) >= _LEVELS.index(before)
    stated = [RISK_LABEL.match(name) for name in first]
    if not any(stated):
        assert before is None
    for match in stated:
        word = match.group(1).upper() if match else None
        if match and word not in ("LOW", "MEDIUM", "MED", "MID", "MODERATE", "HIGH"):
            assert before == "HIGH"


def test_an_event_maps_to_a_request_with_the_conservative_defaults(fake: FakeGitHub) -> None:
    from release_agent.integrations.github.config import GitHubPolicy
    from release_agent.integrations.github.events import ProtectionRuleEvent, request_fields

    event = ProtectionRuleEvent.model_validate(
        protection_event(fake.callback_url(), environment="Production EU", repository="Acme/Shop")
    )
    fields = request_fields(event, GitHubPolicy())
    assert fields["service"] == "Shop"
    assert fields["env"] == "Production EU"
    assert fields["ref"] == "3f9c2e1a:Production_EU"
    assert (fields["feature_risk"], fields["service_criticality"]) == ("HIGH", "HIGH")
    mapped = GitHubPolicy.model_validate(
        {
            "repositories": {"acme/shop": "checkout"},
            "service_criticality": {"checkout": "low"},
            "feature_risk": "MEDIUM",
        }
    )
    fields = request_fields(event, mapped)
    assert (fields["service"], fields["service_criticality"]) == ("checkout", "LOW")
    assert fields["feature_risk"] == "MEDIUM"
    with_payload = ProtectionRuleEvent.model_validate(
        protection_event(fake.callback_url(), payload={"feature_risk": "low"})
    )
    assert request_fields(with_payload, mapped)["feature_risk"] == "LOW"
    odd_payload = ProtectionRuleEvent.model_validate(
        protection_event(fake.callback_url(), payload='{"feature_risk": "tiny"}')
    )
    assert request_fields(odd_payload, mapped)["feature_risk"] == "HIGH"
    labelled = ProtectionRuleEvent.model_validate(
        protection_event(
            fake.callback_url(), payload={"feature_risk": "low"}, labels=("risk:high",)
        )
    )
    assert request_fields(labelled, mapped)["feature_risk"] == "HIGH"


# -- serve ----------------------------------------------------------------------------------


def _serve(tmp_path: Path, secret: str) -> Any:
    import os
    import subprocess
    import sys

    env = {**os.environ, "RELEASE_AGENT_GITHUB_WEBHOOK_SECRET": secret}
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    return subprocess.Popen(
        [sys.executable, "-m", "release_agent", "serve", "--port", "0", "--db", db, "--no-learn"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_serve_takes_signed_webhooks_and_says_so(tmp_path: Path) -> None:
    import re
    import time

    import httpx

    process = _serve(tmp_path, SECRET)
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline(), process.stderr.readline()]
        found = re.search(r"http://127\.0\.0\.1:\d+/integrations/github/webhook", lines[1])
        assert found, lines
        assert "no App or token set" in lines[1]
        raw, headers = delivery(SECRET, {"zen": "x", "hook_id": 1}, "ping", "d-1")
        deadline = time.monotonic() + 120
        while True:  # the socket is listening; the app may still be starting
            try:
                answer = httpx.post(found.group(0), content=raw, headers=headers, timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert answer.status_code == 200 and answer.json()["status"] == "pong"
    finally:
        process.terminate()
        process.communicate(timeout=60)


def test_serve_refuses_a_short_secret_with_exit_2(tmp_path: Path) -> None:
    process = _serve(tmp_path, "short")
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2, err
    assert "RELEASE_AGENT_GITHUB_WEBHOOK_SECRET" in err and "short" not in err.replace(
        "characters long", ""
    )
