"""Importing the seed's memory.json: duplicates collapse, support is recounted from the
imported episodes (aborted releases are no evidence), and learning re-checks them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import direct_count
from release_agent.agent import Agent
from release_agent.domain.models import Decision, HeuristicStatus, Provenance
from release_agent.learn.imports import import_memory
from release_agent.memory.seedformat import load_file
from release_agent.memory.store import Store
from release_agent.stats.validation import canonical_when, merge_key

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "memory.json"
pytestmark = pytest.mark.skipif(not SEED.exists(), reason="the seed's memory file is absent")


@pytest.fixture
def imported(database_url: str) -> Iterator[Store]:
    """The seed imported into a fresh database of the backend under test."""
    store = Store.open(database_url)
    import_memory(store, load_file(SEED))
    yield store
    store.close()


def _keys(store: Store) -> Counter[tuple[str, str]]:
    return Counter(
        merge_key(canonical_when(h.when), h.recommendation) for h in store.list_heuristics()
    )


def test_the_seed_heuristics_collapse_to_one_per_pattern(imported: Store) -> None:
    raw = load_file(SEED)["heuristics"]
    distinct = {merge_key(canonical_when(h["when"]), Decision(h["recommendation"])) for h in raw}
    assert len(raw) > len(distinct)  # the seed holds duplicates
    keys = _keys(imported)
    assert set(keys) == distinct
    assert max(keys.values()) == 1
    assert {h.provenance for h in imported.list_heuristics()} == {Provenance.imported}


def test_support_is_recounted_and_aborted_releases_are_no_evidence(imported: Store) -> None:
    raw = load_file(SEED)["episodes"]
    deployed = [e for e in raw if e["outcome"] != "ABORTED"]
    assert imported.count_decisions(source=None) == len(raw)
    assert imported.count_outcomes() == len(deployed)
    for h in imported.list_heuristics():
        if h.status is not HeuristicStatus.rejected:
            assert (h.support, h.failures) == direct_count(imported, h.when)
            assert h.successes == h.support - h.failures
    monday = next(
        h
        for h in imported.list_heuristics()
        if h.when == {"day_of_week": "MON", "feature_risk": "LOW", "service_criticality": "LOW"}
    )
    # The seed claimed 4 and 3 for two copies; memory shows the real count.
    assert monday.support == direct_count(imported, monday.when)[0] > 4


def test_every_friday_is_no_go_is_rejected_for_want_of_deploys(imported: Store) -> None:
    friday = [h for h in imported.list_heuristics() if h.when == {"day_of_week": "FRI"}]
    assert len(friday) == 1
    assert friday[0].status is HeuristicStatus.rejected
    assert friday[0].reason is not None and "no deployed release" in friday[0].reason
    assert direct_count(imported, {"day_of_week": "FRI"}) == (0, 0)


def test_learning_after_import_keeps_one_record_per_pattern(imported: Store) -> None:
    before = {h.id for h in imported.list_heuristics()}
    Agent(imported).learn()
    after = imported.list_heuristics()
    assert {h.id for h in after} == before
    assert max(_keys(imported).values()) == 1
    for h in after:
        if h.status is not HeuristicStatus.rejected:
            assert h.last_checked is not None
            assert (h.support, h.failures) == direct_count(imported, h.when)


def test_importing_twice_adds_nothing(imported: Store) -> None:
    before = [(h.id, h.when, h.support) for h in imported.list_heuristics()]
    import_memory(imported, load_file(SEED))
    assert [(h.id, h.when, h.support) for h in imported.list_heuristics()] == before
    assert imported.count_decisions(source=None) == len(load_file(SEED)["episodes"])
