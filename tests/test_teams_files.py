"""Team policies in files of their own: ``[teams.NAME] file = ...`` and ``teams_dir``.

A team file is laid over the organisation's policy exactly as a ``[teams.NAME]``
section is; paths are read from the policy file's directory; a missing file, a stem
that is no team name, a team defined twice and a bad key inside a team file are policy
errors naming the key and the file (exit 2 on the command line, nothing written); the
API (and so each ``serve`` worker) reads the team files with the policy."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from api_support import body, client_of
from release_agent.agent import Agent
from release_agent.api import create_app
from release_agent.cli import main
from release_agent.domain.errors import PolicyError
from release_agent.domain.models import Decision, Level, ReleaseRequest
from release_agent.domain.policy import load_policy
from release_agent.memory.store import Store

TUESDAY = datetime.fromisoformat("2026-11-24T10:00:00+01:00")
SETTLEMENT = """
[costs.failure]
HIGH = 4000

[decision]
max_delays = 0

[[freeze.weekly]]
name = "settlement"
days = ["TUE"]
start = "09:00"
end = "12:00"
"""
"""payments' own policy: a freeze over TUESDAY 10:00 and HIGH failures dearer."""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def organisation(tmp_path: Path, text: str) -> Path:
    """The organisation's policy file: ``text`` (top-level keys first), then its costs."""
    return write(tmp_path / "policy.toml", text + "\n[costs.failure]\nHIGH = 100\n")


def refusal(path: Path) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return caught.value


def request(team: str, **fields: Any) -> ReleaseRequest:
    data: dict[str, Any] = {
        "service": "ledger",
        "feature_risk": Level.LOW,
        "service_criticality": Level.LOW,
        "at": TUESDAY,
        "team": team,
        **fields,
    }
    return ReleaseRequest(**data)


# -- reading them --------------------------------------------------------------------------


def test_every_toml_file_of_teams_dir_is_the_policy_of_the_team_its_stem_names(
    tmp_path: Path,
) -> None:
    write(tmp_path / "teams" / "payments.toml", SETTLEMENT)
    write(tmp_path / "teams" / "search-eu.toml", "[costs]\nno_go = 9\n")
    write(tmp_path / "teams" / "notes.txt", "not a team")
    write(tmp_path / "teams" / ".draft.toml", "not = [valid")
    policy = load_policy(organisation(tmp_path, 'teams_dir = "teams"\n'))

    assert sorted(policy.teams) == ["payments", "search-eu"]
    payments, search = policy.for_team("payments"), policy.for_team("search-eu")
    assert payments.costs.failure[Level.HIGH] == 4000.0
    assert payments.costs.failure[Level.LOW] == policy.costs.failure[Level.LOW]
    assert payments.settings.max_delays == 0 and policy.settings.max_delays == 2
    assert [f.name for f in payments.freezes] == ["settlement"] and policy.freezes == ()
    assert search.costs.no_go == 9 and search.costs.failure[Level.HIGH] == 100.0
    assert policy.for_team("ads") is policy


def test_a_section_names_its_teams_file_relative_to_the_policy_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "conf" / "teams" / "pay.toml", SETTLEMENT)
    path = write(tmp_path / "conf" / "policy.toml", '[teams.payments]\nfile = "teams/pay.toml"\n')
    monkeypatch.chdir(tmp_path)  # not the policy file's directory

    policy = load_policy(path)

    assert [f.name for f in policy.for_team("payments").freezes] == ["settlement"]
    assert list(policy.teams) == ["payments"]


def test_a_teams_file_decides_like_the_same_section_inline(tmp_path: Path) -> None:
    write(tmp_path / "teams" / "payments.toml", SETTLEMENT)
    from_file = load_policy(organisation(tmp_path, 'teams_dir = "teams"\n'))
    inline = tmp_path / "inline" / "policy.toml"
    write(inline, "[costs.failure]\nHIGH = 100\n" + _as_section("payments", SETTLEMENT))

    assert from_file.for_team("payments") == load_policy(inline).for_team("payments").model_copy(
        update={"source": str(tmp_path / "policy.toml")}
    )


def _as_section(team: str, text: str) -> str:
    """A team file's text as a [teams.NAME] section of the organisation's file."""
    out = []
    for line in text.splitlines():
        if line.startswith("[["):
            line = f"[[teams.{team}.{line[2:]}"
        elif line.startswith("["):
            line = f"[teams.{team}.{line[1:]}"
        out.append(line)
    return "\n".join(out) + "\n"


