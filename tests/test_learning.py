"""Learning through the Agent: mined heuristics, recounts, the lifecycle and rejections.

Runs on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import Planted, World, direct_count, generate, insert, only, populate
from release_agent.agent import Agent
from release_agent.domain.models import (
    Confirmation,
    Decision,
    Heuristic,
    HeuristicStatus,
    Plan,
    Provenance,
    Review,
)
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
from release_agent.stats.evidence import Baseline, confidence


class Maker(Protocol):
    def __call__(self, world: World, count: int, seed: int) -> Agent: ...


PAYMENTS_FRIDAY = {"friday_afternoon": True, "service": "payments"}
PLANTED = World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),))


@pytest.fixture
def new_store(fresh_database: Callable[[], str]) -> Iterator[Callable[[], Store]]:
    """A maker of stores over fresh databases of the backend under test."""
    opened: list[Store] = []

    def make() -> Store:
        opened.append(Store.open(fresh_database()))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def agent_with(new_store: Callable[[], Store]) -> Callable[[World, int, int], Agent]:
    """A maker of agents over a fresh memory holding ``count`` episodes of a world."""

    def make(world: World, count: int, seed: int) -> Agent:
        store = new_store()
        populate(store, world, count, seed=seed)
        return Agent(store)

    return make


def by_status(agent: Agent, status: HeuristicStatus) -> list[Heuristic]:
    return agent.store.list_heuristics(status)


# -- mining through learn -----------------------------------------------------------------


def test_learning_finds_the_planted_pattern_with_recountable_evidence(agent_with: Maker) -> None:
    agent = agent_with(PLANTED, 6000, seed=11)
    report = agent.learn()
    [h] = agent.store.list_heuristics()
    assert h.when == PAYMENTS_FRIDAY
    assert h.recommendation is Decision.DELAY  # the risk lies in the timing
    assert h.provenance is Provenance.mined
    assert h.status is HeuristicStatus.active
    assert (h.support, h.failures) == direct_count(agent.store, PAYMENTS_FRIDAY)
    assert h.successes == h.support - h.failures
    assert h.confidence == 0.99  # the cap: evidence never makes a heuristic certain
    assert h.last_checked is not None
    assert (report.added, report.rejected) == (1, [])
    assert report.outcomes == agent.store.count_outcomes()


def test_a_history_without_effects_yields_no_heuristic(agent_with: Maker) -> None:
    agent = agent_with(World(), 6000, seed=12)
    report = agent.learn()
    assert agent.store.list_heuristics() == []
    assert (report.proposed, report.added) == (0, 0)


def test_learning_again_rechecks_instead_of_duplicating(agent_with: Maker) -> None:
    agent = agent_with(PLANTED, 6000, seed=11)
    agent.learn()
    insert(agent.store, generate(PLANTED, 3000, seed=99), start=10_000)
    report = agent.learn()
    [h] = agent.store.list_heuristics()
    assert (report.added, report.checked) == (0, 1)
    assert (h.support, h.failures) == direct_count(agent.store, PAYMENTS_FRIDAY)


# -- the lifecycle -----------------------------------------------------------------------


def _payments_friday(failure_rate: float, count: int, seed: int) -> dict:
    """Payments deploys on Friday afternoons only, failing at ``failure_rate``."""
    world = World(services=("payments",), base_rate=failure_rate, no_go_share=0, pending_share=0)
    return only(generate(world, count, seed=seed), PAYMENTS_FRIDAY)


def test_a_contradicted_heuristic_is_retired_and_reactivated_when_evidence_returns(
    agent_with: Maker,
) -> None:
    agent = agent_with(PLANTED, 6000, seed=11)
    agent.learn()
    [h] = agent.store.list_heuristics()

    # Friday afternoons on payments became as safe as anything else, and more.
    insert(agent.store, _payments_friday(0.0, 20_000, seed=5), start=100_000)
    report = agent.learn()
    [retired] = agent.store.list_heuristics()
    assert retired.id == h.id
    assert retired.status is HeuristicStatus.retired
    assert report.retired == 1
    assert retired.reason is not None and retired.reason.startswith("retired")
    assert "below the base rate" in retired.reason and "against DELAY" in retired.reason
    assert (retired.support, retired.failures) == direct_count(agent.store, PAYMENTS_FRIDAY)
    assert agent.store.active_heuristics() == []

    # ... and then they failed again, a lot.
    insert(agent.store, _payments_friday(0.6, 40_000, seed=6), start=200_000)
    report = agent.learn()
    [back] = agent.store.list_heuristics()
    assert back.id == h.id
    assert back.status is HeuristicStatus.active
    assert report.reactivated == 1
    assert back.reason is not None and back.reason.startswith("reactivated")


def test_heuristics_are_strengthened_and_weakened_by_their_evidence(
    new_store: Callable[[], Store],
) -> None:
    search_clash = {"clash": True, "service": "search"}
    world = World(planted=(Planted(search_clash, 0.3), Planted({"service": "accounts"}, 0.065)))
    store = new_store()
    populate(store, world, 5000, seed=4)
    agent = Agent(store, reasoner=None)
    stated = [
        Heuristic(when=search_clash, recommendation=Decision.NO_GO, confidence=0.8),
        Heuristic(when={"service": "accounts"}, recommendation=Decision.NO_GO, confidence=0.99),
    ]
    ids = [
        store.insert_heuristic(h.model_copy(update={"provenance": Provenance.llm})) for h in stated
    ]
    report = agent.learn()
    stronger, weaker = (next(h for h in store.list_heuristics() if h.id == i) for i in ids)
    assert stronger.confidence > 0.8 and stronger.status is HeuristicStatus.active
    assert 0.5 <= weaker.confidence < 0.99 and weaker.status is HeuristicStatus.active
    assert (report.strengthened, report.weakened, report.checked) == (1, 1, 2)
    for h in (stronger, weaker):
        assert (h.support, h.failures) == direct_count(store, h.when)


def test_imported_and_human_heuristics_wait_for_enough_evidence(
    new_store: Callable[[], Store],
) -> None:
    store = new_store()
    populate(store, World(planted=(Planted({"service": "search"}, 0.01),)), 4000, seed=14)
    agent = Agent(store)
    # search is safe: claims of risk are refuted once there is evidence.
    imported = Heuristic(
        when={"service": "search"},
        recommendation=Decision.NO_GO,
        confidence=0.9,
        support=3,
        provenance=Provenance.imported,
    )
    few = Heuristic(
        when={"service": "search", "day_of_week": "MON", "hour_of_day": 3},
        recommendation=Decision.NO_GO,
        confidence=0.9,
        support=3,
        provenance=Provenance.imported,
    )
    human = few.model_copy(
        update={
            "when": {
                "service": "search",
                "day_of_week": "SUN",
                "hour_of_day": {"from": 1, "to": 3},
            },
            "provenance": Provenance.human,
        }
    )
    ids = [store.insert_heuristic(h) for h in (imported, few, human)]
    agent.learn()
    after = {h.id: h for h in store.list_heuristics()}
    judged, waiting, person = (after[i] for i in ids)
    assert judged.support >= 5 and judged.confidence < 0.5
    assert judged.status is HeuristicStatus.retired
    assert waiting.support < 5 and waiting.status is HeuristicStatus.active
    # Too few deploys to retire it, but its confidence is what its counts say, not 0.9.
    base = Baseline.of(*store.outcome_cells().totals)
    assert waiting.confidence == confidence(Decision.NO_GO, waiting.support, waiting.failures, base)
    assert waiting.confidence < 0.6
    assert 5 <= person.support < 20 and person.status is HeuristicStatus.active
    assert person.confidence == 0.9
    for h in after.values():
        assert (h.support, h.failures) == direct_count(store, h.when)


def test_stored_duplicates_merge_into_one(agent_with: Maker) -> None:
    agent = agent_with(PLANTED, 3000, seed=15)
    store = agent.store
    variants = [
        ({"service": "payments", "friday_afternoon": True}, Decision.DELAY, 0.9),
        ({"friday_afternoon": True, "service": ["payments"]}, Decision.NO_GO, 0.7),
        ({"service": ["payments"], "friday_afternoon": [True]}, Decision.DELAY, 0.65),
    ]
    ids = [
        store.insert_heuristic(
            Heuristic(when=w, recommendation=r, confidence=c, provenance=Provenance.llm)
        )
        for w, r, c in variants
    ]
    report = agent.learn()
    active = store.active_heuristics()
    assert [h.id for h in active] == [ids[0]]
    assert active[0].when == PAYMENTS_FRIDAY
    assert report.merged == 2
    merged = {h.id: h for h in store.list_heuristics(HeuristicStatus.rejected)}
    for hid in ids[1:]:
        assert merged[hid].reason == f"duplicate of heuristic #{ids[0]}: merged into it"


# -- rejections ----------------------------------------------------------------------------


class ProposingReasoner:
    """An extraction reasoner that proposes fixed heuristics; plans like the built-in."""

    name = "proposer"

    def __init__(self, proposals: list[HeuristicProposal]) -> None:
        self.proposals = proposals
        self.builtin = BuiltinReasoner()

    def plan(self, task: PlanTask) -> Answer[Plan]:
        return self.builtin.plan(task)

    def review(self, task: ReviewTask) -> Answer[Review]:
        return self.builtin.review(task)

    def confirm(self, task: ConfirmTask) -> Answer[Confirmation]:
        return self.builtin.confirm(task)

    def extract(self, task: ExtractTask) -> Answer[list[HeuristicProposal]]:
        return Answer(list(self.proposals))


def test_rejected_proposals_are_stored_with_their_reasons(new_store: Callable[[], Store]) -> None:
    store = new_store()
    world = World(planted=(Planted(PAYMENTS_FRIDAY, 0.4), Planted({"service": "catalog"}, 0.005)))
    populate(store, world, 6000, seed=11)
    payments = direct_count(store, {"service": "payments"})
    proposals = [
        HeuristicProposal({"moon": "full"}, Decision.NO_GO, 0.9, 10),
        HeuristicProposal({"feature_risk": "EXTREME"}, Decision.NO_GO, 0.9, 10),
        HeuristicProposal({"service": "payments"}, Decision.DELAY, 0.9, payments[0] + 1),
        HeuristicProposal({"service": "search"}, Decision.NO_GO, 0.8, 50),
        HeuristicProposal(
            {"service": "payments", "hour_of_day": 3, "day_of_week": "TUE"}, Decision.NO_GO, 0.9, 2
        ),
        HeuristicProposal({"service": "catalog", "clash": False}, Decision.GO, 0.7, 30),
    ]
    agent = Agent(store, reasoner=ProposingReasoner(proposals))
    report = agent.learn()
    rejected = store.list_heuristics(HeuristicStatus.rejected)
    reasons = sorted(h.reason or "" for h in rejected)
    assert len(rejected) == 5 == len(report.rejected)
    assert all(h.provenance is Provenance.llm for h in rejected)
    assert any("not a known attribute" in r for r in reasons)
    assert any("not a valid value" in r for r in reasons)
    assert any(f"but memory shows {payments[0]} matching deploys" in r for r in reasons)
    assert any("memory contradicts NO_GO" in r and "the base rate" in r for r in reasons)
    assert any("above 0.6 with support 2" in r for r in reasons)
    llm = [h for h in store.active_heuristics() if h.provenance is Provenance.llm]
    assert [h.when for h in llm] == [{"clash": False, "service": "catalog"}]
    # The mined pattern is stored beside them.
    assert any(h.when == PAYMENTS_FRIDAY for h in store.active_heuristics())


# -- the property --------------------------------------------------------------------------

PATTERNS: list[dict[str, Any]] = [
    PAYMENTS_FRIDAY,
    {"clash": True},
    {"feature_risk": "HIGH", "service_criticality": "HIGH"},
    {"hour_of_day": {"from": 18, "to": 23}},
    {"service": "catalog"},
]


@settings(
    max_examples=12,
    deadline=None,
    # new_store makes a fresh database for each example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    planted=st.lists(
        st.tuples(st.sampled_from(range(len(PATTERNS))), st.sampled_from([0.0, 0.3, 0.6])),
        max_size=2,
    ),
    count=st.integers(200, 2500),
    seed=st.integers(0, 10_000),
    rounds=st.integers(1, 2),
)
def test_every_active_heuristic_carries_a_direct_count(
    new_store: Callable[[], Store],
    planted: list[tuple[int, float]],
    count: int,
    seed: int,
    rounds: int,
) -> None:
    world = World(planted=tuple(Planted(PATTERNS[i], rate) for i, rate in planted))
    store = new_store()
    agent = Agent(store)
    for r in range(rounds):
        insert(store, generate(world, count, seed=seed + r), start=r * 10_000)
        agent.learn()
    for h in store.list_heuristics():
        if h.status is HeuristicStatus.rejected:
            continue
        assert (h.support, h.failures) == direct_count(store, h.when)
        assert h.successes == h.support - h.failures
        assert h.last_checked is not None
    keys = [(str(h.when), h.recommendation is Decision.GO) for h in store.active_heuristics()]
    assert len(keys) == len(set(keys))


@pytest.fixture(autouse=True)
def _fixed_clock() -> None:
    # Learning stamps last_checked with the real clock; nothing here depends on it.
    assert datetime.now(UTC).year >= 2024
