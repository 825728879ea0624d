"""The deployment protection rule end to end, against a local fake of the GitHub API:
approved, rejected and delayed flows, the approval at the window (after a restart too),
retries, and the App's tokens."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from api_support import LOCAL
from fake_github import INSTALLATION, PLAIN_TOKEN, FakeGitHub, delivery, protection_event
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.domain.models import Decision, DecisionRecord, ReleaseRequest
from release_agent.integrations.github.auth import AppTokens, StaticToken, app_jwt
from release_agent.integrations.github.client import CallbackRefused, ReviewClient
from release_agent.integrations.github.config import GitHubPolicy, GitHubSettings
from release_agent.integrations.github.events import ProtectionRuleEvent, request_fields
from release_agent.integrations.github.http import Retryable
from release_agent.integrations.github.reviewer import Reviewer
from release_agent.memory import approvals
from release_agent.memory.approvals import NewApproval
from release_agent.memory.store import Store

SECRET = "webhook-secret-for-tests-0123456789"
URL = "/integrations/github/webhook"
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
GO_LABELS = ("risk:low",)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver)


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


POLICY = """
[github]
repositories = { "acme/shop" = "checkout", "acme/docs-site" = "docs" }
service_criticality = { checkout = "MEDIUM", docs = "LOW", payments = "HIGH" }
feature_risk = "MEDIUM"
"""

FROZEN = (
    POLICY
    + """
