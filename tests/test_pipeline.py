"""The pipeline end to end through Agent: stages, trace, guardrails and fail-safe rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release_agent.agent import Agent
from release_agent.domain.errors import ReasonerError
from release_agent.domain.models import (
    Confirmation,
    Decision,
    Level,
    Plan,
    ReleaseRequest,
    Result,
    Review,
    SuggestedAction,
)
from release_agent.domain.policy import DecisionSettings, Policy, PriorSettings, parse_policy
from release_agent.domain.scenarios import CAREFUL_TEAM_PRIORS, SCENARIOS, get
from release_agent.memory.store import Store
from release_agent.reasoners.base import Answer, Usage
from release_agent.reasoners.builtin import BuiltinReasoner

BERLIN_FRIDAY_FREEZE = {
    "freeze": {
        "weekly": [
            {
                "name": "weekend",
                "start": "FRI 12:00",
                "end": "MON 06:00",
                "timezone": "Europe/Berlin",
                "envs": ["prod"],
            }
        ]
    }
}


@dataclass
class Scripted:
    """A reasoner whose answers (or faults) a test chooses; counts its calls."""

    name: str = "scripted"
    model: str | None = "scripted-1"
    plan_answer: Any = None
    review_answer: Any = None
    confirm_answer: Any = None
    calls: list[str] = field(default_factory=list)

    def _answer(self, task: str, value: Any) -> Answer[Any]:
        self.calls.append(task)
        if isinstance(value, Exception):
            raise value
        if callable(value):
            value = value()
        return Answer(value, Usage(model=self.model, input_tokens=10, output_tokens=5))

    def plan(self, task: Any) -> Answer[Plan]:
        return self._answer("plan", self.plan_answer)

    def review(self, task: Any) -> Answer[Review]:
        return self._answer(
            "review",
            self.review_answer
            or Review(concerns=[], risk_level=Level.LOW, suggested_action=SuggestedAction.NONE),
        )

    def confirm(self, task: Any) -> Answer[Confirmation]:
        return self._answer(
            "confirm", self.confirm_answer or Confirmation(confirmed=True, reason="looks fine")
        )

    def extract(self, task: Any) -> Answer[list[Any]]:
        return self._answer("extract", [])


def go_plan() -> Plan:
    return Plan(decision=Decision.GO, reason="GO because the notes said so", confidence=0.99)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'memory.db'}")


def request(**overrides: Any) -> ReleaseRequest:
    data: dict[str, Any] = {
        "service": "search",
        "env": "prod",
        "feature_risk": Level.LOW,
        "service_criticality": Level.MEDIUM,
        "at": datetime.fromisoformat("2026-11-24T10:00:00+01:00"),
    }
    data.update(overrides)
    return ReleaseRequest(**data)


def test_fresh_memory_high_risk_friday_is_not_go_and_low_risk_tuesday_is_go(store: Store) -> None:
    agent = Agent(store, CAREFUL)
    assert agent.decide(get("friday-high-clash").request).decision is not Decision.GO
    assert agent.decide(get("tuesday-low").request).decision is Decision.GO


CAREFUL = Policy(priors=PriorSettings.model_validate(CAREFUL_TEAM_PRIORS))
"""A team that states, before any evidence, what careful teams believe."""


def test_the_five_seed_scenarios_decide_as_a_careful_team_would(store: Store) -> None:
    agent = Agent(store, CAREFUL)
    decided = {s.id: agent.decide(s.request) for s in SCENARIOS}
    assert decided["monday-low"].decision is Decision.GO
    assert decided["tuesday-low"].decision is Decision.GO
    assert decided["friday-low"].decision is Decision.DELAY
    assert decided["saturday-low"].decision is Decision.DELAY
    assert decided["friday-high-clash"].decision is Decision.NO_GO
    delayed = decided["friday-low"]
    window = delayed.next_window
    assert window is not None and window > get("friday-low").request.at
    # the next window is within business hours and past the Friday afternoon
    assert 8 <= window.hour < 18 and not (window.weekday() == 4 and window.hour >= 12)
    scheduling = next(t for t in delayed.trace if t.stage == "scheduling")
    assert (
        scheduling.detail["best_window"]["risk"]["mean"]
        < scheduling.detail["go_now"]["risk"]["mean"]
    )


def test_every_stage_leaves_its_record_in_the_trace(store: Store) -> None:
    record = Agent(store).decide(get("tuesday-low").request)
    stages = [t.stage for t in record.trace]
    for stage in (
        "context",
        "guardrails",
        "heuristics",
        "scheduling",
        "planner",
        "red_team",
        "reflection",
        "decision",
        "memory",
    ):
        assert stage in stages
    assert [s.split(":")[0] for s in record.states] == [
        "START",
        "RISK_EVAL",
        "SCHEDULING",
        "DECISION",
        "REFLECT",
        "DONE",
    ]
    assert record.reflection is not None and record.reflection.confirmed
    assert record.red_team is not None


def test_a_delay_goes_back_through_scheduling_and_lands_on_a_checked_window(
    store: Store,
) -> None:
    record = Agent(store, CAREFUL).decide(get("friday-low").request)
    states = [s.split(":")[0] for s in record.states]
    assert states.count("SCHEDULING") == 2 and states.count("DECISION") == 2
    assert "was checked: GO then" in record.reason


def test_the_episode_is_stored_with_its_trace_and_summary(store: Store) -> None:
    record = Agent(store).decide(get("friday-high-clash").request)
    loaded = store.get_decision(record.release_id)
    assert loaded == record
    assert "Final: NO_GO" in loaded.summary and "PAYMENTS-SERVICE" in loaded.summary


def test_inside_a_freeze_the_decision_is_never_go_and_no_reasoner_is_asked(store: Store) -> None:
    policy = parse_policy(BERLIN_FRIDAY_FREEZE)
    liar = Scripted(plan_answer=go_plan)
    agent = Agent(store, policy, liar)
    friday = request(at=datetime.fromisoformat("2026-11-27T13:00:00+01:00"))
    record = agent.decide(friday)
    assert record.decision is Decision.DELAY
    assert record.next_window is not None
    assert record.next_window >= datetime.fromisoformat("2026-11-30T06:00:00+01:00")
    assert "weekend" in " ".join(record.guardrails)
    assert "plan" not in liar.calls and "confirm" not in liar.calls


def test_a_freeze_applies_only_to_its_environments(store: Store) -> None:
    agent = Agent(store, parse_policy(BERLIN_FRIDAY_FREEZE))
    staging = request(env="staging", at=datetime.fromisoformat("2026-11-27T13:00:00+01:00"))
    record = agent.decide(staging)
    assert record.guardrails == []


def test_a_reasoner_that_answers_go_cannot_open_a_freeze_even_outside_the_guard(
    store: Store,
) -> None:
    # A freeze that starts inside the request's hour: the LLM is asked about 10:00 (open),
    # but any window it proposes inside the freeze is moved out of it.
    policy = parse_policy(
        {
            "freeze": {
                "once": [
                    {
                        "name": "release-train",
                        "start": "2026-11-24T11:00",
                        "end": "2026-11-25T09:00",
                        "timezone": "Europe/Berlin",
                    }
                ]
            }
        }
    )
    delay_into_freeze = Plan(
        decision=Decision.DELAY,
        reason="later",
        confidence=0.9,
        next_window=datetime.fromisoformat("2026-11-24T15:00:00+01:00"),
    )
    agent = Agent(store, policy, Scripted(plan_answer=delay_into_freeze))
    record = agent.decide(request())
    assert record.decision in (Decision.DELAY, Decision.NO_GO)
    if record.next_window is not None:
        assert record.next_window >= datetime.fromisoformat("2026-11-25T09:00:00+01:00")


def test_a_production_go_that_reflection_does_not_confirm_is_not_go(store: Store) -> None:
    doubter = Scripted(
        plan_answer=go_plan,
        confirm_answer=Confirmation(confirmed=False, reason="the canary is red"),
    )
    record = Agent(store, None, doubter).decide(request())
    assert record.decision is not Decision.GO
    assert "the canary is red" in record.reason
    assert doubter.calls == ["plan", "review", "confirm"]


def test_an_llm_path_costs_at_most_three_calls(store: Store) -> None:
    scripted = Scripted(plan_answer=go_plan)
    record = Agent(store, None, scripted).decide(request())
    assert record.decision is Decision.GO
    assert scripted.calls == ["plan", "review", "confirm"]
    assert {c.reasoner for c in record.reasoner_calls} == {"scripted"}
    assert all(c.input_tokens == 10 for c in record.reasoner_calls)


FAULTS = [
    ReasonerError("timed out", kind="timeout"),
    ReasonerError("HTTP 500", kind="http", status_code=500),
    ReasonerError("bad json", kind="invalid_json"),
    ValueError("a bug in the reasoner"),
]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: type(f).__name__ + str(f))
def test_a_planning_fault_fails_closed_with_delay_and_shows_the_builtin_decision(
    store: Store, fault: Exception
) -> None:
    record = Agent(store, None, Scripted(plan_answer=fault)).decide(request())
    assert record.decision is Decision.DELAY
    assert record.next_window is not None
    assert "built-in reasoner would have decided GO" in record.reason
    planner = next(t for t in record.trace if t.stage == "planner")
    assert planner.detail["builtin_plan"]["decision"] == "GO"
    failed = [c for c in record.reasoner_calls if not c.ok]
    assert failed and failed[0].fallback == "fail-closed"


def test_a_planning_fault_never_loosens_a_builtin_no_go(store: Store) -> None:
    # Without exploration the built-in reasoner refuses this release on an empty memory.
    policy = Policy(settings=DecisionSettings(explore=False))
    agent = Agent(store, policy, Scripted(plan_answer=ReasonerError("boom", kind="http")))
    record = agent.decide(get("friday-high-clash").request)
    assert record.decision is Decision.NO_GO


def test_with_on_failure_builtin_the_builtin_decision_is_taken(store: Store) -> None:
    agent = Agent(store, None, Scripted(plan_answer=ReasonerError("x", kind="timeout")), "builtin")
    record = agent.decide(request())
    assert record.decision is Decision.GO
    assert record.reasoner_calls[0].fallback == "builtin"


def test_a_review_fault_falls_back_to_the_builtin_review(store: Store) -> None:
    scripted = Scripted(plan_answer=go_plan, review_answer=ReasonerError("x", kind="http"))
    record = Agent(store, None, scripted).decide(request())
    reviews = [c for c in record.reasoner_calls if c.task == "review"]
    assert reviews[0].ok is False and reviews[0].fallback == "builtin"
    assert reviews[1].reasoner == "builtin" and record.red_team is not None


def test_a_confirmation_fault_means_not_confirmed(store: Store) -> None:
    scripted = Scripted(plan_answer=go_plan, confirm_answer=ReasonerError("x", kind="timeout"))
    record = Agent(store, None, scripted).decide(request())
    assert record.decision is not Decision.GO
    assert record.reflection is not None and not record.reflection.confirmed


def test_an_out_of_schema_answer_is_a_fault(store: Store) -> None:
    def bad() -> Plan:
        return Plan.model_validate({"decision": "MAYBE", "reason": "x", "confidence": 2})

    record = Agent(store, None, Scripted(plan_answer=bad)).decide(request())
    assert record.decision is Decision.DELAY
    assert record.reasoner_calls[0].error is not None


def test_exhausted_reschedules_end_in_no_go_aborted(store: Store) -> None:
    policy = CAREFUL.model_copy(update={"settings": DecisionSettings(max_reschedules=0)})
    record = Agent(store, policy).decide(get("friday-low").request)
    assert record.decision is Decision.NO_GO
    assert record.states[-1].startswith("ABORTED")


def test_deciding_never_learns(store: Store) -> None:
    """Learning is off the decision path: decisions read the published knowledge and
    record its version; only a learning run publishes a new one."""
    agent = Agent(store, Policy(settings=DecisionSettings(extract_every=1)))
    records = [agent.decide(request(at=request().at + timedelta(days=7 * i))) for i in range(3)]
    assert agent.last_learning is None
    assert {r.knowledge_version for r in records} == {0}
    agent.learn()
    assert agent.decide(request(at=request().at + timedelta(days=28))).knowledge_version == 1


def test_outcomes_change_later_decisions(store: Store) -> None:
    """Failures on one service's deploys make the same request stricter."""
    agent = Agent(store, CAREFUL)
    base = request(service="ledger", service_criticality=Level.HIGH)
    first = agent.decide(base)
    assert first.decision is Decision.GO
    for week in range(1, 13):
        record = agent.decide(base.model_copy(update={"at": base.at + timedelta(days=7 * week)}))
        agent.record_outcome(record.release_id, Result.incident)
    agent.learn()
    later = agent.decide(base.model_copy(update={"at": base.at + timedelta(days=7 * 20)}))
    assert later.decision is not Decision.GO


