"""Outcomes without typing: GitHub's deployment_status webhooks, ``POST
/api/v1/outcomes`` by ref (with Argo Rollouts' phases), Flagger's webhook, and the
examples in examples/argo and examples/flagger run against the app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer

from api_support import AUTH, LOCAL, TOKEN, client_of, only_problem
from fake_github import FakeGitHub, delivery, status_event
from release_agent.api import create_app
from release_agent.domain.models import Decision, ReleaseRequest, Result
from release_agent.domain.policy import load_policy
from release_agent.integrations.github.config import GitHubPolicy, parse_github_policy
from release_agent.integrations.github.events import status_result
from release_agent.integrations.outcomes import result_of_phase

SECRET = "webhook-secret-for-tests-0123456789"
URL = "/integrations/github/webhook"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REF = "3f9c2e1a:production"


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeGitHub:
    return FakeGitHub(httpserver)


def make_app(
    tmp_path: Path, fake: FakeGitHub, policy: str = "", token: str | None = None
) -> FastAPI:
    path = tmp_path / "policy.toml"
    path.write_text(policy, encoding="utf-8")
    return create_app(
        db_url=f"sqlite:///{tmp_path / 'out.db'}",
        policy=load_policy(path),
        github=fake.settings(SECRET, app=False),
        token=token,
    )


def decided(app: FastAPI, ref: str = REF, risk: str = "LOW") -> str:
    """A GO stored with ``ref``; returns its release id."""
    request = ReleaseRequest(
        service="shop",
        env="production",
        feature_risk=risk,
        service_criticality="LOW",
        at="2026-11-24T10:00:00+00:00",
        ref=ref,
    )
    record = app.state.agent.decide(request)
    return record.release_id


def post_status(client: TestClient, state: str, delivery_id: str, sha: str = "3f9c2e1a") -> Any:
    raw, headers = delivery(SECRET, status_event(state, sha=sha), "deployment_status", delivery_id)
    return client.post(URL, content=raw, headers=headers)


# -- deployment_status ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "policy", "result"),
    [
        ("success", "", Result.success),
        ("failure", "", Result.rolled_back),
        ("error", "", Result.rolled_back),
        ("failure", '[github]\nfailure_result = "incident"\n', Result.incident),
        ("error", '[github]\nfailure_result = "incident"\n', Result.incident),
    ],
)
def test_a_deployment_status_records_the_outcome_by_ref(
    tmp_path: Path, fake: FakeGitHub, state: str, policy: str, result: Result
) -> None:
    app = make_app(tmp_path, fake, policy)
    release_id = decided(app)
    client = client_of(app)
    answer = post_status(client, state, "s-1")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "recorded"
    assert answer.json()["release_id"] == release_id
    outcome = app.state.agent.get(release_id).outcome
    assert outcome is not None and outcome.result is result
    metrics = client.get("/metrics").text
    assert f'release_agent_outcomes_total{{env="production",result="{result.value}"' in metrics


@pytest.mark.parametrize("state", ["queued", "pending", "in_progress", "inactive"])
def test_a_status_that_is_no_outcome_yet_is_ignored(
    tmp_path: Path, fake: FakeGitHub, state: str
) -> None:
    app = make_app(tmp_path, fake)
    release_id = decided(app)
    answer = post_status(client_of(app), state, "s-1")
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert app.state.agent.get(release_id).outcome is None


def test_a_status_for_an_unknown_ref_or_an_outcome_already_recorded_is_ignored(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    app = make_app(tmp_path, fake)
    release_id = decided(app)
    client = client_of(app)
    unknown = post_status(client, "success", "s-1", sha="ffffffff")
    assert (
        unknown.json()["status"] == "ignored" and "no decision with ref" in unknown.json()["detail"]
    )
    assert post_status(client, "success", "s-2").json()["status"] == "recorded"
    later = post_status(client, "failure", "s-3")
    assert later.json()["status"] == "ignored" and "already has outcome" in later.json()["detail"]
    outcome = app.state.agent.get(release_id).outcome
    assert outcome is not None and outcome.result is Result.success


def test_a_replayed_status_delivery_is_not_recorded_twice(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake)
    decided(app)
    client = client_of(app)
    assert post_status(client, "success", "s-1").json()["status"] == "recorded"
    assert post_status(client, "success", "s-1").json()["status"] == "duplicate"


def test_the_status_mapping_and_the_policy_table() -> None:
    policy = GitHubPolicy()
    assert status_result("success", policy) is Result.success
    assert status_result("failure", policy) is Result.rolled_back
    assert status_result("in_progress", policy) is None
    assert parse_github_policy({"github": {"failure_result": "incident"}}).failure_result == (
        "incident"
    )
    from release_agent.domain.errors import PolicyError

    with pytest.raises(PolicyError, match=r"github.failure_result.*allowed: rolled_back"):
        parse_github_policy({"github": {"failure_result": "success"}})
    with pytest.raises(PolicyError, match=r"github.colour"):
        parse_github_policy({"github": {"colour": "red"}})
    with pytest.raises(PolicyError, match=r"github.feature_risk"):
        parse_github_policy({"github": {"feature_risk": "EXTREME"}})


def test_a_malformed_github_table_stops_the_app_from_starting(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    from release_agent.domain.errors import PolicyError

    with pytest.raises(PolicyError, match=r"github\.repositories"):
        make_app(tmp_path, fake, '[github]\nrepositories = { "noslash" = "shop" }\n')


# -- POST /api/v1/outcomes ----------------------------------------------------------------


def test_an_outcome_by_ref_is_recorded(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake, token=TOKEN)
    release_id = decided(app)
    client = TestClient(app, base_url=LOCAL)
    body = {"ref": REF, "result": "DEGRADED", "notes": "p99 doubled for ten minutes"}
    answer = client.post("/api/v1/outcomes", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == f"/api/v1/decisions/{release_id}"
    record = answer.json()
    assert record["release_id"] == release_id
    assert record["outcome"]["result"] == "degraded"
    assert record["outcome"]["notes"] == "p99 doubled for ten minutes"
    again = client.post("/api/v1/outcomes", json=body, headers=AUTH)
    assert "already has outcome degraded" in only_problem(again, 409)["message"]
    assert client.post("/api/v1/outcomes", json=body).status_code == 401


@pytest.mark.parametrize(
    ("phase", "result"),
    [("Successful", "success"), ("Failed", "rolled_back"), ("Error", "rolled_back")],
)
def test_an_argo_analysis_phase_is_mapped(
    tmp_path: Path, fake: FakeGitHub, phase: str, result: str
) -> None:
    app = make_app(tmp_path, fake)
    decided(app)
    answer = client_of(app).post("/api/v1/outcomes", json={"ref": REF, "phase": phase})
    assert answer.status_code == 201, answer.text
    assert answer.json()["outcome"]["result"] == result


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"ref": REF, "result": "fine"}, "result", 422),
        ({"ref": REF}, "result", 422),
        ({"ref": REF, "result": "success", "phase": "Successful"}, "result", 422),
        ({"ref": REF, "phase": "Inconclusive"}, "phase", 422),
        ({"ref": REF, "phase": "Running"}, "phase", 422),
        ({"ref": "has space", "result": "success"}, "ref", 422),
        ({"ref": REF, "result": "success", "extra": 1}, "extra", 422),
        ({"ref": "unknown:prod", "result": "success"}, "ref", 404),
    ],
)
def test_a_bad_outcome_is_refused_naming_the_field_and_nothing_is_written(
    tmp_path: Path, fake: FakeGitHub, body: dict[str, Any], field: str, status: int
) -> None:
    app = make_app(tmp_path, fake)
    release_id = decided(app)
    problem = only_problem(client_of(app).post("/api/v1/outcomes", json=body), status)
    assert problem["field"] == field
    if field in ("result", "phase") and status == 422 and "extra" not in body:
        assert problem["allowed"]
    assert app.state.agent.get(release_id).outcome is None


def test_a_no_go_has_no_outcome_by_ref(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake)
    request = ReleaseRequest(
        service="shop",
        env="production",
        feature_risk="HIGH",
        service_criticality="HIGH",
        at="2026-11-24T10:00:00+00:00",
        ref="nogo:production",
    )
    assert app.state.agent.decide(request).decision is Decision.NO_GO
    answer = client_of(app).post(
        "/api/v1/outcomes", json={"ref": "nogo:production", "phase": "Failed"}
    )
    assert "NO_GO" in only_problem(answer, 409)["message"]


def test_phases_map_to_results() -> None:
    assert result_of_phase("successful") is Result.success
    assert result_of_phase(" Succeeded ") is Result.success
    assert result_of_phase("FAILED") is Result.rolled_back
    for phase in ("Inconclusive", "Pending", "Progressing", ""):
        with pytest.raises(Exception, match="phase"):
            result_of_phase(phase)


def test_a_flagger_event_records_the_outcome(tmp_path: Path, fake: FakeGitHub) -> None:
    app = make_app(tmp_path, fake)
    release_id = decided(app)
    event = {
        "name": "shop",
        "namespace": "production",
        "phase": "Failed",
        "checksum": "85d557f47b",
        "metadata": {"ref": REF, "team": "shop"},
    }
    answer = client_of(app).post("/api/v1/outcomes/flagger", json=event)
    assert answer.status_code == 201, answer.text
    outcome = app.state.agent.get(release_id).outcome
    assert outcome is not None and outcome.result is Result.rolled_back
    assert outcome.notes == "Flagger canary production/shop: Failed"
    progressing = dict(event, phase="Progressing")
    only_problem(client_of(app).post("/api/v1/outcomes/flagger", json=progressing), 422)
    no_ref = dict(event, metadata={})
    assert (
        only_problem(client_of(app).post("/api/v1/outcomes/flagger", json=no_ref), 422)["field"]
        == "metadata.ref"
    )


# -- the examples, run against the app -----------------------------------------------------


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _render(template: str, annotations: dict[str, str]) -> str:
    """The Go template's one expression the example uses: an annotation by name."""
    pattern = re.compile(r'\{\{index \.rollout\.metadata\.annotations "([^"]+)"\}\}')
    rendered = pattern.sub(lambda m: annotations[m.group(1)], template)
    assert "{{" not in rendered, "the example uses only the expressions rendered here"
    return rendered


