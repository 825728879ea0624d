"""A release delayed often enough is not delayed again: GO or NO_GO (``max_delays``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from release_agent import Agent, ReleaseRequest, Store
from release_agent.cli import main
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Decision
from release_agent.domain.policy import DecisionSettings, Policy, parse_policy

# Under a freeze the only options are a later window or NO_GO: the window is cheaper.
FROZEN = parse_policy(
    {
        "freeze": {
            "once": [
                {
                    "name": "change-window",
                    "start": "2026-11-24T09:00",
                    "end": "2026-11-24T12:00",
                    "timezone": "Europe/Berlin",
                }
            ]
        }
    }
)


def _request(delays: int) -> ReleaseRequest:
    return ReleaseRequest(
        service="blog",
        feature_risk="LOW",
        service_criticality="LOW",
        at="2026-11-24T10:00:00+01:00",
        delays=delays,
    )


def test_a_release_under_a_freeze_is_delayed_until_it_was_delayed_enough(
    tmp_path: Path,
) -> None:
    agent = Agent(Store.open(f"sqlite:///{tmp_path / 'm.db'}"), FROZEN)
    assert agent.decide(_request(0)).decision is Decision.DELAY
    assert agent.decide(_request(1)).decision is Decision.DELAY
    last = agent.decide(_request(2))
    assert last.decision is Decision.NO_GO  # a freeze forbids GO; no more waiting
    assert last.next_window is None


def test_the_limit_is_the_policy_s(tmp_path: Path) -> None:
    patient = FROZEN.model_copy(update={"settings": DecisionSettings(max_delays=5)})
    agent = Agent(Store.open(f"sqlite:///{tmp_path / 'p.db'}"), patient)
    assert agent.decide(_request(4)).decision is Decision.DELAY
    assert agent.decide(_request(5)).decision is Decision.NO_GO


def test_delays_must_be_a_small_whole_number() -> None:
    for bad in (-1, 101, 1.5, "two"):
        with pytest.raises(ValidationError):
            _request(bad)  # type: ignore[arg-type]
    with pytest.raises(PolicyError) as caught:
        parse_policy({"decision": {"max_delays": -1}})
    assert caught.value.field == "decision.max_delays"
    assert Policy().settings.max_delays == 2


def test_the_cli_takes_delays(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[freeze.once]]\nname = "w"\nstart = "2026-11-24T09:00"\nend = "2026-11-24T12:00"\n'
        'timezone = "Europe/Berlin"\n'
    )
    common = [
        "decide",
        "--service",
        "blog",
        "--risk",
        "LOW",
        "--criticality",
        "LOW",
        "--at",
        "2026-11-24T10:00:00+01:00",
        "--db",
        f"sqlite:///{tmp_path / 'c.db'}",
        "--policy",
        str(policy),
        "--json",
    ]
    first = CliRunner().invoke(main, common)
    assert first.exit_code == 3, first.output
    last = CliRunner().invoke(main, [*common, "--delays", "2"])
    assert last.exit_code == 4, last.output
    assert json.loads(last.output)["decision"] == "NO_GO"
    bad = CliRunner().invoke(main, [*common, "--delays", "-1"])
    assert bad.exit_code == 2


def test_the_api_takes_delays(tmp_path: Path) -> None:
    from api_support import body, client_of
    from release_agent.api import create_app

    app = create_app(db_url=f"sqlite:///{tmp_path / 'a.db'}", policy=FROZEN)
    client = client_of(app)
    fresh = client.post("/api/v1/decisions", json=body(service="blog", feature_risk="LOW"))
    assert fresh.json()["decision"] == "DELAY"
    last = client.post("/api/v1/decisions", json=body(service="blog", delays=2))
    assert last.json()["decision"] == "NO_GO"
    assert last.json()["request"]["delays"] == 2
    bad = client.post("/api/v1/decisions", json=body(delays="2"))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "delays"