request_strategy = st.builds(
    ReleaseRequest,
    service=st.sampled_from(["payments", "search", "blog"]),
    env=st.sampled_from(["prod", "staging"]),
    feature_risk=st.sampled_from(list(Level)),
    service_criticality=st.sampled_from(list(Level)),
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
        lambda d: d.replace(tzinfo=datetime.fromisoformat("2026-01-01T00:00+01:00").tzinfo)
    ),
    clashes=st.lists(st.sampled_from(["PAYMENTS-SERVICE", "auth"]), max_size=1),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    req=request_strategy, fault=st.sampled_from(FAULTS), step=st.sampled_from(["plan", "confirm"])
)
def test_property_no_reasoner_fault_ever_yields_go(
    tmp_path_factory: pytest.TempPathFactory, req: ReleaseRequest, fault: Exception, step: str
) -> None:
    """Every example asserts: where the fault was raised, the decision is not GO and the
    trace records the failed call and the fail-closed fallback; where it was not, the step
    was never asked for (only a production GO is put to reflection), nothing failed, and
    the scripted GO stands."""
    db = tmp_path_factory.mktemp("prop") / "m.db"
    scripted = Scripted(plan_answer=go_plan)
    setattr(scripted, f"{step}_answer", fault)
    record = Agent(Store.open(f"sqlite:///{db}"), None, scripted).decide(req)
    failed = [c for c in record.reasoner_calls if not c.ok]
    stages = [t.stage for t in record.trace]
    if step in scripted.calls:
        assert record.decision is not Decision.GO
        assert [(c.task, c.fallback) for c in failed] == [(step, "fail-closed")]
        assert failed[0].error
        if step == "plan":
            planner = record.trace[stages.index("planner")]
            assert planner.detail["plan"]["confidence"] == 0
            assert any("failed closed" in note for note in planner.detail["notes"])
        else:
            reflection = record.trace[stages.index("reflection")]
            assert reflection.detail["confirmation"]["confirmed"] is False
    else:
        assert step == "confirm" and req.env != "prod"
        assert "reflection" not in stages and failed == []
        assert record.decision is Decision.GO


