"""Edge cases found in review: each test fails without its fix."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from release_agent.agent import Agent
from release_agent.cli import main
from release_agent.domain.errors import InvalidInput, NotFound
from release_agent.domain.models import Decision, Level, Plan, ReleaseRequest, Result, parse_request
from release_agent.domain.policy import parse_policy
from release_agent.learn.imports import import_memory
from release_agent.memory.seedformat import export_memory
from release_agent.memory.store import Store
from release_agent.reasoners.base import Answer, Usage
from release_agent.reasoners.registry import llm_settings

YEAR_END = {
    "freeze": {
        "once": [
            {
                "name": "year-end",
                "start": "2026-12-20T00:00",
                "end": "2027-01-04T00:00",
                "timezone": "America/New_York",
                "envs": ["prod"],
            }
        ]
    }
}


def request(**overrides: Any) -> ReleaseRequest:
    data: dict[str, Any] = {
        "service": "blog",
        "env": "prod",
        "feature_risk": Level.LOW,
        "service_criticality": Level.LOW,
        "at": datetime.fromisoformat("2026-12-22T14:00:00+01:00"),
    }
    data.update(overrides)
    return ReleaseRequest(**data)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.parametrize("env", ["prod", "production", "PRODUCTION"])
def test_a_freeze_for_prod_covers_every_name_of_production(store: Store, env: str) -> None:
    record = Agent(store, parse_policy(YEAR_END)).decide(request(env=env))
    assert record.decision is not Decision.GO
    assert record.guardrails and "year-end" in record.guardrails[0]


def test_the_window_after_a_freeze_is_in_the_releases_own_offset(store: Store) -> None:
    record = Agent(store, parse_policy(YEAR_END)).decide(request())
    assert record.next_window is not None
    assert record.next_window.utcoffset() == request().at.utcoffset()
    assert record.next_window >= datetime.fromisoformat("2027-01-04T00:00:00-05:00")


class LongWinded:
    """A reasoner whose faults quote a huge answer."""

    name = "long"
    model = "long-1"

    def plan(self, task: Any) -> Answer[Plan]:
        raise ValueError("bad next_window " + "x" * 5000)

    def review(self, task: Any) -> Any:
        raise ValueError("y" * 5000)

    def confirm(self, task: Any) -> Any:
        raise ValueError("z" * 5000)

    def extract(self, task: Any) -> Answer[list[Any]]:
        return Answer([], Usage())


@pytest.mark.parametrize("mode", ["delay", "builtin"])
def test_a_fault_with_a_huge_message_still_fails_closed(store: Store, mode: str) -> None:
    record = Agent(store, None, LongWinded(), mode).decide(
        request(at=request().at.replace(month=11, day=24))
    )
    assert record.decision is (Decision.DELAY if mode == "delay" else Decision.GO)
    assert all(len(c.error or "") <= 300 for c in record.reasoner_calls)


def test_too_many_clashes_is_bad_input_not_a_crash() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_request({**request().model_dump(), "clashes": [f"svc-{i}" for i in range(21)]})
    assert caught.value.field == "clashes"


def test_twenty_long_clash_names_still_decide(store: Store) -> None:
    names = [f"{'s' * 90}{i:02d}" for i in range(20)]
    record = Agent(store).decide(request(clashes=names, at=request().at.replace(month=11, day=24)))
    assert len(record.reason) <= 2000 + 400


@pytest.mark.parametrize("at", ["9999-12-31T22:00:00+00:00", "0001-01-01T00:30:00+01:00"])
def test_times_at_the_edge_of_the_calendar_are_bad_input(tmp_path: Path, at: str) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    result = CliRunner().invoke(
        main,
        [
            "decide",
            "--service",
            "a",
            "--risk",
            "LOW",
            "--criticality",
            "LOW",
            "--at",
            at,
            "--db",
            db,
        ],
    )
    assert result.exit_code == 2 and "at" in result.output
    assert Store.open(db).count_decisions() == 0


def test_an_import_timestamp_at_the_edge_of_the_calendar_names_its_path(store: Store) -> None:
    from release_agent.domain.errors import ImportFormatError

    bad = [
        {
            "context": {},
            "decision": "GO",
            "outcome": "SUCCESS",
            "timestamp": "0001-01-01T00:00:00+01:00",
        }
    ]
    with pytest.raises(ImportFormatError) as caught:
        import_memory(store, bad)
    assert caught.value.field == "episodes[0].timestamp"


def test_the_api_refuses_a_number_for_at(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from release_agent.api import create_app

    client = TestClient(create_app(db_url=f"sqlite:///{tmp_path / 'a.db'}"))
    answer = client.post(
        "/api/v1/decisions",
        json={"service": "a", "feature_risk": "LOW", "service_criticality": "LOW", "at": 0},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "at"


def test_an_infinite_llm_timeout_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        llm_settings("openai", environ={"RELEASE_AGENT_LLM_TIMEOUT": "inf"})
    assert caught.value.field == "RELEASE_AGENT_LLM_TIMEOUT"


def test_outcomes_go_only_to_decisions_and_notes_are_bounded(store: Store) -> None:
    import_memory(
        store,
        [
            {
                "context": {"service": "blog"},
                "decision": "NO_GO",
                "outcome": "ABORTED",
                "timestamp": "2026-01-01T00:00:00+00:00",
            }
        ],
    )
    imported = store.list_episodes(0)[0].release_id
    with pytest.raises(NotFound):
        store.record_outcome(imported, Result.incident)
    record = Agent(store).decide(request(at=request().at.replace(month=11, day=24)))
    with pytest.raises(InvalidInput) as caught:
        store.record_outcome(record.release_id, Result.success, "n" * 4001)
    assert caught.value.field == "notes"
    assert store.get_decision(record.release_id).outcome is None


def test_concurrent_writers_wait_for_each_other(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'busy.db'}"
    Store.open(db).close()
    worker = textwrap.dedent(
        f"""
        from datetime import datetime, timedelta
        from release_agent.agent import Agent
        from release_agent.memory.store import Store
        from release_agent.domain.models import Level, ReleaseRequest, Result
        agent = Agent(Store.open({db!r}))
        base = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
        for i in range(15):
            r = agent.decide(ReleaseRequest(service="s", feature_risk=Level.LOW,
                service_criticality=Level.LOW, at=base + timedelta(days=7 * i)))
            agent.record_outcome(r.release_id, Result.success)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", worker], stderr=subprocess.PIPE) for _ in range(4)
    ]
    errors = [p.communicate(timeout=240)[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert Store.open(db).count_outcomes() == 60


def test_export_then_import_keeps_the_deploy_times(store: Store, tmp_path: Path) -> None:
    agent = Agent(store)
    record = agent.decide(request(at=request().at.replace(month=11, day=24)))
    agent.record_outcome(record.release_id, Result.incident)
    exported = json.loads(json.dumps(export_memory(store)))
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    import_memory(other, exported)
    (row,) = other.list_episodes(0)
    assert row.deploy_at == store.list_episodes(0)[0].deploy_at
    assert other.recent_outcomes("blog", record.request.at.replace(hour=23))
