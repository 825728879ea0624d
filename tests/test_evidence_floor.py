"""The evidence floor: a model that approves everything cannot ship what the evidence
already refuses, even optimistically (decide/floor.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from release_agent import Agent, Store
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Decision, DecisionRecord, Plan
from release_agent.domain.policy import DecisionSettings, Policy, parse_policy
from release_agent.domain.scenarios import get
from release_agent.learn.imports import import_memory
from test_pipeline import Scripted, go_plan


def _history() -> list[dict[str, object]]:
    """Checkout's high-risk changes, clashing with another release, fail more often than
    not; the rest rarely."""
    episodes: list[dict[str, object]] = []
    for i in range(80):
        risky = i % 2 == 0
        episodes.append(
            {
                "context": {
                    "service": "checkout" if risky else "search",
                    "feature_risk": "HIGH" if risky else "LOW",
                    "service_criticality": "HIGH" if risky else "MEDIUM",
                    "day_of_week": ["MON", "TUE", "WED", "THU", "FRI"][i % 5],
                    "hour_of_day": 10 + i % 6,
                    "clash": risky,
                },
                "decision": "GO",
                "outcome": "incident" if (risky and i % 6 != 0) or i % 37 == 1 else "success",
                "timestamp": f"2026-10-{1 + i % 28:02d}T10:00:00+00:00",
                "release_id": f"history-{i}",
            }
        )
    return episodes


def _decide(tmp_path: Path, floor: str, plan: Plan, scenario: str) -> DecisionRecord:
    policy = Policy(settings=DecisionSettings(llm_floor=floor))
    store = Store.open(f"sqlite:///{tmp_path / f'{floor}.db'}")
    import_memory(store, _history())
    Agent(store, policy).learn()
    agent = Agent(store, policy, reasoner=Scripted(plan_answer=plan))  # type: ignore[arg-type]
    return agent.decide(get(scenario).request)


def _planner(record: DecisionRecord) -> dict[str, object]:
    return next(t for t in record.trace if t.stage == "planner").detail


def test_a_model_approving_everything_cannot_ship_the_riskiest_release(tmp_path: Path) -> None:
    record = _decide(tmp_path, "evidence", go_plan(), "friday-high-clash")
    assert record.decision is not Decision.GO
    assert "evidence floor" in record.reason
    notes = _planner(record)["notes"]
    assert isinstance(notes, list)
    assert any("evidence floor turned GO" in n for n in notes)


def test_the_floor_lets_a_model_ship_what_the_evidence_allows(tmp_path: Path) -> None:
    record = _decide(tmp_path, "evidence", go_plan(), "tuesday-low")
    assert record.decision is Decision.GO
    assert "evidence floor" not in record.reason


def test_with_the_floor_off_only_the_guardrails_hold(tmp_path: Path) -> None:
    record = _decide(tmp_path, "off", go_plan(), "friday-high-clash")
    assert record.decision is Decision.GO


def test_a_model_may_always_be_stricter(tmp_path: Path) -> None:
    refuse = Plan(decision=Decision.NO_GO, reason="too risky for my taste", confidence=0.9)
    for floor in ("evidence", "strict", "off"):
        assert _decide(tmp_path, floor, refuse, "tuesday-low").decision is Decision.NO_GO


def test_strict_is_never_looser_than_the_built_in_decision(tmp_path: Path) -> None:
    builtin = Agent(Store.open(f"sqlite:///{tmp_path / 'b.db'}")).decide(
        get("friday-high-clash").request
    )
    record = _decide(tmp_path, "strict", go_plan(), "friday-high-clash")
    assert record.decision.strictness >= builtin.decision.strictness
    assert "strict" in record.reason


def test_the_floor_is_a_policy_setting() -> None:
    assert Policy().settings.llm_floor == "evidence"
    assert parse_policy({"decision": {"llm_floor": "strict"}}).settings.llm_floor == "strict"
    with pytest.raises(PolicyError) as caught:
        parse_policy({"decision": {"llm_floor": "loose"}})
    assert caught.value.field == "decision.llm_floor"
    assert caught.value.allowed == ["evidence", "strict", "off"]
