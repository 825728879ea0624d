"""Mining from cells: exact counts, the planted pattern and nothing spurious."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import Planted, World, direct_count, generate, populate
from release_agent.domain.models import Decision
from release_agent.domain.options import HeuristicProposal, PatternStat
from release_agent.memory.store import Store
from release_agent.stats import mining

PAYMENTS_FRIDAY = {"friday_afternoon": True, "service": "payments"}


def _store(world: World, count: int, seed: int) -> Store:
    store = Store.open("sqlite://")
    populate(store, world, count, seed=seed)
    return store


def found(store: Store) -> mining.Mined:
    return mining.mine(store.outcome_cells())


# -- cells -------------------------------------------------------------------------------


def test_cells_hold_only_deploys_with_an_outcome() -> None:
    store = _store(World(), 800, seed=1)
    columns = generate(World(), 800, seed=1)
    deployed = sum(1 for r in columns["result"] if r is not None)
    failures = int(sum(f for f in columns["failed"] if f > 0))
    assert store.outcome_cells().totals == (deployed, failures)


CONDITIONS = st.dictionaries(
    st.sampled_from(["service", "feature_risk", "day_of_week", "hour_of_day", "clash", "env"]),
    st.none(),
    min_size=1,
    max_size=3,
)


def _value(draw: st.DrawFn, name: str) -> Any:
    scalars = {
        "service": st.sampled_from(["payments", "search", "unknown-service"]),
        "env": st.sampled_from(["prod", "staging"]),
        "feature_risk": st.sampled_from(["LOW", "MEDIUM", "HIGH"]),
        "day_of_week": st.sampled_from(["MON", "FRI", "SUN"]),
        "hour_of_day": st.integers(0, 23),
        "clash": st.booleans(),
    }
    kind = draw(
        st.sampled_from(
            ["scalar", "list", "range"] if name == "hour_of_day" else ["scalar", "list"]
        )
    )
    if kind == "range":
        return {"from": draw(st.integers(0, 23)), "to": draw(st.integers(0, 23))}
    if kind == "list":
        return draw(st.lists(scalars[name], min_size=1, max_size=3, unique=True))
    return draw(scalars[name])


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(CONDITIONS)
    return {name: _value(draw, name) for name in names}


@pytest.fixture(scope="module")
def small_store() -> Store:
    return _store(World(planted=(Planted(PAYMENTS_FRIDAY, 0.5),)), 1500, seed=3)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(when=conditions())
def test_cell_counts_equal_sql_and_python_counts(small_store: Store, when: dict[str, Any]) -> None:
    cells = small_store.outcome_cells()
    expected = direct_count(small_store, when)
    assert cells.count(when) == expected
    assert small_store.outcome_cells().count(when) == expected


# -- selection -----------------------------------------------------------------------------


def test_the_planted_pair_is_found_and_nothing_else() -> None:
    store = _store(World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),)), 6000, seed=11)
    mined = found(store)
    assert [s.when for s in mined.cautionary] == [PAYMENTS_FRIDAY]
    assert mined.safe == []
    stat = mined.cautionary[0]
    assert (stat.deployed, stat.failures) == direct_count(store, PAYMENTS_FRIDAY)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_no_effect_no_pattern(seed: int) -> None:
    mined = found(_store(World(), 8000, seed=seed))
    assert mined.patterns == []
    assert mined.tested > 100


def test_a_single_attribute_is_preferred_to_the_pairs_inside_it() -> None:
    # Clashes triple the failure rate everywhere: every pair (clash, x) is elevated too,
    # but the single attribute explains them all.
    mined = found(_store(World(planted=(Planted({"clash": True}, 0.15),)), 8000, seed=5))
    assert [s.when for s in mined.cautionary] == [{"clash": True}]


def test_an_hour_range_is_found_as_a_part_of_the_day() -> None:
    night = {"hour_of_day": {"from": 0, "to": 5}}
    mined = found(_store(World(planted=(Planted(night, 0.2),)), 6000, seed=8))
    assert [s.when for s in mined.cautionary] == [night]


def test_two_independent_effects_are_both_found() -> None:
    world = World(
        planted=(
            Planted({"service": "search", "feature_risk": "HIGH"}, 0.35),
            Planted({"day_of_week": "MON"}, 0.15),
        )
    )
    mined = found(_store(world, 12000, seed=9))
    assert sorted(map(str, (s.when for s in mined.cautionary))) == sorted(
        map(str, [{"day_of_week": "MON"}, {"feature_risk": "HIGH", "service": "search"}])
    )


def test_a_safe_service_is_a_go_pattern_and_its_complement_is_not() -> None:
    world = World(base_rate=0.08, planted=(Planted({"service": "catalog"}, 0.005),))
    mined = found(_store(world, 8000, seed=13))
    assert [s.when for s in mined.safe] == [{"service": "catalog"}]
    assert mined.cautionary == []


def test_known_heuristics_explain_their_deploys() -> None:
    store = _store(World(planted=(Planted(PAYMENTS_FRIDAY, 0.4),)), 6000, seed=11)
    cells = store.outcome_cells()
    mined = mining.mine(cells, cautionary_known=[PAYMENTS_FRIDAY])
    assert mined.cautionary == []
    assert mined.baseline.ordinary_deployed == cells.totals[0] - cells.count(PAYMENTS_FRIDAY)[0]


def test_empty_memory_mines_nothing() -> None:
    mined = found(Store.open("sqlite://"))
    assert (mined.patterns, mined.baseline.deployed) == ([], 0)


# -- proposals -----------------------------------------------------------------------------


def _propose(
    *patterns: PatternStat, deployed: int = 1000, failures: int = 50
) -> list[HeuristicProposal]:
    return mining.propose(deployed, failures, patterns)


def test_proposals_delay_for_timing_no_go_for_the_change_and_go_for_safe() -> None:
    proposals = _propose(
        PatternStat({"day_of_week": "FRI"}, 100, 30),
        PatternStat({"service": "payments"}, 100, 30),
        PatternStat({"service": "catalog"}, 300, 1),
    )
    by_when = {str(p.when): p for p in proposals}
    assert by_when[str({"day_of_week": "FRI"})].recommendation is Decision.DELAY
    assert by_when[str({"service": "payments"})].recommendation is Decision.NO_GO
    assert by_when[str({"service": "catalog"})].recommendation is Decision.GO
    assert all(0.99 <= p.confidence <= 0.999 for p in proposals)
    assert by_when[str({"service": "payments"})].supporting_episodes == 100


def test_no_proposal_from_a_small_or_ordinary_pattern() -> None:
    assert _propose(PatternStat({"service": "a"}, 4, 4)) == []
    assert _propose(PatternStat({"service": "a"}, 200, 12)) == []
    assert _propose(PatternStat({"service": "a"}, 10, 3), deployed=3) == []
