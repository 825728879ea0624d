"""The OpenAPI document tells the truth: typed answers, every status each endpoint can
answer, the error body as it is, the bearer scheme on the writes.

The last test lets schemathesis loose on the app, with every check, in both modes (no
token: loopback only; a token: writes need it), for a bounded number of examples each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api_support import AUTH, LOCAL, TOKEN, body, client_of, new_app
from release_agent.api.errors import RETRY_AFTER
from release_agent.api.guard import MAX_BODY
from release_agent.domain.episodes import Episode
from release_agent.domain.models import Decision
from release_agent.learn.loop import LearnReport

ERROR_REF = "#/components/schemas/Problem"
EVERYWHERE = {"401", "413", "500"}
OWN = {
    ("post", "/api/v1/decisions"): {"200", "201", "409", "422", "503"},
    ("get", "/api/v1/decisions"): {"200", "404", "422", "503"},
    ("get", "/api/v1/decisions/{release_id}"): {"200", "404", "503"},
    ("post", "/api/v1/decisions/{release_id}/outcome"): {"200", "201", "404", "409", "422", "503"},
    ("post", "/api/v1/decisions/{release_id}/override"): {"201", "404", "409", "422", "503"},
    ("get", "/api/v1/heuristics"): {"200", "503"},
    ("post", "/api/v1/learn"): {"200", "409", "503"},
    ("get", "/api/v1/episodes"): {"200", "422", "503"},
    ("get", "/api/v1/scenarios"): {"200"},
    ("post", "/api/v1/scenarios/{scenario_id}/run"): {"201", "404", "503"},
    ("get", "/healthz"): {"200", "503"},
    ("get", "/api/v1/calendar"): {"200", "422", "503"},
    ("get", "/api/v1/calendar.ics"): {"200", "422", "503"},
    ("post", "/api/v1/calendar/{release_id}/cancel"): {"200", "404", "409", "503"},
    ("post", "/api/v1/outcomes"): {"201", "404", "409", "422", "503"},
    ("post", "/api/v1/outcomes/flagger"): {"201", "404", "409", "422", "503"},
}
TEXT = {("get", "/api/v1/calendar.ics", "200"): "text/calendar"}
"""Answers that are not JSON, with their media type."""
"""What each operation answers besides the guard's statuses, which are everywhere."""


def document(tmp_path: Path, token: str | None = None) -> dict[str, Any]:
    return client_of(new_app(tmp_path, token)).get("/openapi.json").json()


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m, path): op for path, ops in doc["paths"].items() for m, op in ops.items()}


@pytest.mark.parametrize(("token", "guard"), [(None, {"421"}), (TOKEN, set())])
def test_every_status_each_operation_answers_is_listed(
    tmp_path: Path, token: str | None, guard: set[str]
) -> None:
    listed = {
        key: set(op["responses"]) for key, op in operations(document(tmp_path, token)).items()
    }
    # With a token, a write may meet a token of another team (403: api/scopes.py).
    scoped = {"403"} if token else set()
    assert listed == {
        key: own | EVERYWHERE | guard | (scoped if key[0] == "post" else set())
        for key, own in OWN.items()
    }


def test_every_answer_is_typed_and_every_error_is_the_problem_shape(tmp_path: Path) -> None:
    doc = document(tmp_path)
    for (method, path), op in operations(doc).items():
        for status, answer in op["responses"].items():
            media = TEXT.get((method, path, status))
            if media is not None:
                assert list(answer["content"]) == [media], (method, path, status)
                continue
            schema = answer["content"]["application/json"]["schema"]
            assert "$ref" in schema, (method, path, status)
            if status >= "400" and path != "/healthz":
                assert schema["$ref"] == ERROR_REF, (method, path, status)
    problem = doc["components"]["schemas"]["ProblemEntry"]
    assert set(problem["properties"]) == set(problem["required"]) == {"field", "message", "allowed"}
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    retry = operations(doc)[("get", "/api/v1/heuristics")]["responses"]["503"]["headers"]
    assert str(RETRY_AFTER) in retry["Retry-After"]["description"]
    assert (
        str(MAX_BODY)
        in operations(doc)[("post", "/api/v1/decisions")]["responses"]["413"]["description"]
    )


def test_the_episode_model_has_exactly_the_keys_of_an_episode(tmp_path: Path) -> None:
    doc = document(tmp_path)
    view = doc["components"]["schemas"]["EpisodeView"]
    episode = Episode(
        release_id="r",
        source="agent",
        attributes={},
        decision=Decision.GO,
        result=None,
        outcome_notes=None,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        deploy_at=None,
        reason=None,
        summary="s",
    )
    assert set(view["properties"]) == set(episode.to_json()) == set(view["required"])
    learned = doc["components"]["schemas"]["LearnReportView"]
    assert set(learned["properties"]) == set(LearnReport().to_dict())


@pytest.mark.parametrize(("token", "alternatives"), [(TOKEN, [{"bearer": []}]), (None, None)])
def test_the_bearer_scheme_is_declared_on_every_write(
    tmp_path: Path, token: str | None, alternatives: list[dict[str, list[str]]] | None
) -> None:
    doc = document(tmp_path, token)
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    expected = alternatives or [{"bearer": []}, {}]  # without a token a write needs none
    for (method, path), op in operations(doc).items():
        if method == "post":
            assert op["security"] == expected, path
        else:
            assert "security" not in op, path


def test_a_guard_answer_is_listed_for_the_operation_it_answers(tmp_path: Path) -> None:
    """Spot checks that the guard's answers really come from these operations."""
    app = new_app(tmp_path)
    client = client_of(app)
    doc = app.openapi()
    two = [("Authorization", "Bearer a"), ("Authorization", "Bearer b")]
    answers = {
        "401": client.get("/api/v1/scenarios", headers=two),
        "413": client.request("GET", "/api/v1/scenarios", content=b" " * (MAX_BODY + 1)),
        "421": client.get("/api/v1/scenarios", headers={"Host": "rebound.example"}),
    }
    for status, answer in answers.items():
        assert str(answer.status_code) == status
        assert status in doc["paths"]["/api/v1/scenarios"]["get"]["responses"]


def test_a_replaced_outcome_answers_200_and_405_lists_every_method(tmp_path: Path) -> None:
    client: TestClient = client_of(new_app(tmp_path))
    release_id = client.post("/api/v1/decisions", json=body()).json()["release_id"]
    url = f"/api/v1/decisions/{release_id}/outcome"
    assert client.post(url, json={"result": "success"}).status_code == 201
    assert client.post(url, json={"result": "success", "replace": True}).status_code == 200
    refused = client.put("/api/v1/decisions")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST"


# -- schemathesis --------------------------------------------------------------------------------


@pytest.fixture(params=["loopback", "token"])
def api_schema(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    app: FastAPI = new_app(
        tmp_path_factory.mktemp(request.param), TOKEN if request.param == "token" else None
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Host": "localhost"})


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_app_keeps_every_promise_of_its_document(case: Any) -> None:
    headers = AUTH if case.operation.app.state.auth else None
    case.call_and_validate(base_url=LOCAL, headers=headers)