@settings(max_examples=25, deadline=None)
@given(
    no_go=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    high=st.integers(min_value=0, max_value=10**6),
    days=st.lists(st.sampled_from(["MON", "TUE", "WED", "SAT"]), min_size=1, unique=True),
    max_delays=st.integers(min_value=0, max_value=5),
)
def test_a_team_file_and_the_same_section_give_one_policy(
    no_go: float, high: int, days: list[str], max_delays: int
) -> None:
    team = (
        f"[costs]\nno_go = {no_go!r}\n\n[costs.failure]\nHIGH = {high}\n\n"
        f"[decision]\nmax_delays = {max_delays}\n\n"
        f'[[freeze.weekly]]\nname = "own"\ndays = {json.dumps(days)}\n'
        'start = "01:00"\nend = "03:00"\n'
    )
    org = '[costs]\nno_go = 3\n\n[[freeze.weekly]]\nname = "org"\ndays = ["FRI"]\n'
    org += 'start = "12:00"\nend = "23:00"\n'
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write(root / "teams" / "t.toml", team)
        by_file = load_policy(write(root / "a" / "policy.toml", 'teams_dir = "../teams"\n' + org))
        by_section = load_policy(write(root / "b" / "policy.toml", org + _as_section("t", team)))
    one, other = by_file.for_team("t"), by_section.for_team("t")
    assert one.model_copy(update={"source": None}) == other.model_copy(update={"source": None})
    assert [f.name for f in one.freezes] == ["own", "org"]  # the organisation's stay


def test_a_relative_freeze_calendar_in_a_teams_file_is_read_from_the_teams_directory(
    tmp_path: Path,
) -> None:
    event = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\n"
        "UID:close@tests\r\nSUMMARY:Month-end close\r\nDTSTART:20261124T080000Z\r\n"
        "DTEND:20261124T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    write(tmp_path / "teams" / "close.ics", event)
    write(tmp_path / "teams" / "payments.toml", '[[freeze.ics]]\nsource = "close.ics"\n')
    policy = load_policy(organisation(tmp_path, 'teams_dir = "teams"\n'))

    hits = policy.for_team("payments").active_freezes(TUESDAY, "prod")
    assert [freeze.name for freeze, _ in hits] == ["Month-end close"]
    assert policy.active_freezes(TUESDAY, "prod") == []


# -- errors ----------------------------------------------------------------------------------


def test_a_missing_teams_file_is_named_with_its_key(tmp_path: Path) -> None:
    error = refusal(organisation(tmp_path, '[teams.payments]\nfile = "teams/payments.toml"\n'))

    assert error.field == "teams.payments.file"
    assert str(tmp_path / "teams" / "payments.toml") in error.message
    assert "does not exist" in error.message


@pytest.mark.parametrize("target", ["missing", "file.toml"])
def test_a_teams_dir_that_is_no_directory_is_refused(tmp_path: Path, target: str) -> None:
    write(tmp_path / "file.toml", "")
    error = refusal(organisation(tmp_path, f'teams_dir = "{target}"\n'))

    assert error.field == "teams_dir"
    assert target in error.message


@pytest.mark.parametrize("value", ["3", '""', "[]"])
def test_a_path_that_is_not_a_string_is_refused(tmp_path: Path, value: str) -> None:
    assert refusal(organisation(tmp_path, f"teams_dir = {value}\n")).field == "teams_dir"
    path = write(tmp_path / "p.toml", f"[teams.payments]\nfile = {value}\n")
    assert refusal(path).field == "teams.payments.file"


def test_a_file_stem_that_is_no_team_name_is_refused_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path / "teams" / "-payments.toml", SETTLEMENT)
    error = refusal(organisation(tmp_path, 'teams_dir = "teams"\n'))

    assert error.field == "teams_dir"
    assert "-payments.toml" in error.message and "not a team name" in error.message


def test_a_team_in_teams_dir_and_in_a_section_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "teams" / "payments.toml", SETTLEMENT)
    error = refusal(
        organisation(tmp_path, 'teams_dir = "teams"\n[teams.payments.costs]\nno_go = 3\n')
    )

    assert error.field == "teams_dir"
    assert "'payments' is defined twice" in error.message
    assert "payments.toml" in error.message and "[teams.payments]" in error.message


