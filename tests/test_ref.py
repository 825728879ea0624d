"""Idempotent refs and id prefixes: asking again with a ref answers the stored decision
(unless it is a re-ask at a DELAY's window, which supersedes it), on the library, the
command line and the API; a unique prefix of a release id names its decision, an
ambiguous one names none and says how many it starts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from click.testing import Result as CliResult
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_support import client_of, only_problem
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.domain.errors import Conflict, InvalidInput, NotFound
from release_agent.domain.models import DecisionRecord, Level, ReleaseRequest, Result, parse_request
from release_agent.memory import schema
from release_agent.memory.refs import AmbiguousId, RefTaken
from release_agent.memory.store import Store

TUESDAY = "2026-11-24T10:00:00+01:00"


def ask(service: str = "search", **fields: object) -> ReleaseRequest:
    data: dict[str, object] = {
        "service": service,
        "env": "prod",
        "feature_risk": "LOW",
        "service_criticality": "MEDIUM",
        "at": TUESDAY,
    }
    data.update(fields)
    return parse_request(data)


@pytest.fixture
def agent(store: Store) -> Agent:
    return Agent(store)


def copy_as(store: Store, record: DecisionRecord, release_id: str) -> None:
    """Store ``record`` again under another id (to make ids that share a prefix)."""
    twin = record.model_copy(
        update={
            "release_id": release_id,
            "request": record.request.model_copy(update={"ref": None}),
        }
    )
    store.save_decision(twin, twin.context)


# -- the library ----------------------------------------------------------------------


def test_a_ref_decided_already_answers_the_stored_decision(agent: Agent, store: Store) -> None:
    first = agent.answer(ask(ref="3f9c2e1:prod"))
    # A re-run CI job asks again a minute later: same release, same ref.
    again = agent.answer(ask(ref="3f9c2e1:prod", at="2026-11-24T10:01:00+01:00"))

    assert not first.replayed and again.replayed
    assert again.record.release_id == first.record.release_id
    assert again.record.request.at == first.record.request.at  # unchanged: the stored one
    assert store.count_decisions() == 1
    assert store.decision_by_ref("3f9c2e1:prod") == first.record
    assert store.decision_by_ref("never-asked") is None


def test_a_reask_at_a_delay_window_supersedes_the_old_decision(agent: Agent, store: Store) -> None:
    old = agent.decide(ask(ref="abc:prod"))
    same = agent.decide(ask(ref="abc:prod", delays=0))
    new = agent.decide(ask(ref="abc:prod", delays=1, at="2026-11-24T12:00:00+01:00"))
    back = agent.answer(ask(ref="abc:prod", delays=1))

    assert same.release_id == old.release_id
    assert new.release_id != old.release_id
    assert back.replayed and back.record.release_id == new.release_id
    assert store.get_decision(old.release_id).superseded_by == new.release_id
    assert store.get_decision(new.release_id).superseded_by is None
    assert store.decision_by_ref("abc:prod") == new
    listed = [r.release_id for r in store.list_decisions(ref="abc:prod")]
    assert listed == [new.release_id, old.release_id]
    # a lower count than the live decision's is still the same release: the stored one
    assert agent.answer(ask(ref="abc:prod", delays=0)).record.release_id == new.release_id


def test_a_ref_names_one_release_another_service_is_refused(agent: Agent, store: Store) -> None:
    agent.decide(ask(ref="shared"))

    with pytest.raises(Conflict) as caught:
        agent.decide(ask("catalog", ref="shared"))

    assert caught.value.field == "ref" and "search" in str(caught.value)
    assert store.count_decisions() == 1


@pytest.mark.parametrize("ref", ["", "has space", "x" * 201, "tab\there", "é-accent", "nl\n"])
def test_a_malformed_ref_is_refused_naming_the_field(ref: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ask(ref=ref)
    assert caught.value.field == "ref"


def test_a_ref_taken_in_between_writes_nothing_and_names_the_winner(
    agent: Agent, store: Store
) -> None:
    winner = agent.decide(ask(ref="race"))
    # A second process decided without seeing the winner: it supersedes nothing.
    loser = winner.model_copy(update={"release_id": "loser-0000-0000"})

    with pytest.raises(RefTaken) as caught:
        store.save_decision(loser, loser.context, supersedes=None)

    assert caught.value.release_id == winner.release_id
    assert store.count_decisions() == 1


def test_the_database_keeps_one_live_decision_per_ref(agent: Agent, store: Store) -> None:
    """What stops two PostgreSQL transactions that both saw no decision of the ref."""
    record = agent.decide(ask(ref="one-live"))
    with store.engine.connect() as conn:
        row = dict(conn.execute(sa.select(schema.episodes)).mappings().one())
    row.pop("id")
    row["release_id"] = "duplicate-live"
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(schema.episodes.insert().values(**row))
    row["superseded_by"] = record.release_id  # a superseded one may share it
    with store.engine.begin() as conn:
        conn.execute(schema.episodes.insert().values(**row))


# -- prefixes ---------------------------------------------------------------------------


def test_a_unique_prefix_names_its_decision(agent: Agent, store: Store) -> None:
    record = agent.decide(ask())

    assert store.get_decision(record.release_id[:6]) == record
    assert store.resolve_id(record.release_id[:10]) == record.release_id
    assert agent.get(record.release_id) == record
    with pytest.raises(NotFound) as short:
        store.get_decision(record.release_id[:5])
    assert "at least 6" in str(short.value)
    with pytest.raises(NotFound):
        store.get_decision("zzzzzzzz")


def test_an_ambiguous_prefix_names_none_and_says_how_many(agent: Agent, store: Store) -> None:
    record = agent.decide(ask())
    copy_as(store, record, "abcdef01-aaaa")
    copy_as(store, record, "abcdef02-bbbb")
    copy_as(store, record, "ABCDEF03-cccc")  # another case: not a match

    with pytest.raises(AmbiguousId) as caught:
        store.get_decision("abcdef")

    assert "2 decisions" in str(caught.value)
    assert "abcdef01-aaaa" in str(caught.value) and "abcdef02-bbbb" in str(caught.value)
    assert isinstance(caught.value, NotFound)
    assert store.get_decision("abcdef02").release_id == "abcdef02-bbbb"
    # a prefix with LIKE's wildcards matches them literally
    with pytest.raises(NotFound):
        store.get_decision("abcde_")


def test_outcome_and_history_accept_a_prefix(agent: Agent, store: Store) -> None:
    record = agent.decide(ask())
    agent.record_outcome(record.release_id[:8], Result.success)
    assert store.get_decision(record.release_id).outcome is not None


# -- the command line -------------------------------------------------------------------


def invoke(*args: str, db: str) -> CliResult:
    return CliRunner().invoke(main, [*args, "--db", db], catch_exceptions=False)


DECIDE = ["decide", "--service", "search", "--risk", "LOW", "--criticality", "MEDIUM"]
NO_GO = ["decide", "--service", "payments", "--risk", "HIGH", "--criticality", "HIGH"]


def test_cli_decide_with_a_ref_twice_prints_the_stored_decision(database_url: str) -> None:
    first = invoke(
        *NO_GO, "--at", "2026-11-27T16:00:00+01:00", "--ref", "sha1:prod", "--json", db=database_url
    )
    again = invoke(*NO_GO, "--ref", "sha1:prod", "--json", db=database_url)

    assert first.exit_code == again.exit_code == 4
    assert json.loads(first.stdout)["release_id"] == json.loads(again.stdout)["release_id"]
    assert "decided already" in again.stderr
    assert Store.open(database_url).count_decisions() == 1


def test_cli_show_takes_a_prefix_and_refuses_an_ambiguous_one(
    database_url: str, tmp_path: Path
) -> None:
    done = invoke(*DECIDE, "--at", TUESDAY, "--json", db=database_url)
    release_id = json.loads(done.stdout)["release_id"]
    store = Store.open(database_url)
    record = store.get_decision(release_id)
    copy_as(store, record, "feedbe01")
    copy_as(store, record, "feedbe02")

    shown = invoke("show", release_id[:6], "--json", db=database_url)
    ambiguous = invoke("show", "feedbe", db=database_url)
    ambiguous_json = invoke("show", "feedbe", "--json", db=database_url)

    assert shown.exit_code == 0 and json.loads(shown.stdout)["release_id"] == release_id
    assert ambiguous.exit_code == 2
    assert "ambiguous: 2 decisions" in ambiguous.stderr
    assert json.loads(ambiguous_json.stdout)["detail"][0]["field"] == "release_id"


def test_cli_refuses_a_bad_ref_and_writes_nothing(database_url: str) -> None:
    result = invoke(*DECIDE, "--at", TUESDAY, "--ref", "two words", db=database_url)

    assert result.exit_code == 2 and "ref" in result.stderr
    assert Store.open(database_url).count_decisions() == 0


# -- the API ------------------------------------------------------------------------------


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with client_of(create_app(db_url=database_url)) as test_client:
        yield test_client


def body(**fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "service": "search",
        "feature_risk": "LOW",
        "service_criticality": "MEDIUM",
        "at": TUESDAY,
    }
    data.update(fields)
    return data


def test_api_answers_201_then_200_with_the_stored_record(client: TestClient) -> None:
    first = client.post("/api/v1/decisions", json=body(ref="c0ffee:prod"))
    again = client.post("/api/v1/decisions", json=body(ref="c0ffee:prod", at=None))
    later = client.post("/api/v1/decisions", json=body(ref="c0ffee:prod", delays=1))

    assert (first.status_code, again.status_code, later.status_code) == (201, 200, 201)
    assert again.json() == first.json()
    assert again.headers["location"].endswith(first.json()["release_id"])
    listed = client.get("/api/v1/decisions", params={"ref": "c0ffee:prod"}).json()["items"]
    assert [r["release_id"] for r in listed] == [
        later.json()["release_id"],
        first.json()["release_id"],
    ]
    assert listed[1]["superseded_by"] == later.json()["release_id"]
    assert client.get("/api/v1/decisions", params={"ref": "other"}).json()["items"] == []


def test_api_refuses_a_bad_ref_and_a_ref_of_another_release(client: TestClient) -> None:
    assert (
        only_problem(client.post("/api/v1/decisions", json=body(ref="a b")), 422)["field"] == "ref"
    )
    client.post("/api/v1/decisions", json=body(ref="mine"))
    problem = only_problem(
        client.post("/api/v1/decisions", json=body(service="catalog", ref="mine")), 409
    )
    assert problem["field"] == "ref"


def test_api_get_takes_a_prefix_and_an_ambiguous_one_is_404(client: TestClient) -> None:
    created = client.post("/api/v1/decisions", json=body()).json()
    store: Store = client.app.state.agent.store  # type: ignore[attr-defined]
    record = store.get_decision(created["release_id"])
    copy_as(store, record, "0ddba11-1")
    copy_as(store, record, "0ddba11-2")

    assert client.get(f"/api/v1/decisions/{created['release_id'][:7]}").json() == created
    problem = only_problem(client.get("/api/v1/decisions/0ddba11"), 404)
    assert "2 decisions" in problem["message"]
    assert only_problem(client.get("/api/v1/decisions/0ddb"), 404)["field"] == "release_id"


def test_request_fields_have_their_defaults() -> None:
    request = ReleaseRequest(
        service="s",
        feature_risk=Level.LOW,
        service_criticality=Level.LOW,
        at=datetime.fromisoformat(TUESDAY),
    )
    assert request.ref is None and request.shadow is False


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=8))
def test_one_live_decision_per_ref_whatever_the_asks(
    fresh_database: Callable[[], str], asks: list[int]
) -> None:
    """A new decision exactly when an ask's delays exceed the live one's; every other
    ask answers the live decision; one decision of the ref is live, the newest."""
    store = Store.open(fresh_database())
    agent = Agent(store)
    highest, made = -1, 0
    for delays in asks:
        answer = agent.answer(ask(ref="prop", delays=delays))
        fresh = delays > highest
        assert answer.replayed is not fresh
        if fresh:
            highest, made = delays, made + 1
        assert answer.record.request.delays == highest
    stored = store.list_decisions(ref="prop", limit=0)
    assert len(stored) == made
    assert [r.superseded_by is None for r in stored] == [True] + [False] * (made - 1)
    assert store.decision_by_ref("prop") == stored[0]
    store.close()
