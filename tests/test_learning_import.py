"""Importing a memory file in the seed's format (``tests/data/memory.json``): duplicates
collapse, support is recounted from the imported episodes (aborted releases are no
evidence), and learning re-checks them."""

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

MEMORY = Path(__file__).resolve().parent / "data" / "memory.json"


@pytest.fixture
def imported(database_url: str) -> Iterator[Store]:
    """The memory file imported into a fresh database of the backend under test."""
    store = Store.open(database_url)
    import_memory(store, load_file(MEMORY))
    yield store
    store.close()


def _keys(store: Store) -> Counter[tuple[str, str]]:
    return Counter(
        merge_key(canonical_when(h.when), h.recommendation) for h in store.list_heuristics()
    )


def test_the_seed_heuristics_collapse_to_one_per_pattern(imported: Store) -> None:
    raw = load_file(MEMORY)["heuristics"]
    distinct = {merge_key(canonical_when(h["when"]), Decision(h["recommendation"])) for h in raw}
    assert len(raw) > len(distinct)  # the file holds duplicates
    keys = _keys(imported)
    assert set(keys) == distinct
    assert max(keys.values()) == 1
    assert {h.provenance for h in imported.list_heuristics()} == {Provenance.imported}


def test_support_is_recounted_and_aborted_releases_are_no_evidence(imported: Store) -> None:
    raw = load_file(MEMORY)["episodes"]
    deployed = [e for e in raw if e["outcome"] != "ABORTED"]
    assert imported.count_decisions(source=None) == len(raw)
    assert imported.count_outcomes() == len(deployed)
    for h in imported.list_heuristics():
        if h.status is not HeuristicStatus.rejected:
            assert (h.support, h.failures) == direct_count(imported, h.when)
            assert h.successes == h.support - h.failures
    wednesday = next(
        h
        for h in imported.list_heuristics()
        if h.when == {"day_of_week": "WED", "feature_risk": "LOW", "service_criticality": "LOW"}
    )
    # The file claims 5 and 3 for two copies; memory shows the real count.
    assert wednesday.support == direct_count(imported, wednesday.when)[0] > 5


def test_every_saturday_is_no_go_is_rejected_for_want_of_deploys(imported: Store) -> None:
    saturday = [h for h in imported.list_heuristics() if h.when == {"day_of_week": "SAT"}]
    assert len(saturday) == 1
    assert saturday[0].status is HeuristicStatus.rejected
    assert saturday[0].reason is not None and "no deployed release" in saturday[0].reason
    assert direct_count(imported, {"day_of_week": "SAT"}) == (0, 0)


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
    import_memory(imported, load_file(MEMORY))
    assert [(h.id, h.when, h.support) for h in imported.list_heuristics()] == before
    assert imported.count_decisions(source=None) == len(load_file(MEMORY)["episodes"])