[[freeze.once]]
name = "release-train"
start = "2026-11-24T09:00"
end = "2026-11-24T11:00"
"""
)
"""A freeze over TUESDAY 10:00 UTC: a DELAY to its end."""


@pytest.fixture(autouse=True)
def _database(database_url: str) -> Iterator[None]:
    """The apps of a test share one database on the backend under test (SQLite, or
    PostgreSQL with RELEASE_AGENT_TEST_DB)."""
    global DATABASE
    DATABASE = database_url
    yield


DATABASE = ""


def make_app(
    tmp_path: Path, fake: FakeGitHub, clock: Clock, *, app: bool = True, policy: str = POLICY
) -> FastAPI:
    from release_agent.domain.policy import load_policy

    loaded = load_policy(write_policy(tmp_path, policy))
    return create_app(
        db_url=DATABASE,
        policy=loaded,
        github=fake.settings(SECRET, app=app),
        github_clock=clock,
    )


def send(client: TestClient, event: dict[str, Any], delivery_id: str) -> int:
    raw, headers = delivery(SECRET, event, "deployment_protection_rule", delivery_id)
    return client.post(URL, content=raw, headers=headers).status_code


def settle(app: FastAPI) -> None:
    assert app.state.github.reviewer.settle(), "the reviewer ran a pass"


def decision_of(app: FastAPI, ref: str) -> DecisionRecord:
    found = app.state.agent.store.decision_by_ref(ref)
    assert found is not None
    return found


def test_a_go_is_approved_with_the_reason(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake, Clock(TUESDAY))
    with TestClient(app, base_url=LOCAL) as client:
        event = protection_event(
            fake.callback_url(run_id=11, repo="acme/docs-site"),
            repository="acme/docs-site",
            labels=GO_LABELS,
        )
        assert send(client, event, "d-go") == 202
        settle(app)
    record = decision_of(app, "3f9c2e1a:production")
    assert record.decision is Decision.GO
    assert record.request.service == "docs"
    assert record.request.feature_risk.value == "LOW"
    assert record.request.service_criticality.value == "LOW"
    assert len(fake.reviews) == 1
    review = fake.reviews[0]
    assert review.run_id == 11
    assert review.body == {
        "environment_name": "production",
        "state": "approved",
        "comment": f"GO: {record.reason.strip()} (release {record.release_id})",
    }
    assert approvals.count_pending(app.state.agent.store) == 0


def test_a_no_go_is_rejected_with_the_reason(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake, Clock(TUESDAY))
    with TestClient(app, base_url=LOCAL) as client:
        event = protection_event(
            fake.callback_url(run_id=12, repo="acme/payments"),
            repository="acme/payments",
            labels=("risk:low", "area:billing"),
        )
        assert send(client, event, "d-nogo") == 202
        settle(app)
    record = decision_of(app, "3f9c2e1a:production")
    assert record.request.service == "payments"  # no mapping: the repository's name
    assert record.request.service_criticality.value == "HIGH"
    assert record.decision is Decision.NO_GO
    assert fake.reviews[0].body == {
        "environment_name": "production",
        "state": "rejected",
        "comment": f"NO_GO: {record.reason.strip()} (release {record.release_id})",
    }


def test_a_delay_comments_now_and_answers_at_the_window(tmp_path: Path, fake: FakeGitHub) -> None:
    clock = Clock(TUESDAY)
    app = make_app(tmp_path, fake, clock, policy=FROZEN)
    store: Store = app.state.agent.store
    with TestClient(app, base_url=LOCAL) as client:
        assert send(client, protection_event(fake.callback_url(run_id=13)), "d-delay") == 202
        settle(app)
        first = decision_of(app, "3f9c2e1a:production")
        assert first.decision is Decision.DELAY and first.next_window is not None
        # A comment alone: GitHub keeps the deployment waiting.
        assert [r.body for r in fake.reviews] == [
            {
                "environment_name": "production",
                "comment": f"DELAY: release-agent will answer at "
                f"{first.next_window.isoformat()} (delay 1). {first.reason.strip()} "
                f"(release {first.release_id})",
            }
        ]
        [row] = approvals.list_all(store)
        assert (row.status, row.due_at, row.delays) == ("pending", first.next_window, 1)
        metrics = client.get("/metrics").text
        assert 'release_agent_pending_approvals{team="default"} 1.0' in metrics

        # Before the window nothing more is sent.
        clock.now = first.next_window - timedelta(minutes=1)
        settle(app)
        assert len(fake.reviews) == 1

        clock.now = first.next_window + timedelta(seconds=1)
        for _ in range(5):  # a DELAY may be delayed again, up to the policy's max_delays
            settle(app)
            row = approvals.list_all(store)[0]
            if row.status != "pending":
                break
            clock.now = row.due_at + timedelta(seconds=1)
        metrics = client.get("/metrics").text
    final = decision_of(app, "3f9c2e1a:production")
    assert final.release_id != first.release_id and final.request.delays >= 1
    assert final.decision in (Decision.GO, Decision.NO_GO)
    last = fake.reviews[-1].body
    assert last["state"] == ("approved" if final.decision is Decision.GO else "rejected")
    assert final.release_id in last["comment"] and "at the window" in last["comment"]
    assert approvals.list_all(store)[0].status == "done"
    assert 'release_agent_pending_approvals{team="default"} 0.0' in metrics


def test_an_approval_due_at_the_window_is_sent_after_a_restart(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    clock = Clock(TUESDAY)
    app = make_app(tmp_path, fake, clock, policy=FROZEN)
    with TestClient(app, base_url=LOCAL) as client:
        assert send(client, protection_event(fake.callback_url(run_id=14)), "d-restart") == 202
        settle(app)
    first = decision_of(app, "3f9c2e1a:production")
    assert first.decision is Decision.DELAY and first.next_window is not None
    assert len(fake.reviews) == 1  # the comment

    # A new server over the same database, at a time past the window: it takes up the
    # pending review as it starts, without any new delivery.
    later = Clock(first.next_window + timedelta(minutes=5))
    restarted = make_app(tmp_path, fake, later, policy=FROZEN)
    with TestClient(restarted, base_url=LOCAL):
        for _ in range(5):
            settle(restarted)
            row = approvals.list_all(restarted.state.agent.store)[0]
            if row.status != "pending":
                break
            later.now = row.due_at + timedelta(seconds=1)
    assert fake.reviews[-1].body.get("state") in ("approved", "rejected")
    assert approvals.list_all(restarted.state.agent.store)[0].status == "done"


def test_a_replayed_delivery_is_not_decided_twice(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake, Clock(TUESDAY))
    with TestClient(app, base_url=LOCAL) as client:
        event = protection_event(fake.callback_url(), labels=GO_LABELS)
        assert send(client, event, "d-1") == 202
        settle(app)
        assert send(client, event, "d-1") == 200
        settle(app)
    assert len(fake.reviews) == 1
    assert len(app.state.agent.history()) == 1


def test_the_same_deployment_delivered_twice_is_decided_once(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    """Two delivery ids for one sha and environment (a re-run): one decision, by ref."""
    app = make_app(tmp_path, fake, Clock(TUESDAY))
    with TestClient(app, base_url=LOCAL) as client:
        event = protection_event(fake.callback_url(), labels=GO_LABELS)
        assert send(client, event, "d-1") == 202
        assert send(client, event, "d-2") == 202
        settle(app)
    assert len(app.state.agent.history()) == 1
    assert [r.body["state"] for r in fake.reviews] == ["approved", "approved"]


def test_an_event_the_agent_cannot_take_is_rejected_saying_why(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    app = make_app(tmp_path, fake, Clock(TUESDAY))
    with TestClient(app, base_url=LOCAL) as client:
        event = protection_event(fake.callback_url(), environment="prod!*", labels=GO_LABELS)
        assert send(client, event, "d-bad") == 202
        settle(app)
    body = fake.reviews[0].body
    assert body["state"] == "rejected"
    assert "cannot decide" in body["comment"] and "env" in body["comment"]
    assert app.state.agent.history() == []


# -- the reviewer and client, alone -----------------------------------------------------


def pending(store: Store, fake: FakeGitHub, labels: tuple[str, ...] = GO_LABELS) -> None:
    event = ProtectionRuleEvent.model_validate(protection_event(fake.callback_url(), labels=labels))
    fields = request_fields(event, GitHubPolicy(service_criticality={"shop": "LOW"}))
    new = NewApproval(
        "d-1",
        event.ref,
        "acme/shop",
        "production",
        INSTALLATION,
        fake.callback_url(),
        json.dumps(fields),
    )
    with store.transaction() as conn:
        approvals.take_delivery(conn, "d-1", "deployment_protection_rule", TUESDAY)
        approvals.add_pending(conn, new, TUESDAY)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    yield opened
    opened.close()


def reviewer_over(
    store: Store, fake: FakeGitHub, clock: Clock, *, retries: int = 3, app: bool = False
) -> Reviewer:
    settings = fake.settings(SECRET, app=app)
    credentials = (
        AppTokens(settings.app_id or "", settings.private_key or "", settings.api_url)
        if app
        else StaticToken(PLAIN_TOKEN)
    )
    client = ReviewClient(settings, credentials, retries=retries, backoff=0.0)
    agent = Agent(store)
    return Reviewer(store, agent.decide, client, clock=clock)


def test_a_failing_callback_is_retried_within_the_attempt(store: Store, fake: FakeGitHub) -> None:
    pending(store, fake)
    reviewer = reviewer_over(store, fake, Clock(TUESDAY))
    fake.fail_reviews(2, status=502)
    assert reviewer.run_due() == 1
    assert [r.body["state"] for r in fake.reviews] == ["approved"]
    assert reviewer.client.attempts == 3
    assert approvals.list_all(store)[0].status == "done"


def test_a_callback_that_keeps_failing_is_tried_again_later(store: Store, fake: FakeGitHub) -> None:
    pending(store, fake)
    clock = Clock(TUESDAY)
    reviewer = reviewer_over(store, fake, clock, retries=1)
    fake.fail_reviews(2, status=503)
    reviewer.run_due()
    row = approvals.list_all(store)[0]
    assert (row.status, row.attempts) == ("pending", 1) and row.due_at > TUESDAY
    assert fake.reviews == []
    assert reviewer.run_due() == 0  # not due yet
    clock.now = row.due_at
    assert reviewer.run_due() == 1
    assert [r.body["state"] for r in fake.reviews] == ["approved"]
    # Retried with the same ref: the stored decision, not a new one.
    assert len(Agent(store).history()) == 1


def test_a_timed_out_callback_is_retried(store: Store, fake: FakeGitHub) -> None:
    pending(store, fake)
    reviewer = reviewer_over(store, fake, Clock(TUESDAY), retries=0)
    reviewer.client.timeout = 0.2
    fake.stall_seconds = 1.0
    reviewer.run_due()
    row = approvals.list_all(store)[0]
    assert row.status == "pending" and row.attempts == 1
    assert "timed out" in (_last_error(store) or "")


def _last_error(store: Store) -> str | None:
    import sqlalchemy as sa

    from release_agent.memory import schema

    with store.reading() as conn:
        return conn.execute(sa.select(schema.pending_approvals.c.last_error)).scalar()


def test_a_review_github_refuses_ends_at_once(store: Store, fake: FakeGitHub) -> None:
    pending(store, fake)
    reviewer = reviewer_over(store, fake, Clock(TUESDAY))
    fake.fail_reviews(1, status=422)
    reviewer.run_due()
    assert approvals.list_all(store)[0].status == "failed"
    assert reviewer.client.attempts == 1


def test_the_token_is_never_sent_to_a_callback_elsewhere(fake: FakeGitHub) -> None:
    client = ReviewClient(fake.settings(SECRET, app=False), StaticToken(PLAIN_TOKEN))
    with pytest.raises(CallbackRefused, match="not on the configured GitHub API"):
        client.review("http://127.0.0.1:1/steal", None, "production", "approved", "GO")
    with pytest.raises(CallbackRefused, match="not on the configured"):
        client.review(fake.api_url + ".evil.example/x", None, "production", "approved", "GO")
    assert client.attempts == 0


def test_deciding_that_keeps_failing_ends_in_a_rejection(store: Store, fake: FakeGitHub) -> None:
    pending(store, fake)
    clock = Clock(TUESDAY)
    settings = fake.settings(SECRET, app=False)
    client = ReviewClient(settings, StaticToken(PLAIN_TOKEN), backoff=0.0)

    def broken(request: ReleaseRequest) -> DecisionRecord:
        raise RuntimeError("the pipeline fell over")

    reviewer = Reviewer(store, broken, client, clock=clock, max_attempts=2)
    reviewer.run_due()
    assert fake.reviews == []
    clock.now = approvals.list_all(store)[0].due_at
    reviewer.run_due()
    assert [r.body["state"] for r in fake.reviews] == ["rejected"]
    assert approvals.list_all(store)[0].status == "failed"


def test_two_reviewers_over_one_database_send_a_review_once(
    database_url: str, fake: FakeGitHub
) -> None:
    first, second = Store.open(database_url), Store.open(database_url)
    try:
        pending(first, fake)
        clock = Clock(TUESDAY)
        one, two = reviewer_over(first, fake, clock), reviewer_over(second, fake, clock)
        assert approvals.next_due(second, TUESDAY) == TUESDAY
        claimed = approvals.claim_due(first, TUESDAY, timedelta(minutes=5))
        assert len(claimed) == 1
        assert two.run_due() == 0  # the row is leased to the first
        # The other server waits for the lease to run out, not for a row it cannot take.
        assert approvals.next_due(second, TUESDAY) == TUESDAY + timedelta(minutes=5)
        for row in claimed:
            one._handle(row)
        assert two.run_due() == 0
        assert len(fake.reviews) == 1
    finally:
        first.close()
        second.close()


# -- the App's credentials ----------------------------------------------------------------


def test_the_app_jwt_is_signed_with_the_app_key(fake: FakeGitHub) -> None:
    tokens = AppTokens(fake.app_id, fake.private_pem, fake.api_url)
    jwt = app_jwt(fake.app_id, tokens._key, datetime.now(UTC))
    claims = fake._verified(jwt)
    assert claims is not None and claims["iss"] == fake.app_id
    assert claims["exp"] - claims["iat"] <= 600
    other = AppTokens(fake.app_id, FakeGitHub(fake.server).private_pem, fake.api_url)
    assert fake._verified(app_jwt(fake.app_id, other._key, datetime.now(UTC))) is None


def test_installation_tokens_are_fetched_with_the_jwt_and_cached(
    store: Store, fake: FakeGitHub
) -> None:
    reviewer = reviewer_over(store, fake, Clock(TUESDAY), app=True)
    tokens = reviewer.client.credentials
    assert isinstance(tokens, AppTokens)
    first = tokens.token(INSTALLATION)
    assert tokens.token(INSTALLATION) == first
    assert tokens.fetched == 1 and fake.tokens_issued == [first]
    assert fake.jwt_claims[0]["iss"] == fake.app_id
    pending(store, fake)
    reviewer.run_due()
    assert fake.reviews[0].token == first
    assert tokens.fetched == 1  # the cached token answered GitHub


def test_a_refused_installation_token_is_fetched_again_once(store: Store, fake: FakeGitHub) -> None:
    reviewer = reviewer_over(store, fake, Clock(TUESDAY), app=True)
    tokens = reviewer.client.credentials
    assert isinstance(tokens, AppTokens)
    fake.revoked.add(tokens.token(INSTALLATION))
    pending(store, fake)
    reviewer.run_due()
    assert tokens.fetched == 2
    assert fake.reviews[0].token == fake.tokens_issued[1]


def test_an_expiring_token_is_fetched_again(fake: FakeGitHub) -> None:
    tokens = AppTokens(fake.app_id, fake.private_pem, fake.api_url)
    first = tokens.token(INSTALLATION)
    token, _ = tokens._cache[INSTALLATION]
    tokens._cache[INSTALLATION] = (token, datetime.now(UTC) + timedelta(minutes=2))
    assert tokens.token(INSTALLATION) != first
    assert tokens.fetched == 2


def test_a_bad_private_key_is_refused_without_quoting_it() -> None:
    from release_agent.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="RELEASE_AGENT_GITHUB_PRIVATE_KEY") as error:
        AppTokens("1", "-----BEGIN RSA PRIVATE KEY-----\nnotakey\n", "http://127.0.0.1:1")
    assert "notakey" not in str(error.value)


def test_settings_read_from_the_environment(tmp_path: Path, fake: FakeGitHub) -> None:
    from release_agent.domain.errors import InvalidInput

    key = tmp_path / "app.pem"
    key.write_text(fake.private_pem)
    settings = GitHubSettings.from_env(
        {
            "RELEASE_AGENT_GITHUB_WEBHOOK_SECRET": SECRET,
            "RELEASE_AGENT_GITHUB_APP_ID": "42",
            "RELEASE_AGENT_GITHUB_PRIVATE_KEY_FILE": str(key),
            "RELEASE_AGENT_GITHUB_API_URL": "https://github.example.com/api/v3/",
        }
    )
    assert settings.private_key == fake.private_pem
    assert settings.api_url == "https://github.example.com/api/v3"
    assert "BEGIN" not in repr(settings) and SECRET not in repr(settings)
    with pytest.raises(InvalidInput, match="RELEASE_AGENT_GITHUB_APP_ID"):
        GitHubSettings.from_env({"RELEASE_AGENT_GITHUB_APP_ID": "42"})
    with pytest.raises(InvalidInput, match="RELEASE_AGENT_GITHUB_API_URL"):
        GitHubSettings.from_env({"RELEASE_AGENT_GITHUB_API_URL": "ftp://x"})


def test_no_token_is_logged_when_sending_fails(
    store: Store, fake: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pending(store, fake)
    reviewer = reviewer_over(store, fake, Clock(TUESDAY), retries=0, app=True)
    fake.fail_reviews(1, status=500)
    reviewer.run_due()
    assert "GitHub did not take the review" in caplog.text
    for token in fake.tokens_issued:
        assert token not in caplog.text
    fake.fail_reviews(9, status=500)
    with pytest.raises(Retryable) as error:
        reviewer.client.review(fake.callback_url(), INSTALLATION, "production", None, "x")
    assert all(token not in str(error.value) for token in fake.tokens_issued)


def test_a_delay_a_human_overrides_is_answered_at_once(tmp_path: Path, fake: FakeGitHub) -> None:
    clock = Clock(TUESDAY)
    app = make_app(tmp_path, fake, clock, policy=FROZEN)
    with TestClient(app, base_url=LOCAL) as client:
        assert send(client, protection_event(fake.callback_url()), "d-o") == 202
        settle(app)
        first = decision_of(app, "3f9c2e1a:production")
        assert first.decision is Decision.DELAY and len(fake.reviews) == 1
        app.state.agent.override(first.release_id, "NO_GO", "alice", "the fix is not ready")
        settle(app)  # long before the window
    body = fake.reviews[-1].body
    assert body["state"] == "rejected"
    assert "alice" in body["comment"] and "the fix is not ready" in body["comment"]
    assert approvals.list_all(app.state.agent.store)[0].status == "done"
    assert len(app.state.agent.history()) == 1  # nothing decided again


def test_without_cryptography_an_app_says_which_extra_to_install(
    fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from release_agent.domain.errors import InvalidInput

    pem = fake.private_pem
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives", None)
    with pytest.raises(InvalidInput, match=r"pip install 'release-agent\[github\]'"):
        AppTokens(fake.app_id, pem, fake.api_url)