def test_the_argo_example_posts_outcomes_the_api_records(tmp_path: Path, fake: FakeGitHub) -> None:
    config, secret = _documents(EXAMPLES / "argo" / "notifications.yaml")
    [rollout] = _documents(EXAMPLES / "argo" / "rollout.yaml")
    assert config["metadata"]["name"] == "argo-rollouts-notification-configmap"
    assert "release-agent-token" in secret["stringData"]
    annotations = rollout["metadata"]["annotations"]
    data = config["data"]
    service = yaml.safe_load(data["service.webhook.release-agent"])
    headers = {h["name"]: h["value"] for h in service["headers"]}
    assert headers["Authorization"] == "Bearer $release-agent-token"
    # Every trigger the Rollout subscribes to exists and sends a template that exists.
    for key in annotations:
        if key.startswith("notifications.argoproj.io/subscribe."):
            trigger = key.removeprefix("notifications.argoproj.io/subscribe.").split(".")[0]
            for step in yaml.safe_load(data[f"trigger.{trigger}"]):
                for name in step["send"]:
                    assert f"template.{name}" in data
    app = make_app(tmp_path, fake, token=TOKEN)
    client = TestClient(app, base_url=LOCAL)
    expected = {"release-agent-successful": "success", "release-agent-failed": "rolled_back"}
    for name, result in expected.items():
        release_id = decided(app, ref=f"{annotations['release-agent/ref']}-{name}")
        webhook = yaml.safe_load(data[f"template.{name}"])["webhook"]["release-agent"]
        ref = ref_of(app, release_id)
        body = _render(webhook["body"], {**annotations, "release-agent/ref": ref})
        answer = client.request(
            webhook["method"],
            webhook["path"],
            content=body,
            headers={"Content-Type": headers["Content-Type"], **AUTH},
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["outcome"]["result"] == result


def ref_of(app: FastAPI, release_id: str) -> str:
    ref = app.state.agent.get(release_id).request.ref
    assert ref is not None
    return str(ref)


def test_the_flagger_example_posts_an_outcome_the_api_records(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    [canary] = _documents(EXAMPLES / "flagger" / "canary.yaml")
    [webhook] = [w for w in canary["spec"]["analysis"]["webhooks"] if w["type"] == "post-rollout"]
    path = "/" + webhook["url"].split("/", 3)[3]
    assert path == "/api/v1/outcomes/flagger"
    relay = (EXAMPLES / "flagger" / "relay-nginx.conf").read_text()
    assert f"location = {path}" in relay and "Authorization" in relay
    app = make_app(tmp_path, fake)
    release_id = decided(app, ref=webhook["metadata"]["ref"])
    event = {
        "name": canary["metadata"]["name"],
        "namespace": canary["metadata"]["namespace"],
        "phase": "Succeeded",
        "checksum": "6d1f0a",
        "metadata": webhook["metadata"],
    }
    answer = client_of(app).post(path, json=event)
    assert answer.status_code == 201, answer.text
    outcome = app.state.agent.get(release_id).outcome
    assert outcome is not None and outcome.result is Result.success