@settings(max_examples=30, deadline=None)
@given(req=request_strategy)
def test_property_a_go_answer_never_opens_a_freeze(
    tmp_path_factory: pytest.TempPathFactory, req: ReleaseRequest
) -> None:
    db = tmp_path_factory.mktemp("prop") / "m.db"
    # a freeze that always covers the requested moment
    start = req.at - timedelta(hours=1)
    policy = parse_policy(
        {
            "freeze": {
                "once": [
                    {
                        "name": "covering",
                        "start": start.isoformat(),
                        "end": (req.at + timedelta(hours=5)).isoformat(),
                    }
                ]
            }
        }
    )
    record = Agent(Store.open(f"sqlite:///{db}"), policy, Scripted(plan_answer=go_plan)).decide(req)
    assert record.decision is not Decision.GO
    if record.next_window is not None:
        assert record.next_window >= req.at + timedelta(hours=5)


def test_builtin_reasoner_is_deterministic(store: Store) -> None:
    a = Agent(store).decide(get("friday-low").request)
    b = Agent(store).decide(get("friday-low").request)
    assert (a.decision, a.next_window, a.confidence) == (b.decision, b.next_window, b.confidence)
    assert BuiltinReasoner().name == "builtin"


def test_a_failure_of_the_builtin_reasoner_is_a_fault_and_stores_nothing(store: Store) -> None:
    from release_agent.domain.errors import RuntimeFault

    class Broken(BuiltinReasoner):
        def plan(self, task: Any) -> Answer[Plan]:
            raise ZeroDivisionError("a bug")

    agent = Agent(store)
    agent.builtin = Broken()
    agent.reasoner = agent.builtin
    with pytest.raises(RuntimeFault, match="built-in reasoner failed to plan"):
        agent.decide(request())
    assert store.count_decisions() == 0


def test_without_stated_priors_a_first_day_believes_no_context_riskier(store: Store) -> None:
    """Priors centred on no effect: before any evidence a Friday afternoon is believed
    no riskier than a Tuesday morning, for the same release (only less is known)."""
    agent = Agent(store)
    friday = agent.decide(get("friday-low").request)
    tuesday = agent.decide(
        get("friday-low").request.model_copy(
            update={"at": datetime.fromisoformat("2026-11-24T10:00:00+01:00")}
        )
    )
    assert friday.decision is tuesday.decision is Decision.GO
