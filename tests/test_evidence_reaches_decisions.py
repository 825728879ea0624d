"""Learned evidence reaches decisions: recall of similar episodes, and the built-in
reasoner's DELAY on a service's risky Friday afternoons."""

from __future__ import annotations

from datetime import datetime

from factories import Planted, World, populate
from release_agent.agent import Agent
from release_agent.domain.models import (
    Confirmation,
    Decision,
    Level,
    Plan,
    ReleaseRequest,
    Result,
    Review,
)
from release_agent.domain.policy import Costs, Policy
from release_agent.memory.store import Store
from release_agent.reasoners.base import (
    Answer,
    ConfirmTask,
    ExtractTask,
    HeuristicProposal,
    PlanTask,
    ReviewTask,
)
from release_agent.reasoners.builtin import BuiltinReasoner

PAYMENTS_FRIDAY = {"friday_afternoon": True, "service": "payments"}
FRIDAY_15 = "2026-03-06T15:00:00+00:00"
TUESDAY_10 = "2026-03-03T10:00:00+00:00"


def request(
    service: str, at: str, risk: str = "LOW", criticality: str = "MEDIUM"
) -> ReleaseRequest:
    return ReleaseRequest(
        service=service,
        env="prod",
        feature_risk=Level(risk),
        service_criticality=Level(criticality),
        at=datetime.fromisoformat(at),
    )


class Spy:
    """Plans like the built-in reasoner and keeps every plan task it was given."""

    name = "spy"

    def __init__(self) -> None:
        self.builtin = BuiltinReasoner()
        self.tasks: list[PlanTask] = []

    def plan(self, task: PlanTask) -> Answer[Plan]:
        self.tasks.append(task)
        return self.builtin.plan(task)

    def review(self, task: ReviewTask) -> Answer[Review]:
        return self.builtin.review(task)

    def confirm(self, task: ConfirmTask) -> Answer[Confirmation]:
        return self.builtin.confirm(task)

    def extract(self, task: ExtractTask) -> Answer[list[HeuristicProposal]]:
        return Answer([])


def test_the_planner_recalls_the_most_similar_past_deploys_with_their_outcomes() -> None:
    spy = Spy()
    agent = Agent(Store.open("sqlite://"), reasoner=spy)
    history = [
        (request("payments", "2026-02-27T16:00:00+00:00", "HIGH", "HIGH"), Result.incident),
        (request("search", "2026-02-24T10:00:00+00:00", "HIGH", "HIGH"), Result.success),
        (request("payments", "2026-02-23T11:00:00+00:00", "HIGH", "HIGH"), Result.rolled_back),
        (request("checkout", "2026-02-25T09:00:00+00:00", "MEDIUM", "LOW"), Result.success),
    ]
    decided = {}
    for req, result in history:
        record = agent.decide(req)
        decided[record.release_id] = (req.service, result)
        if record.decision is Decision.NO_GO:  # it went out all the same
            agent.override(record.release_id, Decision.GO, by="ops", reason="shipped anyway")
        agent.record_outcome(record.release_id, result, notes=f"{req.service} {result.value}")
    pending = agent.decide(request("payments", "2026-02-20T15:00:00+00:00", "HIGH", "HIGH"))

    agent.decide(request("payments", "2026-03-06T16:00:00+00:00", "HIGH", "HIGH"))
    similar = spy.tasks[-1].similar
    # The pool is this service's deploys and those of the same risk and criticality;
    # the pending decision and the unrelated checkout release are not recalled.
    assert len(similar) == 3
    assert pending.release_id not in [s.release_id for s in similar]
    assert [decided[s.release_id][0] for s in similar] == ["payments", "payments", "search"]
    for s in similar:
        service, result = decided[s.release_id]
        assert s.result == result.value
        assert s.attributes["service"] == service
        assert f"Outcome: {result.value} ({service} {result.value})." in s.summary
        assert "Planner:" in s.summary and "Final:" in s.summary


def test_evidence_turns_one_services_friday_afternoons_into_delay() -> None:
    # A team that pays for waiting: without evidence, Friday afternoons go out.
    policy = Policy(costs=Costs(delay_per_hour=0.1))
    fresh = Agent(Store.open("sqlite://"), policy)
    assert fresh.decide(request("payments", FRIDAY_15)).decision is Decision.GO

    store = Store.open("sqlite://")
    populate(store, World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),)), 6000, seed=11)
    agent = Agent(store, policy)
    agent.learn()
    [heuristic] = store.active_heuristics()
    assert heuristic.when == PAYMENTS_FRIDAY

    friday = agent.decide(request("payments", FRIDAY_15))
    assert friday.decision is Decision.DELAY
    assert friday.next_window is not None
    assert not (friday.next_window.weekday() == 4 and friday.next_window.hour >= 12)
    assert [h.id for h in friday.heuristics_applied] == [heuristic.id]

    tuesday = agent.decide(request("payments", TUESDAY_10))
    assert tuesday.decision is Decision.GO
    assert tuesday.heuristics_applied == []
