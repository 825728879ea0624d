"""Shadow mode: a shadow decision (``decide --shadow``, API ``shadow``, or an environment
the policy's ``[decision] shadow`` patterns name) is recorded and answered as usual,
marked shadow, and the command line exits 0; ``shadow-report`` counts what shadow
decisions would have blocked, as the agent decided them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result as CliResult
from fastapi.testclient import TestClient

from api_support import client_of
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.domain.errors import Conflict, PolicyError
from release_agent.domain.models import Decision, ReleaseRequest, Result, parse_request
from release_agent.domain.policy import parse_policy
from release_agent.domain.shadow import matches
from release_agent.memory.store import Store

FRIDAY = "2026-11-27T16:00:00+01:00"
TUESDAY = "2026-11-24T10:00:00+01:00"


def ask(
    service: str = "payments",
    env: str = "prod",
    risk: str = "HIGH",
    at: str = FRIDAY,
    **more: object,
) -> ReleaseRequest:
    data: dict[str, object] = {
        "service": service,
        "env": env,
        "feature_risk": risk,
        "service_criticality": risk,
        "at": at,
    }
    data.update(more)
    return parse_request(data)


# -- the library -----------------------------------------------------------------------


def test_a_shadow_request_is_recorded_as_shadow(store: Store) -> None:
    agent = Agent(store)

    shadow = agent.decide(ask(shadow=True))
    plain = agent.decide(ask("orders"))

    assert shadow.shadow is True and shadow.decision is Decision.NO_GO
    assert plain.shadow is False
    assert store.get_decision(shadow.release_id).shadow is True
    assert store.get_decision(plain.release_id).shadow is False


def test_a_shadow_no_go_takes_the_outcome_of_the_deploy_it_did_not_stop(store: Store) -> None:
    agent = Agent(store)
    shadow = agent.decide(ask(shadow=True))
    gated = agent.decide(ask("orders"))
    assert shadow.decision is gated.decision is Decision.NO_GO

    agent.record_outcome(shadow.release_id, Result.incident)

    assert store.get_decision(shadow.release_id).outcome is not None
    assert store.outcome_cells().count({"service": "payments"}) == (1, 1)
    with pytest.raises(Conflict, match="override"):
        agent.record_outcome(gated.release_id, Result.success)


def test_the_policy_names_shadow_environments_by_pattern(store: Store) -> None:
    agent = Agent(store, parse_policy({"decision": {"shadow": ["prod-eu-*", "Staging"]}}))

    assert agent.decide(ask(env="prod-eu-1")).shadow is True
    assert agent.decide(ask("b", env="staging")).shadow is True
    assert agent.decide(ask("c", env="prod-us-1")).shadow is False
    assert agent.decide(ask("d", env="prod")).shadow is False


@pytest.mark.parametrize(
    ("env", "patterns", "expected"),
    [
        ("prod-eu-1", ("prod-eu-*",), True),
        ("PROD-EU-1", ("prod-eu-*",), True),
        ("production", ("prod",), True),
        ("prod-eu-1", ("prod",), False),
        ("staging", (), False),
    ],
)
def test_patterns_match_as_the_production_list_does(
    env: str, patterns: tuple[str, ...], expected: bool
) -> None:
    assert matches(env, patterns) is expected


@pytest.mark.parametrize("value", ["staging", [""], [3], ["x" * 101]])
def test_a_bad_shadow_list_is_refused_naming_the_key(value: object) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"decision": {"shadow": value}})
    assert caught.value.field == "decision.shadow"


def test_the_report_counts_what_shadow_decisions_would_have_blocked(store: Store) -> None:
    agent = Agent(store, parse_policy({"decision": {"shadow": ["staging"]}}))
    blocked = agent.decide(ask(shadow=True))
    passed = agent.decide(ask("search", risk="LOW", at=TUESDAY, shadow=True))
    staged = agent.decide(ask("orders", env="staging"))  # shadow by the policy
    agent.decide(ask("billing"))  # not shadow: not counted
    assert (blocked.decision, passed.decision) == (Decision.NO_GO, Decision.GO)
    # a human let the shadow NO_GO through: the gate still said NO_GO
    agent.override(blocked.release_id, "GO", "alice", "watching only")

    report = store.shadow_report()
    staging = store.shadow_report(env="staging")
    later = store.shadow_report(since=datetime.now(UTC) + timedelta(minutes=1))

    def counts(*decisions: Decision) -> dict[str, int]:
        by = {d.value: sum(1 for x in decisions if x is d) for d in Decision}
        blocking = by["DELAY"] + by["NO_GO"]
        return {"decisions": len(decisions), "would_block": blocking, **by}

    assert report.to_json() == {
        **counts(Decision.NO_GO, Decision.GO, staged.decision),
        "by_env": {
            "prod": counts(Decision.NO_GO, Decision.GO),
            "staging": counts(staged.decision),
        },
    }
    assert staging.total.total == 1 and list(staging.by_env) == ["staging"]
    assert later.total.total == 0


# -- the command line ---------------------------------------------------------------------


def invoke(*args: str, db: str) -> CliResult:
    return CliRunner().invoke(main, [*args, "--db", db], catch_exceptions=False)


NO_GO = [
    "decide",
    "--service",
    "payments",
    "--risk",
    "HIGH",
    "--criticality",
    "HIGH",
    "--at",
    FRIDAY,
]


def test_cli_shadow_exits_0_and_says_what_it_would_have_done(database_url: str) -> None:
    gated = invoke(*NO_GO, db=database_url)
    shadow = invoke(*NO_GO, "--shadow", db=database_url)
    shadow_json = invoke(*NO_GO, "--shadow", "--json", db=database_url)

    assert gated.exit_code == 4
    assert shadow.exit_code == 0 and "NO_GO" in shadow.stdout
    assert "without shadow: exit 4" in shadow.stderr
    assert "shadow: advice only" in shadow.stdout
    assert shadow_json.exit_code == 0 and json.loads(shadow_json.stdout)["shadow"] is True

    report = invoke("shadow-report", "--json", db=database_url)
    text = invoke("shadow-report", db=database_url)
    assert json.loads(report.stdout)["would_block"] == 2
    assert "would have blocked 2 (0 DELAY, 2 NO_GO)" in text.stdout


def test_cli_policy_shadow_environment_exits_0(database_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[decision]\nshadow = ["prod-eu-*"]\n')
    base = ["decide", "--service", "payments", "--risk", "HIGH", "--criticality", "HIGH"]

    shadow = invoke(
        *base, "--env", "prod-eu-2", "--at", FRIDAY, "--policy", str(policy), db=database_url
    )
    gated = invoke(*base, "--env", "prod", "--at", FRIDAY, "--policy", str(policy), db=database_url)

    assert (shadow.exit_code, gated.exit_code) == (0, 4)


def test_cli_shadow_report_refuses_a_bad_time(database_url: str) -> None:
    result = invoke("shadow-report", "--since", "yesterday", db=database_url)
    assert result.exit_code == 2 and "since:" in result.stderr and "yesterday" in result.stderr


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with client_of(create_app(db_url=database_url)) as test_client:
        yield test_client


def test_api_shadow_field(client: TestClient) -> None:
    payload = {
        "service": "payments",
        "feature_risk": "HIGH",
        "service_criticality": "HIGH",
        "at": FRIDAY,
    }

    shadow = client.post("/api/v1/decisions", json={**payload, "shadow": True})
    plain = client.post("/api/v1/decisions", json={**payload, "service": "orders"})
    bad = client.post("/api/v1/decisions", json={**payload, "shadow": "yes"})

    assert shadow.status_code == 201 and shadow.json()["shadow"] is True
    assert shadow.json()["request"]["shadow"] is True
    assert plain.json()["shadow"] is False
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "shadow"
