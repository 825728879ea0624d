"""The seed's memory format: both forms import, export round-trips, bad files change nothing.

The files are the project's own, in ``tests/data`` (see ``tests/data/make_memory.py``)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from release_agent.agent import Agent
from release_agent.domain.errors import ImportFormatError
from release_agent.domain.models import Decision, HeuristicStatus, Result
from release_agent.domain.scenarios import SCENARIOS
from release_agent.learn.imports import import_memory
from release_agent.memory import schema
from release_agent.memory.seedformat import export_memory, load_file, parse
from release_agent.memory.store import Store

DATA = Path(__file__).resolve().parent / "data"
MEMORY = DATA / "memory.json"
MEMORY_OLD = DATA / "memory-old.json"
EPISODES = 19
"""Episodes in MEMORY: 5 aborted, 14 deployed (1 of them failed)."""

LOW_WED_LOW = {"day_of_week": "WED", "feature_risk": "LOW", "service_criticality": "LOW"}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A fresh database of the backend under test (RELEASE_AGENT_TEST_DB)."""
    opened = Store.open(database_url)
    yield opened
    opened.close()


@pytest.fixture
def seed() -> dict[str, Any]:
    """MEMORY as a document (a fresh copy for each test)."""
    document: dict[str, Any] = json.loads(MEMORY.read_text(encoding="utf-8"))
    return document


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that an import may write."""
    with store.engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(sa.select(table).order_by(table.c.id))]
            for table in (schema.episodes, schema.heuristics)
        }


def episode_key(episode: dict[str, Any]) -> tuple[Any, ...]:
    return (
        episode["release_id"],
        json.dumps(episode["context"], sort_keys=True),
        episode["decision"],
        episode["outcome"],
    )


# -- the files in the seed's format ------------------------------------------------------


def test_the_memory_file_imports_all_its_episodes(store: Store) -> None:
    report = import_memory(store, load_file(MEMORY))

    assert report.episodes_added == EPISODES
    assert report.episodes_skipped == 0
    assert store.count_decisions(source=None) == EPISODES
    rows = store.list_episodes(limit=0)
    assert {row.source for row in rows} == {"imported"}
    assert store.list_decisions(limit=0) == []  # imported episodes are not agent decisions


def test_aborted_episodes_have_no_outcome(store: Store, seed: dict[str, Any]) -> None:
    import_memory(store, seed)
    rows = list(reversed(store.list_episodes(limit=0)))  # file order

    assert len(rows) == len(seed["episodes"])
    for raw, row in zip(seed["episodes"], rows, strict=True):
        if raw["outcome"] == "ABORTED":
            assert row.result is None
            assert row.decision is Decision.NO_GO  # the seed's ABORT
        else:
            expected = Result.success if raw["outcome"] == "SUCCESS" else Result.incident
            assert row.result == expected.value
            assert row.decision is Decision.GO
        assert row.attributes["feature_risk"] == raw["context"]["feature_risk"]
        assert row.attributes["day_of_week"] == raw["context"]["day_of_week"]
    assert sum(1 for row in rows if row.result is None) == 5
    assert sum(1 for row in rows if row.result == Result.incident.value) == 1
    assert store.count_outcomes() == 14


def test_derived_flags_come_from_the_day(store: Store, seed: dict[str, Any]) -> None:
    import_memory(store, seed)

    for row in store.list_episodes(limit=0):
        assert row.attributes["weekend"] is (row.attributes["day_of_week"] in ("SAT", "SUN"))
        assert "hour_of_day" not in row.attributes  # the seed does not say; nothing is invented


def test_duplicate_heuristics_collapse_with_recounted_support(store: Store) -> None:
    import_memory(store, load_file(MEMORY))

    matching = [h for h in store.list_heuristics() if h.when == LOW_WED_LOW]

    assert len(matching) == 1
    (heuristic,) = matching
    assert heuristic.recommendation is Decision.GO
    assert heuristic.status is HeuristicStatus.active
    assert heuristic.support == 9  # the deployed LOW/WED/LOW episodes, not the claim of 5
    assert (heuristic.successes, heuristic.failures) == (9, 0)
    assert heuristic in store.active_heuristics()


def test_no_go_heuristics_for_a_day_never_deployed_are_stored_rejected_with_a_reason(
    store: Store,
) -> None:
    report = import_memory(store, load_file(MEMORY))

    saturday = [h for h in store.list_heuristics() if h.when.get("day_of_week") == "SAT"]

    assert saturday, "the SAT -> NO_GO heuristics are kept, as rejected"
    assert {h.recommendation for h in saturday} == {Decision.NO_GO}
    for heuristic in saturday:
        assert heuristic.status is HeuristicStatus.rejected
        assert heuristic.reason and "no deployed release" in heuristic.reason
    # each condition is kept once, however often the file repeats it
    keys = [json.dumps(h.when, sort_keys=True) for h in saturday]
    assert len(keys) == len(set(keys)) == 2
    # the report names the rejected entry of the file (the first SAT one or its duplicate)
    assert any(
        entry.startswith(("heuristics[0]", "heuristics[2]")) for entry in report.heuristics_rejected
    )
    assert not any(h.when.get("day_of_week") == "SAT" for h in store.active_heuristics())


def test_a_go_claim_the_failures_contradict_is_rejected_with_the_counts(store: Store) -> None:
    import_memory(store, load_file(MEMORY))

    (tuesday,) = [h for h in store.list_heuristics() if h.when.get("day_of_week") == "TUE"]

    assert tuesday.status is HeuristicStatus.rejected
    assert tuesday.reason is not None
    assert "1 of 2 matching deploys failed (50.0%)" in tuesday.reason
    # the base rate as the documented formula gives it: (1 + 1) / (14 + 2)
    assert "12.5%" in tuesday.reason and "(1 + 1)/(14 + 2)" in tuesday.reason


def test_every_stored_heuristic_is_valid_and_unique(store: Store) -> None:
    import_memory(store, load_file(MEMORY))
    heuristics = store.list_heuristics()

    keys = [(json.dumps(h.when, sort_keys=True), h.recommendation) for h in heuristics]
    assert len(keys) == len(set(keys))
    for heuristic in heuristics:
        assert 0.0 <= heuristic.confidence <= 1.0
        if heuristic.status is HeuristicStatus.active:
            assert heuristic.support >= 1
            assert heuristic.support >= 3 or heuristic.confidence <= 0.6


def test_the_older_seed_file_imports(store: Store) -> None:
    report = import_memory(store, load_file(MEMORY_OLD))

    assert report.episodes_added == 1
    assert report.heuristics_added == 0
    (row,) = store.list_episodes(limit=0)
    a = row.attributes
    assert (a["feature_risk"], a["day_of_week"], a["service_criticality"]) == (
        "MEDIUM",
        "MON",
        "LOW",
    )
    assert (row.decision, row.result) == (Decision.GO, "success")
    assert row.created_at.isoformat() == "2026-02-16T06:30:00+00:00"  # Z is UTC


def test_the_bare_list_form_imports(store: Store, seed: dict[str, Any]) -> None:
    report = import_memory(store, seed["episodes"])

    assert report.episodes_added == EPISODES
    assert report.heuristics_added == 0
    assert store.list_heuristics() == []


def test_the_bare_list_and_the_object_form_are_the_same_episodes(
    store: Store, seed: dict[str, Any]
) -> None:
    import_memory(store, seed["episodes"])

    report = import_memory(store, seed)

    assert report.episodes_added == 0
    assert report.episodes_skipped == EPISODES


def test_importing_twice_adds_nothing(store: Store) -> None:
    import_memory(store, load_file(MEMORY))
    before = snapshot(store)
    heuristics_before = [
        (h.id, h.when, h.recommendation, h.confidence, h.support, h.status)
        for h in store.list_heuristics()
    ]

    again = import_memory(store, load_file(MEMORY))

    assert again.episodes_added == 0
    assert again.episodes_skipped == EPISODES
    assert again.heuristics_added == 0
    assert snapshot(store)["episodes"] == before["episodes"]
    assert len(snapshot(store)["heuristics"]) == len(before["heuristics"])
    assert [
        (h.id, h.when, h.recommendation, h.confidence, h.support, h.status)
        for h in store.list_heuristics()
    ] == heuristics_before


def test_identical_episodes_in_one_file_are_all_kept(store: Store) -> None:
    episode = {
        "context": {"feature_risk": "LOW"},
        "decision": "GO",
        "outcome": "SUCCESS",
        "timestamp": "2026-01-12T01:45:00+00:00",
    }

    first = import_memory(store, [episode, dict(episode), dict(episode)])
    second = import_memory(store, [episode, dict(episode), dict(episode)])

    assert (first.episodes_added, second.episodes_added) == (3, 0)
    assert store.count_decisions(source=None) == 3


def test_extra_context_keys_import(store: Store) -> None:
    episode = {
        "context": {
            "service": "payments",
            "env": "PROD",
            "feature_risk": "high",
            "service_criticality": "HIGH",
            "day_of_week": "fri",
            "hour_of_day": 16,
            "clash": "PAYMENTS-SERVICE",
        },
        "decision": "no-go",
        "outcome": "failure",
        "timestamp": "2026-01-16T16:00:00",
        "release_id": "rel-42",
    }

    import_memory(store, [episode])
    (row,) = store.list_episodes()

    assert row.release_id == "rel-42"
    a = row.attributes
    assert (a["service"], a["env"], a["feature_risk"], a["day_of_week"]) == (
        "payments",
        "prod",
        "HIGH",
        "FRI",
    )
    assert (a["hour_of_day"], a["clash"]) == (16, True)
    assert (a["friday_afternoon"], a["weekend"], a["out_of_hours"]) == (True, False, False)
    assert (row.decision, row.result) == (Decision.NO_GO, "incident")
    assert row.created_at.isoformat() == "2026-01-16T16:00:00+00:00"  # no offset: read as UTC


# -- export and import ----------------------------------------------------------------------


def test_export_then_import_gives_the_same_episodes(
    store: Store, fresh_database: Callable[[], str]
) -> None:
    import_memory(store, load_file(MEMORY))
    agent = Agent(store)
    records = [agent.decide(scenario.request) for scenario in SCENARIOS]
    agent.record_outcome(records[0].release_id, Result.degraded, "slow")
    agent.record_outcome(records[1].release_id, Result.success)
    exported = json.loads(json.dumps(export_memory(store)))

    fresh = Store.open(fresh_database())
    report = import_memory(fresh, exported)
    again = json.loads(json.dumps(export_memory(fresh)))

    assert report.episodes_added == EPISODES + len(SCENARIOS)
    assert [episode_key(e) for e in again["episodes"]] == [
        episode_key(e) for e in exported["episodes"]
    ]
    assert {e["release_id"] for e in exported["episodes"]} >= {r.release_id for r in records}
    assert [e["timestamp"] for e in again["episodes"]] == [
        e["timestamp"] for e in exported["episodes"]
    ]
    degraded = next(e for e in again["episodes"] if e["release_id"] == records[0].release_id)
    assert (degraded["outcome"], degraded["outcome_notes"]) == ("degraded", "slow")
    fresh.close()


def test_an_export_imported_into_its_own_store_adds_nothing(store: Store) -> None:
    import_memory(store, load_file(MEMORY))
    Agent(store).decide(SCENARIOS[0].request)
    before = snapshot(store)["episodes"]

    report = import_memory(store, export_memory(store))

    assert report.episodes_added == 0
    assert snapshot(store)["episodes"] == before


def test_the_export_holds_no_rejected_heuristics(store: Store) -> None:
    import_memory(store, load_file(MEMORY))

    exported = export_memory(store)

    assert exported["heuristics"]
    assert all(h["status"] != "rejected" for h in exported["heuristics"])
    assert LOW_WED_LOW in [h["when"] for h in exported["heuristics"]]


def test_a_retired_heuristic_stays_retired_through_export_and_import(
    store: Store, fresh_database: Callable[[], str]
) -> None:
    import_memory(store, load_file(MEMORY))
    (heuristic,) = [h for h in store.list_heuristics() if h.when == LOW_WED_LOW]
    store.update_heuristic(heuristic.model_copy(update={"status": HeuristicStatus.retired}))

    fresh = Store.open(fresh_database())
    import_memory(fresh, export_memory(store))

    (copied,) = [h for h in fresh.list_heuristics() if h.when == LOW_WED_LOW]
    assert copied.status is HeuristicStatus.retired
    assert copied not in fresh.active_heuristics()


# -- malformed files ------------------------------------------------------------------------


@pytest.fixture
def populated(store: Store, seed: dict[str, Any]) -> Store:
    """A store with MEMORY imported and one agent decision with an outcome."""
    import_memory(store, seed)
    agent = Agent(store)
    record = agent.decide(SCENARIOS[1].request)
    agent.record_outcome(record.release_id, Result.success)
    return store


def mutated(seed: dict[str, Any], change: Any) -> dict[str, Any]:
    data = copy.deepcopy(seed)
    change(data)
    return data


def with_new_episodes(seed: dict[str, Any]) -> dict[str, Any]:
    """The document with every episode's timestamp moved, so that each would be new."""
    data = copy.deepcopy(seed)
    for i, episode in enumerate(data["episodes"]):
        episode["timestamp"] = f"2026-02-01T00:{i:02d}:00+00:00"
    return data


