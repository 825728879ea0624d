"""Human overrides: the record keeps the agent's decision and the human's, the audit log
keeps every override, a deploy on an override teaches like any deploy, an outcome on a
NO_GO is refused until it is overridden, and an override opens a freeze only where the
policy allows break-glass — on the library, the command line and the API, with the
``override`` webhook event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from click.testing import Result as CliResult
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from api_support import client_of, only_problem
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.domain.errors import Conflict, InvalidInput, NotFound, PolicyError
from release_agent.domain.models import Decision, DecisionRecord, Result, parse_request
from release_agent.domain.policy import Policy, load_policy, parse_policy
from release_agent.integrations.notify import payload
from release_agent.memory.store import Store

TUESDAY = "2026-11-24T10:00:00+01:00"
FRIDAY = "2026-11-27T16:00:00+01:00"
WEEKEND_FREEZE = {
    "freeze": {"weekly": [{"name": "weekend", "start": "FRI 12:00", "end": "MON 06:00"}]}
}


def ask(service: str = "payments", risk: str = "HIGH", at: str = FRIDAY) -> Any:
    return parse_request(
        {
            "service": service,
            "env": "prod",
            "feature_risk": risk,
            "service_criticality": risk,
            "at": at,
        }
    )


@pytest.fixture
def agent(store: Store) -> Agent:
    return Agent(store)


@pytest.fixture
def no_go(agent: Agent) -> DecisionRecord:
    record = agent.decide(ask())
    assert record.decision is Decision.NO_GO
    return record


# -- the library ------------------------------------------------------------------------


def test_an_override_keeps_the_agents_decision_and_the_humans(
    agent: Agent, store: Store, no_go: DecisionRecord
) -> None:
    record = agent.override(no_go.release_id, "go", "alice", "  CAB approved the hotfix  ")

    assert record.decision is Decision.GO and record.next_window is None
    assert record.override is not None
    assert (record.override.agent_decision, record.override.decision) == (
        Decision.NO_GO,
        Decision.GO,
    )
    assert (record.override.by, record.override.reason) == ("alice", "CAB approved the hotfix")
    assert record.override.break_glass is False
    assert record.reason == no_go.reason  # the agent's reason stays
    assert store.get_decision(no_go.release_id) == record
    (entry,) = store.override_history(no_go.release_id)
    assert (entry.by, entry.from_decision, entry.to_decision) == (
        "alice",
        Decision.NO_GO,
        Decision.GO,
    )
    assert [r.release_id for r in store.list_decisions(decision=Decision.GO)] == [no_go.release_id]


def test_an_outcome_on_a_no_go_is_refused_naming_override(
    agent: Agent, store: Store, no_go: DecisionRecord
) -> None:
    with pytest.raises(Conflict) as caught:
        agent.record_outcome(no_go.release_id, Result.success)

    assert "release-agent override" in str(caught.value)
    assert store.count_outcomes() == 0
    assert store.outcome_cells().count({"service": "payments"}) == (0, 0)


def test_a_deploy_on_an_override_teaches_like_any_deploy(
    agent: Agent, store: Store, no_go: DecisionRecord
) -> None:
    agent.override(no_go.release_id, Decision.GO, "alice", "hotfix")
    agent.record_outcome(no_go.release_id, Result.incident)

    # counted in the cell of the moment it went out: the requested Friday 16:00
    cells = store.outcome_cells()
    assert cells.count({"service": "payments"}) == (1, 1)
    assert cells.count({"service": "payments", "day_of_week": "FRI", "hour_of_day": 16}) == (1, 1)
    assert agent.learn().outcomes == 1
    recalled = store.similar_episodes(no_go.context, k=1)
    assert [(e.release_id, e.decision, e.result) for e in recalled] == [
        (no_go.release_id, Decision.GO, "incident")
    ]


def test_a_delay_overridden_to_go_deploys_at_the_requested_time(agent: Agent, store: Store) -> None:
    policy = parse_policy({**WEEKEND_FREEZE, "decision": {"allow_freeze_override": True}})
    agent.policy = policy
    delayed = agent.decide(ask("search", "LOW"))
    assert delayed.decision is Decision.DELAY and delayed.next_window is not None

    go = agent.override(delayed.release_id, "GO", "bob", "ship before the weekend")
    back = agent.override(delayed.release_id, "DELAY", "bob", "no, wait after all")

    assert go.override is not None and go.override.break_glass is True
    assert back.decision is Decision.DELAY and back.next_window == delayed.next_window
    assert back.override is not None and back.override.agent_decision is Decision.DELAY
    history = store.override_history(delayed.release_id)
    assert [(e.from_decision, e.to_decision, e.break_glass) for e in history] == [
        (Decision.DELAY, Decision.GO, True),
        (Decision.GO, Decision.DELAY, False),
    ]


def test_an_override_cannot_open_a_freeze_without_break_glass(agent: Agent, store: Store) -> None:
    agent.policy = parse_policy(WEEKEND_FREEZE)
    frozen = agent.decide(ask("search", "LOW"))
    assert frozen.decision is not Decision.GO

    with pytest.raises(Conflict) as caught:
        agent.override(frozen.release_id, "GO", "alice", "please")

    assert "allow_freeze_override" in str(caught.value) and "weekend" in str(caught.value)
    assert store.override_history() == []
    assert store.get_decision(frozen.release_id) == frozen
    # a stricter answer opens nothing: allowed
    assert (
        agent.override(frozen.release_id, "NO_GO", "alice", "not this week").decision
        is Decision.NO_GO
    )


def test_refusals_write_nothing(agent: Agent, store: Store, no_go: DecisionRecord) -> None:
    go = agent.decide(ask("search", "LOW", TUESDAY))
    agent.record_outcome(go.release_id, Result.success)

    with pytest.raises(Conflict, match="NO_GO already"):
        agent.override(no_go.release_id, "NO_GO", "alice", "same")
    with pytest.raises(Conflict, match="outcome"):
        agent.override(go.release_id, "NO_GO", "alice", "too late")
    with pytest.raises(NotFound):
        agent.override("no-such-release", "GO", "alice", "x")
    for field, values in {
        "decision": ("MAYBE", "", 3),
        "by": ("", "   ", "a\x07b", "x" * 101, 7),
        "reason": ("", " \n\t", "nul\x00", "x" * 2001),
    }.items():
        for value in values:
            fields: dict[str, Any] = {"decision": "GO", "by": "alice", "reason": "why"}
            fields[field] = value
            with pytest.raises(InvalidInput) as caught:
                agent.override(no_go.release_id, **fields)
            assert caught.value.field == field
    assert store.override_history() == []
    assert store.get_decision(no_go.release_id) == no_go


def test_a_superseded_decision_is_not_overridden(agent: Agent) -> None:
    old = agent.decide(ask("search", "LOW", TUESDAY).model_copy(update={"ref": "r:prod"}))
    agent.decide(ask("search", "LOW", TUESDAY).model_copy(update={"ref": "r:prod", "delays": 1}))

    with pytest.raises(Conflict, match="superseded"):
        agent.override(old.release_id, "NO_GO", "alice", "x")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(list(Decision)), min_size=1, max_size=6))
def test_the_audit_log_is_every_override_in_order(
    fresh_database: Callable[[], str], choices: list[Decision]
) -> None:
    store = Store.open(fresh_database())
    agent = Agent(store)
    record = agent.decide(ask())
    made: list[tuple[Decision, Decision]] = []
    for i, to in enumerate(choices):
        try:
            current = agent.override(record.release_id, to, f"user{i}", f"step {i}")
        except Conflict:
            assert to is store.get_decision(record.release_id).decision
            continue
        made.append((record.decision if not made else made[-1][1], to))
        assert current.decision is to
        assert current.override is not None and current.override.agent_decision is Decision.NO_GO
    history = store.override_history(record.release_id)
    assert [(e.from_decision, e.to_decision) for e in history] == made
    final = store.get_decision(record.release_id)
    assert final.decision is (made[-1][1] if made else Decision.NO_GO)
    assert [d.decision for d in store.list_decisions()] == [final.decision]
    store.close()


# -- the command line ---------------------------------------------------------------------


def invoke(*args: str, db: str) -> CliResult:
    return CliRunner().invoke(main, [*args, "--db", db], catch_exceptions=False)


def test_cli_override_then_outcome(database_url: str) -> None:
    decided = invoke(
        "decide",
        "--service",
        "payments",
        "--risk",
        "HIGH",
        "--criticality",
        "HIGH",
        "--at",
        FRIDAY,
        "--json",
        db=database_url,
    )
    assert decided.exit_code == 4
    release_id = json.loads(decided.stdout)["release_id"]

    refused = invoke("outcome", release_id, "--result", "success", db=database_url)
    assert refused.exit_code == 2 and "override" in refused.stderr

    bad = invoke(
        "override", release_id, "--decision", "MAYBE", "--by", "a", "--reason", "b", db=database_url
    )
    assert bad.exit_code == 2

    done = invoke(
        "override",
        release_id[:8],
        "--decision",
        "go",
        "--by",
        "alice",
        "--reason",
        "CAB \x1b[31mapproved",
        db=database_url,
    )
    assert done.exit_code == 0, done.output
    assert "agent said NO_GO, alice decided GO" in done.stdout
    assert "\x1b" not in done.stdout  # untrusted text is shown, escaped

    assert invoke("outcome", release_id[:8], "--result", "success", db=database_url).exit_code == 0
    log = invoke("overrides", "--json", db=database_url)
    (entry,) = json.loads(log.stdout)
    assert (entry["from"], entry["to"], entry["by"]) == ("NO_GO", "GO", "alice")
    shown = json.loads(invoke("show", release_id, "--json", db=database_url).stdout)
    assert shown["decision"] == "GO" and shown["override"]["agent_decision"] == "NO_GO"
    assert shown["outcome"]["result"] == "success"


def test_cli_override_into_a_freeze_needs_break_glass(database_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[freeze.weekly]]\nname = "weekend"\nstart = "FRI 12:00"\nend = "MON 06:00"\n'
    )
    decided = invoke(
        "decide",
        "--service",
        "search",
        "--risk",
        "LOW",
        "--criticality",
        "LOW",
        "--at",
        FRIDAY,
        "--policy",
        str(policy),
        "--json",
        db=database_url,
    )
    release_id = json.loads(decided.stdout)["release_id"]
    args = ("override", release_id, "--decision", "GO", "--by", "al", "--reason", "fix")

    refused = invoke(*args, "--policy", str(policy), db=database_url)
    policy.write_text(policy.read_text() + "[decision]\nallow_freeze_override = true\n")
    allowed = invoke(*args, "--policy", str(policy), "--json", db=database_url)

    assert refused.exit_code == 2 and "allow_freeze_override" in refused.stderr
    assert allowed.exit_code == 0
    assert json.loads(allowed.stdout)["override"]["break_glass"] is True


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture
def policy_file(tmp_path: Path, httpserver: HTTPServer) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(
        f'[[notify]]\nurl = "{httpserver.url_for("/hook/s3cr3t")}"\non = ["override"]\n'
    )
    httpserver.expect_request("/hook/s3cr3t", method="POST").respond_with_data("ok")
    return path


@pytest.fixture
def client(database_url: str, policy_file: Path) -> Iterator[TestClient]:
    app = create_app(db_url=database_url, policy=load_policy(policy_file))
    with client_of(app) as test_client:
        yield test_client


def decide_no_go(client: TestClient) -> str:
    answer = client.post(
        "/api/v1/decisions",
        json={
            "service": "payments",
            "feature_risk": "HIGH",
            "service_criticality": "HIGH",
            "at": FRIDAY,
        },
    )
    assert answer.json()["decision"] == "NO_GO"
    return str(answer.json()["release_id"])


def test_api_override_is_recorded_and_sent(client: TestClient, httpserver: HTTPServer) -> None:
    release_id = decide_no_go(client)

    refused = only_problem(
        client.post(f"/api/v1/decisions/{release_id}/outcome", json={"result": "success"}), 409
    )
    answer = client.post(
        f"/api/v1/decisions/{release_id[:6]}/override",
        json={"decision": "GO", "by": "alice", "reason": "hotfix <b>now</b>"},
    )

    assert "override" in refused["message"]
    assert answer.status_code == 201
    record = answer.json()
    assert record["decision"] == "GO" and record["override"]["agent_decision"] == "NO_GO"
    assert client.get(f"/api/v1/decisions/{release_id}").json() == record
    assert (
        client.post(
            f"/api/v1/decisions/{release_id}/outcome", json={"result": "success"}
        ).status_code
        == 201
    )
    observer = client.app.state.observer  # type: ignore[attr-defined]
    assert observer.sender.drain(10)
    (sent,) = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert sent["event"] == "override" and sent["decision"] == "GO"
    assert sent["override"]["by"] == "alice" and sent["override"]["agent_decision"] == "NO_GO"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"decision": "MAYBE", "by": "a", "reason": "b"}, "decision"),
        ({"decision": "GO", "by": " ", "reason": "b"}, "by"),
        ({"decision": "GO", "by": "a", "reason": ""}, "reason"),
        ({"decision": "GO", "by": "a"}, "reason"),
        ({"decision": "GO", "by": "a", "reason": "b", "break_glass": True}, "break_glass"),
    ],
)
def test_api_refuses_bad_fields(client: TestClient, payload: dict[str, Any], field: str) -> None:
    release_id = decide_no_go(client)

    problem = only_problem(
        client.post(f"/api/v1/decisions/{release_id}/override", json=payload), 422
    )

    assert problem["field"] == field
    assert client.get(f"/api/v1/decisions/{release_id}").json()["override"] is None


def test_api_unknown_id_is_404_and_a_second_same_override_409(client: TestClient) -> None:
    release_id = decide_no_go(client)
    good = {"decision": "NO_GO", "by": "a", "reason": "b"}

    assert only_problem(client.post("/api/v1/decisions/nope-nope/override", json=good), 404)
    assert only_problem(client.post(f"/api/v1/decisions/{release_id}/override", json=good), 409)


def test_the_policy_reads_allow_freeze_override() -> None:
    assert Policy().settings.allow_freeze_override is False
    assert parse_policy(
        {"decision": {"allow_freeze_override": True}}
    ).settings.allow_freeze_override
    with pytest.raises(PolicyError) as caught:
        parse_policy({"decision": {"allow_freeze_override": "yes"}})
    assert caught.value.field == "decision.allow_freeze_override"


def test_the_override_event_says_who_and_why_and_slack_text_is_escaped(
    agent: Agent, no_go: DecisionRecord
) -> None:
    record = agent.override(no_go.release_id, "GO", "<@U123>", "fix <!channel> & ship")

    slack = payload("override", record, "slack")["text"]
    body = payload("override", record, "json")

    assert slack.startswith("Override: payments to prod is GO, by &lt;@U123&gt;")
    assert "(the agent said NO_GO): fix &lt;!channel&gt; &amp; ship" in slack
    assert "<" not in slack
    assert body["event"] == "override" and body["decision"] == "GO"
    assert body["override"]["agent_decision"] == "NO_GO" and body["override"]["by"] == "<@U123>"
    assert "override" not in payload("GO", record, "json")  # other events keep their shape
