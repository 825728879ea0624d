"""The HTTP API: every endpoint, every error path, the auth and bind rules.

Each test gets an app over a fresh SQLite file; "nothing written" is checked against the
store's own counts.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api_support import TOKEN, TUESDAY, body, client_of, new_app, only_problem, store_of
from release_agent.api import TOKEN_ENV, check_bind, is_loopback
from release_agent.cli.serve import serve
from release_agent.domain.errors import InvalidInput
from release_agent.domain.models import DecisionRecord, Heuristic, Provenance
from release_agent.domain.scenarios import SCENARIOS

LEVELS = ["LOW", "MEDIUM", "HIGH"]
RESULTS = ["success", "degraded", "rolled_back", "incident", "not_deployed"]
DECISIONS = ["GO", "DELAY", "NO_GO"]
FRIDAY = "2026-11-27T16:00:00+01:00"


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., FastAPI]:
    def build(token: str | None = None) -> FastAPI:
        return new_app(tmp_path, token)

    return build


@pytest.fixture
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return client_of(app)


def decide(client: TestClient, **overrides: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/decisions", json=body(**overrides))
    assert answer.status_code == 201, answer.text
    return answer.json()


# -- POST /api/v1/decisions ---------------------------------------------------------------


def test_decide_answers_the_stored_record(client: TestClient, app: FastAPI) -> None:
    answer = client.post("/api/v1/decisions", json=body(clashes=["payments"], notes="tax rules"))
    assert answer.status_code == 201
    data = answer.json()
    record = DecisionRecord.model_validate(data)  # the same shape `decide --json` prints
    assert set(data) == set(DecisionRecord.model_fields)
    assert data["decision"] in DECISIONS
    assert data["request"]["clashes"] == ["payments"]
    assert data["request"]["notes"] == "tax rules"
    assert data["context"]["day_of_week"] == "TUE"
    assert [e["stage"] for e in data["trace"]][:3] == ["context", "guardrails", "heuristics"]
    assert answer.headers["location"] == f"/api/v1/decisions/{record.release_id}"
    assert store_of(app).count_decisions() == 1
    assert client.get(answer.headers["location"]).json() == data


def test_decide_without_time_decides_for_now(client: TestClient) -> None:
    data = decide(client, at=None)
    at = datetime.fromisoformat(data["request"]["at"])
    assert abs(at - datetime.now(UTC)) < timedelta(minutes=1)


def test_friday_clash_of_critical_service_is_not_go(client: TestClient) -> None:
    data = decide(
        client,
        service="checkout",
        feature_risk="HIGH",
        service_criticality="HIGH",
        at=FRIDAY,
        clashes=["payments"],
    )
    assert data["decision"] in ("DELAY", "NO_GO")
    assert data["red_team"]["risk_level"] == "HIGH"


@pytest.mark.parametrize(
    ("overrides", "field", "allowed"),
    [
        ({"feature_risk": "EXTREME"}, "feature_risk", LEVELS),
        ({"service_criticality": "low-ish"}, "service_criticality", LEVELS),
        ({"feature_risk": None}, "feature_risk", LEVELS),
        ({"service": "<script>"}, "service", None),
        ({"service": ""}, "service", None),
        ({"env": "prod;drop"}, "env", None),
        ({"at": "2026-11-24T10:00:00"}, "at", None),
        ({"at": "next tuesday"}, "at", None),
        ({"clashes": "payments"}, "clashes", None),
        ({"clashes": ["ok", "not ok!"]}, "clashes", None),
        ({"notes": "x" * 4001}, "notes", None),
        ({"notes": 42}, "notes", None),
    ],
)
def test_bad_field_is_422_naming_it_and_nothing_is_written(
    client: TestClient, app: FastAPI, overrides: dict[str, Any], field: str, allowed: Any
) -> None:
    problem = only_problem(client.post("/api/v1/decisions", json=body(**overrides)), 422)
    assert problem["field"] == field
    assert problem["allowed"] == allowed
    assert problem["message"]
    assert store_of(app).count_decisions() == 0


def test_time_without_offset_says_how_to_fix_it(client: TestClient) -> None:
    problem = only_problem(client.post("/api/v1/decisions", json=body(at="2026-11-24T10:00")), 422)
    assert "offset" in problem["message"]


def test_unknown_field_lists_the_known_ones(client: TestClient, app: FastAPI) -> None:
    problem = only_problem(client.post("/api/v1/decisions", json=body(priority="high")), 422)
    assert problem["field"] == "priority"
    assert problem["message"] == "is not a known field"
    assert set(problem["allowed"]) == {
        "service",
        "env",
        "feature_risk",
        "service_criticality",
        "at",
        "clashes",
        "notes",
        "delays",
        "team",
        "ref",
        "shadow",
    }
    assert store_of(app).count_decisions() == 0


def test_missing_field_and_every_fault_are_reported(client: TestClient) -> None:
    data = body(feature_risk="NOPE")
    del data["service"]
    answer = client.post("/api/v1/decisions", json=data)
    assert answer.status_code == 422
    fields = {p["field"]: p for p in answer.json()["detail"]}
    assert fields["service"]["message"] == "Field required"
    assert fields["feature_risk"]["allowed"] == LEVELS


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
def test_body_that_is_not_an_object_is_422(client: TestClient, app: FastAPI, raw: bytes) -> None:
    answer = client.post(
        "/api/v1/decisions", content=raw, headers={"content-type": "application/json"}
    )
    problem = only_problem(answer, 422)
    assert problem["field"] == "body"
    assert store_of(app).count_decisions() == 0


# -- GET /api/v1/decisions[/{id}] ---------------------------------------------------------


def test_unknown_decision_is_404(client: TestClient) -> None:
    problem = only_problem(client.get("/api/v1/decisions/no-such-id"), 404)
    assert problem["field"] == "release_id"
    assert "no-such-id" in problem["message"]


def test_history_is_newest_first_filtered_and_paged(client: TestClient) -> None:
    ids = [decide(client, service=f"svc-{i % 2}")["release_id"] for i in range(5)]
    listed = client.get("/api/v1/decisions").json()
    assert [r["release_id"] for r in listed["items"]] == ids[::-1]
    assert listed["next"] is None

    only_svc0 = client.get("/api/v1/decisions", params={"service": "svc-0"}).json()["items"]
    assert [r["release_id"] for r in only_svc0] == [ids[4], ids[2], ids[0]]

    first = client.get("/api/v1/decisions", params={"limit": 2}).json()
    assert [r["release_id"] for r in first["items"]] == [ids[4], ids[3]]
    assert first["next"] == ids[3]
    second = client.get("/api/v1/decisions", params={"limit": 2, "before": first["next"]}).json()
    assert [r["release_id"] for r in second["items"]] == [ids[2], ids[1]]
    third = client.get("/api/v1/decisions", params={"limit": 2, "before": second["next"]}).json()
    assert [r["release_id"] for r in third["items"]] == [ids[0]]
    assert third["next"] is None


def test_history_filters_by_decision(client: TestClient) -> None:
    decide(client)
    decide(client, service="checkout", feature_risk="HIGH", service_criticality="HIGH", at=FRIDAY)
    everything = client.get("/api/v1/decisions").json()["items"]
    for decision in {r["decision"] for r in everything}:
        items = client.get("/api/v1/decisions", params={"decision": decision}).json()["items"]
        assert items and all(r["decision"] == decision for r in items)
        assert len(items) == sum(r["decision"] == decision for r in everything)


@pytest.mark.parametrize(
    ("params", "field", "allowed"),
    [
        ({"decision": "MAYBE"}, "decision", DECISIONS),
        ({"limit": 0}, "limit", None),
        ({"limit": 10_000}, "limit", None),
        ({"limit": "ten"}, "limit", None),
    ],
)
def test_bad_history_query_is_422(
    client: TestClient, params: dict[str, Any], field: str, allowed: Any
) -> None:
    problem = only_problem(client.get("/api/v1/decisions", params=params), 422)
    assert problem["field"] == field
    assert problem["allowed"] == allowed


def test_unknown_cursor_is_404(client: TestClient) -> None:
    problem = only_problem(client.get("/api/v1/decisions", params={"before": "gone"}), 404)
    assert problem["field"] == "before"


# -- POST /api/v1/decisions/{id}/outcome ----------------------------------------------------


def test_outcome_is_recorded_once_unless_replaced(client: TestClient, app: FastAPI) -> None:
    release_id = decide(client)["release_id"]
    url = f"/api/v1/decisions/{release_id}/outcome"

    first = client.post(url, json={"result": "degraded", "notes": "p99 doubled"})
    assert first.status_code == 201
    assert first.json()["outcome"]["result"] == "degraded"
    assert first.json()["outcome"]["notes"] == "p99 doubled"

    problem = only_problem(client.post(url, json={"result": "success"}), 409)
    assert '"replace": true' in problem["message"]
    assert client.get(f"/api/v1/decisions/{release_id}").json()["outcome"]["result"] == "degraded"

    replaced = client.post(url, json={"result": "success", "replace": True})
    assert replaced.status_code == 200
    assert replaced.json()["outcome"] == {
        "result": "success",
        "notes": None,
        "recorded_at": replaced.json()["outcome"]["recorded_at"],
    }
    assert store_of(app).count_outcomes() == 1


def test_outcome_for_unknown_decision_is_404_and_writes_nothing(
    client: TestClient, app: FastAPI
) -> None:
    decide(client)
    problem = only_problem(
        client.post("/api/v1/decisions/nope/outcome", json={"result": "success"}), 404
    )
    assert problem["field"] == "release_id"
    assert store_of(app).count_outcomes() == 0


@pytest.mark.parametrize(
    ("payload", "field", "allowed"),
    [
        ({"result": "fine"}, "result", RESULTS),
        ({}, "result", RESULTS),
        ({"result": "success", "when": "now"}, "when", ["result", "notes", "replace"]),
        ({"result": "success", "notes": "x" * 4001}, "notes", None),
        ({"result": "success", "replace": "perhaps"}, "replace", None),
    ],
)
def test_bad_outcome_is_422_and_writes_nothing(
    client: TestClient, app: FastAPI, payload: dict[str, Any], field: str, allowed: Any
) -> None:
    release_id = decide(client)["release_id"]
    answer = client.post(f"/api/v1/decisions/{release_id}/outcome", json=payload)
    problem = only_problem(answer, 422)
    assert problem["field"] == field
    assert problem["allowed"] == allowed
    assert store_of(app).count_outcomes() == 0


# -- heuristics, learning, episodes ------------------------------------------------------


def test_heuristics_carry_their_evidence(client: TestClient, app: FastAPI) -> None:
    assert client.get("/api/v1/heuristics").json() == {"items": []}
    store_of(app).insert_heuristic(
        Heuristic(
            when={"day_of_week": "FRI", "hour_of_day": {"from": 14, "to": 23}},
            recommendation="DELAY",
            confidence=0.82,
            support=12,
            failures=7,
            successes=5,
            provenance=Provenance.human,
            reason="Friday afternoons have hurt us",
        )
    )
    (item,) = client.get("/api/v1/heuristics").json()["items"]
    assert item["description"] == "day_of_week=FRI & hour_of_day=14..23"
    expected = {
        "recommendation": "DELAY",
        "confidence": 0.82,
        "support": 12,
        "failures": 7,
        "successes": 5,
        "provenance": "human",
        "status": "active",
        "reason": "Friday afternoons have hurt us",
    }
    assert {k: item[k] for k in expected} == expected


def test_learning_mines_heuristics_from_outcomes(client: TestClient) -> None:
    for _ in range(12):
        bad = decide(client, service="billing", at=FRIDAY, feature_risk="HIGH")["release_id"]
        client.post(f"/api/v1/decisions/{bad}/outcome", json={"result": "incident"})
        good = decide(client, service="billing", at=TUESDAY)["release_id"]
        client.post(f"/api/v1/decisions/{good}/outcome", json={"result": "success"})
    report = client.post("/api/v1/learn")
    assert report.status_code == 200
    data = report.json()
    assert data["outcomes"] == 24
    assert {"proposed", "added", "updated", "rejected", "retired", "calls"} <= set(data)
    items = client.get("/api/v1/heuristics").json()["items"]
    assert items, "24 outcomes split by day should teach something"
    for item in items:
        assert item["provenance"] == "mined"
        assert item["support"] == item["failures"] + item["successes"]
    assert any(
        h["recommendation"] != "GO" and h["failures"] > h["successes"]
        for h in items
        if h["status"] == "active"
    )


def test_episodes_tell_their_story(client: TestClient) -> None:
    release_id = decide(client, notes="first try")["release_id"]
    client.post(
        f"/api/v1/decisions/{release_id}/outcome",
        json={"result": "rolled_back", "notes": "bad migration"},
    )
    (episode,) = client.get("/api/v1/episodes", params={"limit": 5}).json()["items"]
    assert episode["release_id"] == release_id
    assert episode["outcome"] == "rolled_back"
    assert episode["context"]["service"] == "search"
    assert "bad migration" in episode["summary"]
    assert only_problem(client.get("/api/v1/episodes", params={"limit": 0}), 422)


# -- scenarios ------------------------------------------------------------------------------


def test_scenarios_are_listed_and_run(client: TestClient, app: FastAPI) -> None:
    items = client.get("/api/v1/scenarios").json()["items"]
    assert [s["id"] for s in items] == [s.id for s in SCENARIOS]
    answer = client.post("/api/v1/scenarios/friday-high-clash/run")
    assert answer.status_code == 201
    record = answer.json()
    assert record["request"] == items[-1]["request"]
    assert client.get(f"/api/v1/decisions/{record['release_id']}").json() == record
    assert store_of(app).count_decisions() == 1


def test_unknown_scenario_is_404_listing_the_ids(client: TestClient, app: FastAPI) -> None:
    problem = only_problem(client.post("/api/v1/scenarios/friday/run"), 404)
    assert problem["field"] == "scenario"
    assert problem["allowed"] == [s.id for s in SCENARIOS]
    assert store_of(app).count_decisions() == 0


# -- service: health, OpenAPI, console, CORS --------------------------------------------------


def test_healthz_and_openapi(client: TestClient) -> None:
    decide(client)
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["decisions"] == 1
    assert health["auth"] is False
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/api/v1/decisions",
        "/api/v1/decisions/{release_id}",
        "/api/v1/decisions/{release_id}/outcome",
        "/api/v1/heuristics",
        "/api/v1/learn",
        "/api/v1/episodes",
        "/api/v1/scenarios",
        "/api/v1/scenarios/{scenario_id}/run",
        "/healthz",
    } <= set(paths)
    schema = paths["/api/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]
    assert schema["schema"]["$ref"].endswith("DecisionBody")


def test_console_is_served_with_a_strict_content_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert '<script type="module" src="/static/console.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    for name in ("console.js", "dom.js", "api.js", "console.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200, name
    assert "javascript" in client.get("/static/console.js").headers["content-type"]
    scripts = "".join(client.get(f"/static/{n}").text for n in ("console.js", "dom.js", "api.js"))
    assert ".innerHTML" not in scripts and "insertAdjacentHTML" not in scripts
    assert "http://" not in scripts and "https://" not in scripts  # no CDN, no third party


def test_no_cors_for_a_foreign_origin(client: TestClient) -> None:
    origin = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.get("/healthz", headers=origin).headers
    answer = client.post("/api/v1/decisions", json=body(), headers=origin)
    assert "access-control-allow-origin" not in answer.headers
    preflight = client.options(
        "/api/v1/decisions",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_unknown_path_is_404_in_the_same_shape(client: TestClient) -> None:
    problem = only_problem(client.get("/api/v1/nothing"), 404)
    assert problem["field"] is None


# -- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
def test_writes_without_the_right_token_are_401(
    make_app: Callable[..., FastAPI], headers: dict[str, str]
) -> None:
    app = make_app(token=TOKEN)
    client = client_of(app)
    release_id = client.post(
        "/api/v1/decisions", json=body(), headers={"Authorization": f"Bearer {TOKEN}"}
    ).json()["release_id"]
    writes = [
        ("/api/v1/decisions", body()),
        ("/api/v1/decisions", {"feature_risk": "BAD"}),  # auth comes before validation
        (f"/api/v1/decisions/{release_id}/outcome", {"result": "success"}),
        ("/api/v1/learn", None),
        ("/api/v1/scenarios/monday-low/run", None),
    ]
    for url, payload in writes:
        answer = client.post(url, json=payload, headers=headers)
        problem = only_problem(answer, 401)
        assert problem["field"] == "authorization", url
        assert answer.headers["www-authenticate"] == "Bearer"
    assert store_of(app).count_decisions() == 1
    assert store_of(app).count_outcomes() == 0


def test_the_right_token_writes_and_reads_need_none(
    make_app: Callable[..., FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    app = make_app()  # the token comes from the environment
    client = client_of(app)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answer = client.post("/api/v1/decisions", json=body(), headers=auth)
    assert answer.status_code == 201
    release_id = answer.json()["release_id"]
    outcome = client.post(
        f"/api/v1/decisions/{release_id}/outcome", json={"result": "success"}, headers=auth
    )
    assert outcome.status_code == 201
    assert client.post("/api/v1/scenarios/monday-low/run", headers=auth).status_code == 201
    assert client.post("/api/v1/learn", headers=auth).status_code == 200
    for url in (
        "/",
        "/healthz",
        "/openapi.json",
        "/api/v1/decisions",
        f"/api/v1/decisions/{release_id}",
        "/api/v1/heuristics",
        "/api/v1/scenarios",
        "/api/v1/episodes",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/healthz").json()["auth"] is True


# -- concurrency --------------------------------------------------------------------------------


def test_concurrent_writes_are_all_stored(client: TestClient, app: FastAPI) -> None:
    def one(i: int) -> int:
        answer = client.post("/api/v1/decisions", json=body(service=f"svc-{i % 3}"))
        if answer.status_code == 201:
            client.post(
                f"/api/v1/decisions/{answer.json()['release_id']}/outcome",
                json={"result": RESULTS[i % 4]},
            )
        return answer.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(one, range(18)))
    assert codes == [201] * 18
    assert store_of(app).count_decisions() == 18
    assert store_of(app).count_outcomes() == 18


# -- where the server may listen --------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", "10.0.0.1"])
def test_other_hosts_need_a_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(InvalidInput) as caught:
        check_bind(host, None)
    assert caught.value.field == "host"
    assert TOKEN_ENV in str(caught.value)
    check_bind(host, TOKEN)


def test_serve_refuses_a_public_host_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append((a, k)))
    result = CliRunner().invoke(serve, ["--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2
    assert TOKEN_ENV in result.output
    assert started == []


def test_serve_starts_on_loopback_or_with_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: started.append((a, k)))
    db = f"sqlite:///{tmp_path}/s.db"
    result = CliRunner().invoke(serve, ["--port", "0", "--db", db])
    assert result.exit_code == 0, result.output
    (app,), options = started[0]
    assert "127.0.0.1" in result.output
    assert client_of(app).get("/healthz").json()["auth"] is False

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    result = CliRunner().invoke(serve, ["--host", "0.0.0.0", "--port", "0", "--db", db])
    assert result.exit_code == 0, result.output
    (app,), options = started[1]
    assert options["host"] == "0.0.0.0"
    client = client_of(app)
    assert client.get("/healthz").json()["auth"] is True
    assert client.post("/api/v1/learn").status_code == 401


def test_serve_reports_a_bad_policy_as_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(
        serve, ["--policy", str(missing), "--db", f"sqlite:///{tmp_path}/s.db"]
    )
    assert result.exit_code == 2
    assert "policy" in result.output
