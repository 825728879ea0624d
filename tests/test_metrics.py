"""GET /metrics: what the app did, in the Prometheus text format, counted per app."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api_support import AUTH, TOKEN, body, client_of, new_app
from release_agent.memory.lease import LearnerBusy

SATURDAY_NIGHT = "2026-11-28T23:30:00+01:00"


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``GET /metrics``, by name and labels."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_decisions_and_their_calls_are_counted(tmp_path: Path) -> None:
    requests = [
        body(),
        body(env="staging"),
        body(feature_risk="HIGH", service_criticality="HIGH", at=SATURDAY_NIGHT),
        body(service="checkout", feature_risk="HIGH", service_criticality="HIGH"),
    ]
    with client_of(new_app(tmp_path)) as client:
        records = [client.post("/api/v1/decisions", json=data).json() for data in requests]
        samples = scrape(client)
    made = Counter((r["decision"], r["request"]["env"]) for r in records)
    for (decision, env), count in made.items():
        labels = {"decision": decision, "team": "default", "env": env}
        assert value(samples, "release_agent_decisions_total", **labels) == count
    assert value(samples, "release_agent_decision_seconds_count") == len(requests)
    assert value(samples, "release_agent_decision_seconds_sum") > 0  # type: ignore[operator]
    calls = Counter(
        (c["reasoner"], c["task"], "ok" if c["ok"] else "failed")
        for r in records
        for c in r["reasoner_calls"]
    )
    assert calls  # the built-in reasoner plans every decision
    for (reasoner, task, result), count in calls.items():
        labels = {"reasoner": reasoner, "task": task, "result": result}
        assert value(samples, "release_agent_reasoner_calls_total", **labels) == count
    by_reasoner = Counter(c["reasoner"] for r in records for c in r["reasoner_calls"])
    for reasoner, count in by_reasoner.items():
        labels = {"reasoner": reasoner}
        assert value(samples, "release_agent_reasoner_latency_seconds_count", **labels) == count
    assert value(samples, "release_agent_pending_approvals", team="default") == 0


def test_outcomes_and_learning_runs_are_counted(tmp_path: Path) -> None:
    with client_of(new_app(tmp_path)) as client:
        ids = [client.post("/api/v1/decisions", json=body()).json()["release_id"] for _ in "abc"]
        url = "/api/v1/decisions/{}/outcome"
        client.post(url.format(ids[0]), json={"result": "success"})
        client.post(url.format(ids[1]), json={"result": "incident"})
        client.post(url.format(ids[2]), json={"result": "incident"})
        # Refused (409): nothing recorded, nothing counted.
        assert client.post(url.format(ids[2]), json={"result": "success"}).status_code == 409
        assert client.post("/api/v1/learn").status_code == 200
        samples = scrape(client)
    outcome = "release_agent_outcomes_total"
    assert value(samples, outcome, result="success", team="default", env="prod") == 1
    assert value(samples, outcome, result="incident", team="default", env="prod") == 2
    assert value(samples, "release_agent_learning_runs_total", result="ok") == 1
    assert value(samples, "release_agent_learning_seconds_count") == 1


def test_a_learner_busy_elsewhere_is_not_a_run(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    agent = app.state.agent

    def busy(**_options: Any) -> Any:
        raise LearnerBusy("another learner holds the lock")

    agent.learn = busy
    with client_of(app) as client:
        client.post("/api/v1/learn")
        samples = scrape(client)
    assert value(samples, "release_agent_learning_runs_total", result="ok") is None
    assert value(samples, "release_agent_learning_runs_total", result="failed") is None


def test_each_app_counts_its_own(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with client_of(new_app(tmp_path / "a")) as first, client_of(new_app(tmp_path / "b")) as other:
        decision = first.post("/api/v1/decisions", json=body()).json()["decision"]
        labels = {"decision": decision, "team": "default", "env": "prod"}
        assert value(scrape(first), "release_agent_decisions_total", **labels) == 1
        assert value(scrape(other), "release_agent_decisions_total", **labels) is None


def test_metrics_are_a_read_that_needs_no_token(tmp_path: Path) -> None:
    with client_of(new_app(tmp_path, TOKEN)) as client:
        client.post("/api/v1/decisions", json=body(), headers=AUTH)
        assert value(scrape(client), "release_agent_decision_seconds_count") == 1
