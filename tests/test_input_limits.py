"""Input at the edges of what is allowed: the most clashes a request may carry is
decided, one more is bad input; times at the calendar's edges and an infinite LLM
timeout are refused with the field named. (A Unix number for ``at`` in the API:
tests/test_api_input.py.)"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from release_agent.agent import Agent
from release_agent.cli import main
from release_agent.domain.errors import InvalidInput
from release_agent.domain.models import MAX_CLASHES, Decision, Level, ReleaseRequest, parse_request
from release_agent.memory.store import Store
from release_agent.reasoners.registry import llm_settings

PLAN_REASON_LIMIT = 2000
"""The length limit of a plan's reason (``Plan.reason``)."""


def request(clashes: list[str]) -> ReleaseRequest:
    return ReleaseRequest(
        service="blog",
        env="prod",
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=datetime.fromisoformat("2026-11-24T14:00:00+01:00"),
        clashes=clashes,
    )


def test_too_many_clashes_is_bad_input_not_a_crash() -> None:
    too_many = [f"svc-{i}" for i in range(MAX_CLASHES + 1)]
    with pytest.raises(InvalidInput) as caught:
        parse_request({**request([]).model_dump(), "clashes": too_many})
    assert caught.value.field == "clashes"


def test_twenty_long_clash_names_still_decide(tmp_path: Path) -> None:
    """The largest clash list allowed is decided like a single clash, not GO: the plan's
    reason, which names every clashing service, is clipped to its limit instead of
    failing validation."""
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    names = [f"{'s' * 90}{i:02d}" for i in range(MAX_CLASHES)]
    record = Agent(store).decide(request(names))
    one_clash = Agent(Store.open("sqlite://")).decide(request(names[:1]))

    assert record.context.clash
    assert record.decision is one_clash.decision
    assert record.decision is not Decision.GO
    assert record.next_window == one_clash.next_window
    plan = next(t for t in record.trace if t.stage == "planner").detail["plan"]
    assert len(plan["reason"]) == PLAN_REASON_LIMIT and plan["reason"].endswith("…")
    assert names[0] in plan["reason"]
    assert record.reason.startswith(plan["reason"])
    stored = store.get_decision(record.release_id)
    assert stored.request.clashes == names
    assert (stored.decision, stored.reason) == (record.decision, record.reason)


@pytest.mark.parametrize("at", ["9999-12-31T22:00:00+00:00", "0001-01-01T00:30:00+01:00"])
def test_times_at_the_edge_of_the_calendar_are_bad_input(tmp_path: Path, at: str) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    decide = ["decide", "--service", "a", "--risk", "LOW", "--criticality", "LOW"]
    result = CliRunner().invoke(main, [*decide, "--at", at, "--db", db])
    assert result.exit_code == 2
    # the message names the field and the years allowed
    assert "at" in result.output and "2000" in result.output and "2100" in result.output
    assert Store.open(db).count_decisions() == 0


def test_an_infinite_llm_timeout_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        llm_settings("openai", environ={"RELEASE_AGENT_LLM_TIMEOUT": "inf"})
    assert caught.value.field == "RELEASE_AGENT_LLM_TIMEOUT"