MALFORMED: dict[str, tuple[Any, str]] = {
    "unknown decision": (
        lambda d: d["episodes"][3].__setitem__("decision", "MAYBE"),
        "episodes[3].decision",
    ),
    "unknown decision in the last episode": (
        lambda d: d["episodes"][-1].__setitem__("decision", "MAYBE"),
        f"episodes[{EPISODES - 1}].decision",
    ),
    "unknown context key": (
        lambda d: d["episodes"][2]["context"].__setitem__("moon_phase", "full"),
        "episodes[2].context.moon_phase",
    ),
    "unknown context value": (
        lambda d: d["episodes"][0]["context"].__setitem__("feature_risk", "EXTREME"),
        "episodes[0].context.feature_risk",
    ),
    "missing timestamp": (lambda d: d["episodes"][5].pop("timestamp"), "episodes[5].timestamp"),
    "bad timestamp": (
        lambda d: d["episodes"][5].__setitem__("timestamp", "last tuesday"),
        "episodes[5].timestamp",
    ),
    "missing context": (lambda d: d["episodes"][4].pop("context"), "episodes[4].context"),
    "unknown outcome": (
        lambda d: d["episodes"][7].__setitem__("outcome", "KABOOM"),
        "episodes[7].outcome",
    ),
    "episode not an object": (lambda d: d["episodes"].__setitem__(1, "GO"), "episodes[1]"),
    "unknown top-level key": (lambda d: d.__setitem__("extras", []), "extras"),
    "episodes not a list": (lambda d: d.__setitem__("episodes", {}), "episodes"),
    "heuristic with an unknown attribute": (
        lambda d: d["heuristics"][-1]["when"].__setitem__("moon_phase", "full"),
        "heuristics[9].when.moon_phase",
    ),
    "heuristic without a recommendation": (
        lambda d: d["heuristics"][2].pop("recommendation"),
        "heuristics[2].recommendation",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_file_names_the_path_and_changes_nothing(
    populated: Store, seed: dict[str, Any], case: str
) -> None:
    change, path = MALFORMED[case]
    data = mutated(with_new_episodes(seed), change)
    before = snapshot(populated)

    with pytest.raises(ImportFormatError) as caught:
        import_memory(populated, data)

    assert caught.value.field == path
    assert str(caught.value).startswith(path)
    assert snapshot(populated) == before


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("confidence", 2, "heuristics[1].confidence"),
        ("recommendation", "MAYBE", "heuristics[1].recommendation"),
    ],
)
def test_a_heuristic_out_of_range_is_refused_and_changes_nothing(
    populated: Store, seed: dict[str, Any], field: str, value: Any, path: str
) -> None:
    data = mutated(seed, lambda d: d["heuristics"][1].__setitem__(field, value))
    before = snapshot(populated)

    with pytest.raises(ImportFormatError) as caught:
        import_memory(populated, data)

    assert caught.value.field == path
    assert snapshot(populated) == before


