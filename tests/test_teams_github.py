"""GitHub decisions name a team: ``[github] teams`` maps a repository to the team its
deployments are decided for (its ``[teams.NAME]`` policy, its listings); a repository
not mapped is the default team's. Against the local fake of GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from api_support import LOCAL
from fake_github import FakeGitHub, delivery, protection_event
from release_agent.api import create_app
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Decision, DecisionRecord
from release_agent.domain.policy import load_policy
from release_agent.integrations.github.config import parse_github_policy

SECRET = "webhook-secret-for-tests-0123456789"
URL = "/integrations/github/webhook"
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
GO_LABELS = ("risk:low",)

POLICY = """
[github]
repositories = { "acme/shop" = "checkout" }
teams = { "ACME/Shop" = "payments" }
service_criticality = { checkout = "LOW", "docs-site" = "LOW" }

[[teams.payments.freeze.once]]
name = "settlement"
start = "2026-11-24T09:00"
end = "2026-11-24T11:00"
"""
"""acme/shop is payments' (mapped in any case), frozen over TUESDAY 10:00 UTC."""


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver)


@pytest.fixture
def app(tmp_path: Path, fake: FakeGitHub, database_url: str) -> Iterator[FastAPI]:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    yield create_app(
        db_url=database_url,
        policy=load_policy(path),
        github=fake.settings(SECRET, app=True),
        github_clock=lambda: TUESDAY,
    )


def decide(app: FastAPI, fake: FakeGitHub, repository: str, sha: str) -> DecisionRecord:
    event = protection_event(
        fake.callback_url(run_id=7, repo=repository),
        sha=sha,
        repository=repository,
        labels=GO_LABELS,
    )
    raw, headers = delivery(SECRET, event, "deployment_protection_rule", f"d-{sha}")
    with TestClient(app, base_url=LOCAL) as client:
        assert client.post(URL, content=raw, headers=headers).status_code == 202
        assert app.state.github.reviewer.settle()
    found = app.state.agent.store.decision_by_ref(f"{sha}:production")
    assert found is not None
    return found


def test_a_mapped_repository_is_decided_for_its_team_under_its_policy(
    app: FastAPI, fake: FakeGitHub
) -> None:
    record = decide(app, fake, "acme/shop", "aaaa1111")

    assert record.request.team == "payments"
    assert record.request.service == "checkout"
    assert record.decision is not Decision.GO
    assert "settlement" in record.guardrails[0]
    listed = app.state.agent.history(team="payments")
    assert [r.release_id for r in listed] == [record.release_id]


def test_a_repository_not_mapped_is_the_default_teams(app: FastAPI, fake: FakeGitHub) -> None:
    record = decide(app, fake, "acme/docs-site", "bbbb2222")

    assert record.request.team == "default"
    assert record.decision is Decision.GO and record.guardrails == []
    assert fake.reviews[-1].body["state"] == "approved"


@pytest.mark.parametrize(
    ("teams", "field"),
    [
        ({"acme/shop": "pay|ments"}, "github.teams.acme/shop"),
        ({"acme/shop": 3}, "github.teams.acme/shop"),
        ({"shop": "payments"}, "github.teams.shop"),
    ],
)
def test_a_bad_team_mapping_is_refused_naming_the_key(teams: object, field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_github_policy({"github": {"teams": teams}})

    assert caught.value.field == field


def test_the_mapping_is_read_in_any_case() -> None:
    policy = parse_github_policy({"github": {"teams": {"Acme/Shop": "payments"}}})

    assert policy.team_of("ACME/SHOP") == "payments"
    assert policy.team_of("acme/other") == "default"
