"""Teams: a request names its team (default ``default``), stored in its own column and
listed by it; a database from before teams gives its history to the default team; each
team decides under its ``[teams.NAME]`` section of the policy; the risk model pools the
teams' evidence, a new team starting from the organisation's.

Store tests run on the database RELEASE_AGENT_TEST_DB chooses (SQLite by default)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api_support import body, client_of, only_problem
from factories import World, populate
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Decision, Level, ReleaseRequest, Result
from release_agent.domain.policy import parse_policy
from release_agent.memory import cells, schema
from release_agent.memory.store import Store
from release_agent.stats.cells import Cell
from release_agent.stats.priors import GROUPS, Priors
from release_agent.stats.risk_model import RiskModel, _features
from test_cell_counts import grouped, kept

TUESDAY = datetime.fromisoformat("2026-11-24T10:00:00+01:00")


def request(team: str | None = None, **fields: Any) -> ReleaseRequest:
    data: dict[str, Any] = {
        "service": "search",
        "feature_risk": Level.LOW,
        "service_criticality": Level.LOW,
        "at": TUESDAY,
        **fields,
    }
    if team is not None:
        data["team"] = team
    return ReleaseRequest(**data)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with client_of(create_app(db_url=database_url)) as opened:
        yield opened


# -- the team of a request -------------------------------------------------------------


def test_a_request_that_names_no_team_is_the_default_teams(store: Store) -> None:
    record = Agent(store).decide(request())

    assert record.request.team == "default"
    with store.reading() as conn:
        assert conn.execute(sa.select(schema.episodes.c.team)).scalar_one() == "default"


@pytest.mark.parametrize("name", ["", " ", "-payments", "pay|ments", "a" * 101, "x=y", "a,b"])
def test_a_team_name_follows_the_rules_of_a_service_name(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        request(team=name)

    assert caught.value.errors()[0]["loc"] == ("team",)


def test_the_api_stores_each_requests_team_and_lists_by_team(client: TestClient) -> None:
    made: dict[str, list[str]] = {"payments": [], "search-team": [], "default": []}
    for i, team in enumerate(["payments", "search-team", "payments", "default", "payments"]):
        fields = {"team": team} if team != "default" else {}
        answer = client.post("/api/v1/decisions", json=body(service=f"svc{i}", **fields))
        assert answer.status_code == 201, answer.text
        assert answer.json()["request"]["team"] == team
        made[team].append(answer.json()["release_id"])

    for team, ids in made.items():
        listed = client.get("/api/v1/decisions", params={"team": team}).json()["items"]
        assert [item["release_id"] for item in listed] == ids[::-1]
        episodes = client.get("/api/v1/episodes", params={"team": team}).json()["items"]
        assert [e["release_id"] for e in episodes] == ids[::-1]
    paged = client.get("/api/v1/decisions", params={"team": "payments", "limit": 2}).json()
    assert len(paged["items"]) == 2 and paged["next"] == made["payments"][1]
    assert client.get("/api/v1/decisions", params={"team": "nobody"}).json()["items"] == []
    assert len(client.get("/api/v1/decisions").json()["items"]) == 5


def test_metrics_count_decisions_and_outcomes_by_team(client: TestClient) -> None:
    made = client.post("/api/v1/decisions", json=body(team="payments")).json()
    client.post(f"/api/v1/decisions/{made['release_id']}/outcome", json={"result": "success"})

    text = client.get("/metrics").text
    labels = f'decision="{made["decision"]}",env="prod",team="payments"'
    assert f"release_agent_decisions_total{{{labels}}} 1.0" in text
    assert 'release_agent_outcomes_total{env="prod",result="success",team="payments"} 1.0' in text


def test_a_bad_team_is_refused_with_422_and_nothing_stored(client: TestClient) -> None:
    problem = only_problem(client.post("/api/v1/decisions", json=body(team="no|pipes")), 422)

    assert problem["field"] == "team"
    assert client.get("/api/v1/decisions").json()["items"] == []


def test_the_command_line_decides_for_a_team_and_lists_its_episodes(database_url: str) -> None:
    runner = CliRunner()
    common = ["--risk", "LOW", "--criticality", "LOW", "--at", TUESDAY.isoformat()]
    ids = {}
    for team in ("payments", "default"):
        args = ["decide", "--service", "api", *common, "--json", "--db", database_url]
        result = runner.invoke(main, [*args, "--team", team])
        assert result.exit_code in (0, 3, 4), result.output
        ids[team] = json.loads(result.output)["release_id"]

    listed = runner.invoke(main, ["episodes", "--team", "payments", "--json", "--db", database_url])
    assert [e["release_id"] for e in json.loads(listed.output)] == [ids["payments"]]
    bad = runner.invoke(main, ["decide", "--service", "api", *common, "--team", "|", "--db",
                               database_url])  # fmt: skip
    assert bad.exit_code == 2 and "team" in bad.output
    store = Store.open(database_url)
    try:
        assert store.count_decisions() == 2
    finally:
        store.close()


# -- a database from before teams ---------------------------------------------------------


def test_a_database_from_before_teams_gives_its_history_to_the_default_team(
    database_url: str,
) -> None:
    store = Store.open(database_url)
    populate(store, World(), 1200, seed=3)
    truth = grouped(store)
    # Back to version 9: no team in the episodes nor in the cells (keyed without it).
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_episodes_team"))
        conn.execute(schema.episodes.update().values(team=None))
        rows = conn.execute(sa.select(schema.cell_counts)).mappings().all()
        for row in rows:
            values = {name: row[name] for name in cells.values_of(dict(row)) if name != "team"}
            conn.execute(
                schema.cell_counts.update()
                .where(schema.cell_counts.c.cell == row["cell"])
                .values(cell=cells.cell_key(values), team=None)
            )
        conn.execute(sa.text("DELETE FROM schema_migrations WHERE version = 10"))
    store.close()

    store = Store.open(database_url)  # migrates
    try:
        with store.reading() as conn:
            teams = set(conn.execute(sa.select(schema.episodes.c.team)).scalars())
            index = {i["name"] for i in sa.inspect(conn).get_indexes("episodes")}
        assert teams == {"default"}
        assert "ix_episodes_team" in index
        assert (
            kept(store)
            == grouped(store)
            == {(*key[:1], "default", *key[2:]): counts for key, counts in truth.items()}
        )
        before = _cell_table(store)
        store.rebuild_cell_counts()
        assert _cell_table(store) == before  # the keys are the ones a recount gives
        record = Agent(store).decide(request())
        store.record_outcome(record.release_id, Result.success)
        assert sum(n for n, _ in kept(store).values()) == sum(n for n, _ in truth.values()) + 1
    finally:
        store.close()


def _cell_table(store: Store) -> dict[str, tuple[int, int]]:
    with store.reading() as conn:
        t = schema.cell_counts
        return {
            row.cell: (row.deployed, row.failures)
            for row in conn.execute(sa.select(t.c.cell, t.c.deployed, t.c.failures))
        }


# -- each team's policy ------------------------------------------------------------------

POLICY = {
    "costs": {"failure": {"HIGH": 100}},
    "teams": {
        "payments": {
            "costs": {"failure": {"HIGH": 4000}},
            "freeze": {
                "weekly": [
                    {"name": "settlement", "days": ["TUE"], "start": "09:00", "end": "12:00"}
                ]
            },
            "decision": {"max_delays": 0},
        },
        "search": {"costs": {"no_go": 9}},
    },
}


def test_each_team_decides_under_its_own_section_over_the_organisations_policy() -> None:
    policy = parse_policy(POLICY)

    payments, search, other = (policy.for_team(t) for t in ("payments", "search", "ads"))
    assert other is policy
    assert payments.costs.failure[Level.HIGH] == 4000.0
    assert payments.costs.failure[Level.LOW] == policy.costs.failure[Level.LOW]
    assert payments.settings.max_delays == 0 and policy.settings.max_delays == 2
    assert search.costs.no_go == 9 and search.costs.failure[Level.HIGH] == 100.0
    assert [f.name for f in payments.freezes] == ["settlement"] and policy.freezes == ()


def test_a_teams_freeze_holds_its_releases_and_no_other_teams(store: Store) -> None:
    agent = Agent(store, parse_policy(POLICY))

    frozen = agent.decide(request(team="payments"))
    free = agent.decide(request(team="search", service="catalog"))

    assert frozen.decision is not Decision.GO
    assert frozen.guardrails and "settlement" in frozen.guardrails[0]
    assert free.guardrails == [] and free.decision is Decision.GO


def test_a_team_adds_freezes_and_cannot_lift_the_organisations() -> None:
    organisation = {
        "freeze": {"weekly": [{"name": "org", "days": ["FRI"], "start": "12:00", "end": "23:00"}]},
        "teams": {"ops": {"freeze": {"weekly": []}}},
    }
    policy = parse_policy(organisation)

    assert [f.name for f in policy.for_team("ops").freezes] == ["org"]


@pytest.mark.parametrize(
    ("teams", "field"),
    [
        ({"payments": {"costs": {"failure": {"HIGH": -4}}}}, "teams.payments.costs.failure.HIGH"),
        ({"payments": {"priors": {"base_rate": 0.2}}}, "teams.payments.priors"),
        ({"payments": {"notify": []}}, "teams.payments.notify"),
        ({"payments": {"decision": {"nope": 1}}}, "teams.payments.decision.nope"),
        ({"payments": {"colour": "red"}}, "teams.payments.colour"),
        ({"pay|ments": {}}, "teams.pay|ments"),
        ({"payments": 3}, "teams.payments"),
    ],
)
def test_a_bad_team_section_is_refused_naming_its_key(teams: Any, field: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"teams": teams})

    assert caught.value.field == field


def test_teams_must_be_a_table() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"teams": ["payments"]})

    assert caught.value.field == "teams"


def test_a_team_section_is_read_from_the_policy_file(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text('[teams."payments-eu".costs]\nno_go = 7\n')

    from release_agent.domain.policy import load_policy

    assert load_policy(file).for_team("payments-eu").costs.no_go == 7


# -- pooling across teams ------------------------------------------------------------------


def _cell(team: str, service: str, n: int, failures: int) -> Cell:
    return Cell(
        {
            "service": service,
            "team": team,
            "env": "prod",
            "feature_risk": "LOW",
            "service_criticality": "MEDIUM",
            "day_of_week": "TUE",
            "hour_of_day": 10,
            "clash": False,
            "weekend": False,
            "friday_afternoon": False,
            "out_of_hours": False,
        },
        n,
        failures,
    )


def _mean(model: RiskModel, team: str, service: str) -> float:
    return model.estimate_many([_cell(team, service, 1, 0).attributes])[0].mean


def test_the_default_team_adds_no_effect_and_every_other_team_one_of_the_team_group() -> None:
    assert not any(f.startswith("team=") for f in _features(_cell("default", "s", 1, 0).attributes))
    assert "team=payments" in _features(_cell("payments", "s", 1, 0).attributes)
    assert Priors().group("team=payments") == "team"
    assert Priors().of("team=payments") == (0.0, GROUPS["team"])


def test_a_new_team_starts_from_the_organisations_evidence_and_its_own_takes_over() -> None:
    rng = np.random.default_rng(5)
    history = [_cell("default", f"s{i}", 300, int(rng.binomial(300, 0.05))) for i in range(8)]
    history += [_cell("risky", f"r{i}", 300, int(rng.binomial(300, 0.30))) for i in range(4)]
    model = RiskModel.fit(history)
    model = RiskModel.fit(history, warm=model)

    def estimate(team: str, fitted: RiskModel = model) -> Any:
        return fitted.estimate_many([_cell(team, "brand-new", 1, 0).attributes])[0]

    organisation, newcomer, risky = (estimate(t) for t in ("default", "newcomer", "risky"))
    # A team without a deploy is centred on the organisation (no effect of its own yet,
    # only the uncertainty of one); a team whose deploys fail more is estimated higher,
    # even on a service it never ran.
    assert 0.02 < organisation.mean < 0.09
    assert newcomer.low < organisation.mean < newcomer.high
    assert abs(newcomer.mean - organisation.mean) < abs(risky.mean - newcomer.mean) / 3
    assert risky.mean > 2.5 * organisation.mean
    assert "team" in model.priors.learned and model.priors.scales["team"] > GROUPS["team"]
    # Once the new team has evidence of its own, it takes over.
    grown = [*history, *(_cell("newcomer", f"n{i}", 300, int(rng.binomial(300, 0.25)))
                         for i in range(3))]  # fmt: skip
    refit = RiskModel.fit(grown, warm=model)
    assert 0.15 < estimate("newcomer", refit).mean < 0.35


def test_one_team_changes_nothing_in_the_model() -> None:
    """An organisation of one team (everything stored before teams) fits the model it
    fitted before: the default team has no effect."""
    rng = np.random.default_rng(9)
    history = [_cell("default", f"s{i}", 200, int(rng.binomial(200, 0.08))) for i in range(6)]
    model = RiskModel.fit(history)

    assert not any(name.startswith("team=") for name in model.names)
    assert math.isfinite(_mean(model, "default", "s1"))