def test_a_team_named_by_file_and_in_teams_dir_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "teams" / "payments.toml", SETTLEMENT)
    write(tmp_path / "other.toml", SETTLEMENT)
    text = 'teams_dir = "teams"\n[teams.payments]\nfile = "other.toml"\n'
    error = refusal(organisation(tmp_path, text))

    assert error.field == "teams_dir" and "defined twice" in error.message
    assert "other.toml" in error.message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[costs.failure]\nHIGH = -4\n", "teams.payments.costs.failure.HIGH"),
        ("[priors]\nbase_rate = 0.2\n", "teams.payments.priors"),
        ('teams_dir = "x"\n', "teams.payments.teams_dir"),
        ("[teams.x.costs]\nno_go = 1\n", "teams.payments.teams"),
        ("colour = 1\n", "teams.payments.colour"),
        ('file = "x.toml"\n', "teams.payments.file"),
        (
            "[[freeze.weekly]]\nname = 'x'\ndays = ['TUE']\nstart = '25:00'\nend = '01:00'\n",
            "teams.payments.freeze.weekly[0].start",
        ),
        ("costs = [\n", "teams_dir"),
    ],
)
def test_an_error_inside_a_teams_file_names_the_key_and_the_file(
    tmp_path: Path, text: str, field: str
) -> None:
    write(tmp_path / "teams" / "payments.toml", text)
    error = refusal(organisation(tmp_path, 'teams_dir = "teams"\n'))

    assert error.field == field
    assert str(tmp_path / "teams" / "payments.toml") in error.message


def test_a_section_with_a_file_cannot_set_keys_of_its_own(tmp_path: Path) -> None:
    write(tmp_path / "payments.toml", SETTLEMENT)
    error = refusal(
        organisation(tmp_path, '[teams.payments]\nfile = "payments.toml"\n[teams.payments.costs]\n')
    )

    assert error.field == "teams.payments.costs"
    assert "move 'costs' into the file" in error.message


def test_teams_dir_is_the_organisations_alone(tmp_path: Path) -> None:
    error = refusal(organisation(tmp_path, '[teams.payments]\nteams_dir = "teams"\n'))

    assert error.field == "teams.payments.teams_dir"
    assert "organisation's alone" in error.message


# -- where the policy is read: the command line, the API ------------------------------------


def test_the_command_line_decides_under_a_teams_file(tmp_path: Path) -> None:
    write(tmp_path / "teams" / "payments.toml", SETTLEMENT)
    policy = organisation(tmp_path, 'teams_dir = "teams"\n')
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    common = ["decide", "--service", "ledger", "--risk", "LOW", "--criticality", "LOW"]
    common += ["--at", TUESDAY.isoformat(), "--policy", str(policy), "--db", db, "--json"]

    frozen = json.loads(CliRunner().invoke(main, [*common, "--team", "payments"]).output)
    free = json.loads(CliRunner().invoke(main, [*common, "--team", "search"]).output)

    assert frozen["decision"] != "GO" and "settlement" in frozen["guardrails"][0]
    assert free["decision"] == "GO" and free["guardrails"] == []


@pytest.mark.parametrize(
    ("files", "text", "key"),
    [
        ({}, '[teams.payments]\nfile = "gone.toml"\n', "teams.payments.file"),
        ({"teams/p|q.toml": ""}, 'teams_dir = "teams"\n', "teams_dir"),
        (
            {"teams/payments.toml": "[costs]\nno_go = -1\n"},
            'teams_dir = "teams"\n',
            "teams.payments.costs.no_go",
        ),
    ],
)
def test_a_bad_teams_file_exits_2_names_the_key_and_writes_nothing(
    tmp_path: Path, files: dict[str, str], text: str, key: str
) -> None:
    for name, content in files.items():
        write(tmp_path / name, content)
    policy = organisation(tmp_path, text)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["decide", "--service", "ledger", "--risk", "LOW", "--criticality", "LOW"]
    args += ["--team", "payments", "--policy", str(policy), "--db", db]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 2, result.output
    assert key in result.output
    assert Store.open(db).count_decisions(source=None) == 0


def test_the_api_reads_team_files_with_the_policy_it_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "teams" / "payments.toml", SETTLEMENT)
    monkeypatch.setenv("RELEASE_AGENT_POLICY", str(organisation(tmp_path, 'teams_dir = "teams"\n')))

    with client_of(create_app(db_url=f"sqlite:///{tmp_path / 'api.db'}")) as client:
        frozen = client.post("/api/v1/decisions", json=body(team="payments")).json()
        free = client.post("/api/v1/decisions", json=body(team="search")).json()

    assert frozen["decision"] != "GO" and "settlement" in frozen["guardrails"][0]
    assert free["guardrails"] == []


def test_an_agent_over_a_teams_file_holds_only_that_teams_releases(
    tmp_path: Path, store: Store
) -> None:
    write(tmp_path / "teams" / "payments.toml", SETTLEMENT)
    agent = Agent(store, load_policy(organisation(tmp_path, 'teams_dir = "teams"\n')))

    assert agent.decide(request("payments")).decision is not Decision.GO
    assert agent.decide(request("search", service="catalog")).decision is Decision.GO