def test_a_repeated_release_id_in_one_file_is_a_format_error(store: Store) -> None:
    episode = {
        "release_id": "rel-1",
        "context": {"feature_risk": "LOW"},
        "decision": "GO",
        "outcome": "SUCCESS",
        "timestamp": "2026-01-12T01:45:00Z",
    }

    with pytest.raises(ImportFormatError) as caught:
        import_memory(store, [episode, {**episode, "timestamp": "2026-01-13T01:45:00Z"}])

    assert caught.value.field == "episodes[1].release_id"
    assert store.count_decisions(source=None) == 0


def test_a_document_that_is_neither_object_nor_list_is_refused(store: Store) -> None:
    with pytest.raises(ImportFormatError) as caught:
        import_memory(store, "episodes")

    assert caught.value.field == "$"


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"episodes": [', 1, 15),
        ('{\n  "episodes": [\n    {"decision": "GO",}\n  ]\n}', 3, 23),
        ('{"episodes": []}\n,\n', 2, 1),
    ],
)
def test_invalid_json_says_the_line_and_column(
    store: Store, tmp_path: Path, text: str, line: int, column: int
) -> None:
    path = tmp_path / "memory.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ImportFormatError) as caught:
        load_file(path)

    assert f"line {line}, column {column}" in str(caught.value)
    assert caught.value.field == str(path)
    assert store.count_decisions(source=None) == 0


def test_a_missing_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError) as caught:
        load_file(tmp_path / "nowhere.json")

    assert caught.value.field == "file"


def test_a_file_that_is_not_utf8_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "memory.json"
    path.write_bytes(b'{"episodes": ["\xff\xfe"]}')

    with pytest.raises(ImportFormatError) as caught:
        load_file(path)

    assert caught.value.field == "file"


def test_parse_checks_without_writing(seed: dict[str, Any]) -> None:
    episodes, heuristics = parse(seed)

    assert len(episodes) == EPISODES
    assert len(heuristics) == 10
    assert len({row["release_id"] for row in episodes}) == EPISODES
    assert all(row["release_id"].startswith("imported-") for row in episodes)
