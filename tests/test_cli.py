"""The command line, in-process with click's CliRunner, plus `python -m release_agent`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from release_agent.cli import main
from release_agent.memory.store import Store

DATA = Path(__file__).resolve().parent / "data"

TUESDAY = [
    "--service",
    "search",
    "--risk",
    "LOW",
    "--criticality",
    "MEDIUM",
    "--at",
    "2026-11-24T10:00:00+01:00",
]
FRIDAY_HIGH = [
    "--service",
    "payments",
    "--env",
    "prod",
    "--risk",
    "HIGH",
    "--criticality",
    "HIGH",
    "--at",
    "2026-11-27T16:00:00+01:00",
    "--clash",
    "PAYMENTS-SERVICE",
]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(*args: str, db: str | None = None) -> Result:
    full = list(args) + (["--db", db] if db else [])
    return CliRunner().invoke(main, full, catch_exceptions=False)


def count(db: str) -> int:
    return Store.open(db).count_decisions(source=None)


def test_decide_go_exits_0_and_prints_a_readable_decision(db: str) -> None:
    result = invoke("decide", *TUESDAY, db=db)
    assert result.exit_code == 0, result.output
    assert "GO" in result.output and "reason:" in result.output and "red team:" in result.output
    assert "reflection: confirmed" in result.output


def test_decide_no_go_exits_4_and_json_uses_the_seed_field_names(db: str) -> None:
    result = invoke("decide", *FRIDAY_HIGH, "--notes", "hotfix", "--json", db=db)
    assert result.exit_code == 4
    record = json.loads(result.output)
    assert record["decision"] == "NO_GO"
    assert record["release_id"]
    for key in (
        "feature_risk",
        "service_criticality",
        "day_of_week",
        "hour_of_day",
        "clash",
        "service",
        "env",
        "at",
    ):
        assert key in record["context"]
    assert record["request"]["notes"] == "hotfix"
    assert record["context"]["day_of_week"] == "FRI" and record["context"]["hour_of_day"] == 16
    assert record["red_team"]["risk_level"] in ("LOW", "MEDIUM", "HIGH")
    assert {c["task"] for c in record["reasoner_calls"]} >= {"plan", "review"}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--service", "", "--risk", "LOW", "--criticality", "LOW"], "service"),
        (["--service", "a", "--env", "!!", "--risk", "LOW", "--criticality", "LOW"], "env"),
        (["--service", "a", "--risk", "EXTREME", "--criticality", "LOW"], "--risk"),
        (["--service", "a", "--risk", "LOW", "--criticality", "HUGE"], "--criticality"),
        (
            ["--service", "a", "--risk", "LOW", "--criticality", "LOW", "--at", "2026-11-27T16:00"],
            "at",
        ),
        (["--service", "a", "--risk", "LOW", "--criticality", "LOW", "--at", "friday"], "at"),
        (["--service", "a", "--risk", "LOW", "--criticality", "LOW", "--clash", "??"], "clashes"),
        (
            ["--service", "a", "--risk", "LOW", "--criticality", "LOW", "--notes", "x" * 4001],
            "notes",
        ),
        (["--risk", "LOW", "--criticality", "LOW"], "--service"),
    ],
)
def test_bad_input_exits_2_names_the_field_and_writes_nothing(
    db: str, args: list[str], field: str
) -> None:
    result = CliRunner().invoke(main, ["decide", *args, "--db", db])
    assert result.exit_code == 2, result.output
    assert field in result.output
    assert count(db) == 0


def test_an_unknown_risk_names_the_allowed_values(db: str) -> None:
    result = CliRunner().invoke(
        main, ["decide", "--service", "a", "--risk", "x", "--criticality", "LOW", "--db", db]
    )
    assert result.exit_code == 2
    text = result.output.lower()
    assert "'low'" in text and "'medium'" in text and "'high'" in text


def test_a_time_without_offset_is_refused_clearly(db: str) -> None:
    result = CliRunner().invoke(
        main,
        [
            "decide",
            "--service",
            "a",
            "--risk",
            "LOW",
            "--criticality",
            "LOW",
            "--at",
            "2026-11-27T16:00:00",
            "--db",
            db,
        ],
    )
    assert result.exit_code == 2
    assert "no UTC offset" in result.output


def test_outcome_records_and_refuses_unknown_ids_results_and_repeats(db: str) -> None:
    decided = json.loads(invoke("decide", *TUESDAY, "--json", db=db).output)
    rid = decided["release_id"]
    ok = invoke("outcome", rid, "--result", "incident", "--notes", "5xx spike", db=db)
    assert ok.exit_code == 0 and "incident" in ok.output
    shown = json.loads(invoke("show", rid, "--json", db=db).output)
    assert shown["outcome"]["result"] == "incident"
    assert shown["outcome"]["notes"] == "5xx spike"
    again = CliRunner().invoke(main, ["outcome", rid, "--result", "success", "--db", db])
    assert again.exit_code == 2 and "already has outcome incident" in again.output
    replaced = invoke("outcome", rid, "--result", "success", "--replace", db=db)
    assert replaced.exit_code == 0
    unknown = CliRunner().invoke(main, ["outcome", "nope", "--result", "success", "--db", db])
    assert unknown.exit_code == 2 and "release_id" in unknown.output
    bad = CliRunner().invoke(main, ["outcome", rid, "--result", "meh", "--db", db])
    assert bad.exit_code == 2 and "rolled_back" in bad.output
    assert json.loads(invoke("show", rid, "--json", db=db).output)["outcome"]["result"] == "success"


def test_episodes_and_heuristics_list_with_json_and_limits(db: str) -> None:
    for _ in range(3):
        invoke("decide", *TUESDAY, "--json", db=db)
    items = json.loads(invoke("episodes", "--json", "--limit", "2", db=db).output)
    assert len(items) == 2
    everything = json.loads(invoke("episodes", "--json", "--limit", "0", db=db).output)
    assert len(everything) == 3
    assert "Outcome: pending" in everything[0]["summary"]
    text = CliRunner(env={"COLUMNS": "120"}).invoke(main, ["episodes", "--db", db]).output
    header, *rows = text.splitlines()
    assert header.split()[:4] == ["RELEASE", "PLANNED", "(UTC)", "SERVICE"]
    assert len(rows) == 3 and all(len(line) <= 120 for line in text.splitlines())
    # One line per episode, with the planned deploy time (10:00 at +01:00 is 09:00 UTC).
    assert everything[0]["release_id"] in rows[0] and "2026-11-24 09:00" in rows[0]
    assert "search" in rows[0] and " GO " in rows[0]
    assert json.loads(invoke("heuristics", "--json", db=db).output) == []
    assert "no heuristics yet" in invoke("heuristics", db=db).output


def test_memory_import_of_both_memory_forms_and_export(db: str, tmp_path: Path) -> None:
    result = invoke("memory", "import", str(DATA / "memory.json"), "--json", db=db)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["episodes_added"] == 19
    assert invoke("memory", "import", str(DATA / "memory-old.json"), db=db).exit_code == 0
    heuristics = json.loads(invoke("heuristics", "--json", "--status", "active", db=db).output)
    assert all(h["provenance"] == "imported" for h in heuristics)
    out = tmp_path / "out.json"
    assert invoke("memory", "export", str(out), db=db).exit_code == 0
    exported = json.loads(out.read_text())
    assert len(exported["episodes"]) == 20
    assert {"context", "decision", "outcome", "timestamp"} <= set(exported["episodes"][0])


def test_memory_import_of_a_malformed_file_names_where_and_writes_nothing(
    db: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "episodes": [
                    {
                        "context": {"feature_risk": "LOW"},
                        "decision": "GO",
                        "outcome": "SUCCESS",
                        "timestamp": "2026-01-12T01:45:00Z",
                    },
                    {
                        "context": {"feature_risk": "LOW"},
                        "decision": "PERHAPS",
                        "outcome": "SUCCESS",
                        "timestamp": "2026-01-12T01:45:00Z",
                    },
                ]
            }
        )
    )
    result = CliRunner().invoke(main, ["memory", "import", str(bad), "--db", db])
    assert result.exit_code == 2
    assert "episodes[1].decision" in result.output
    assert count(db) == 0
    broken = tmp_path / "broken.json"
    broken.write_text('{"episodes": [')
    result = CliRunner().invoke(main, ["memory", "import", str(broken), "--db", db])
    assert result.exit_code == 2 and "line 1" in result.output


def test_demo_runs_the_five_scenarios_without_touching_the_users_memory(db: str) -> None:
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    for scenario in (
        "monday-low",
        "tuesday-low",
        "friday-low",
        "saturday-low",
        "friday-high-clash",
    ):
        assert scenario in result.output
    assert "planner:" in result.output and "red_team:" in result.output
    assert "friday-high-clash NO_GO" in result.output
    default = Store.open(None)
    assert default.count_decisions(source=None) == 0


def test_demo_never_writes_to_the_memory_named_by_the_environment(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELEASE_AGENT_DB", db)
    assert invoke("demo", "--json").exit_code == 0
    assert count(db) == 0


def test_scenarios_and_run(db: str) -> None:
    listed = json.loads(invoke("scenarios", "--json").output)
    assert [s["id"] for s in listed][:2] == ["monday-low", "tuesday-low"]
    result = invoke("run", "friday-high-clash", db=db)
    assert result.exit_code == 4 and "trace:" in result.output
    missing = CliRunner().invoke(main, ["run", "nope", "--db", db])
    assert missing.exit_code == 2 and "monday-low" in missing.output


def test_db_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("RELEASE_AGENT_DB", url)
    assert CliRunner().invoke(main, ["decide", *TUESDAY]).exit_code == 0
    assert count(url) == 1


def test_a_policy_file_freezes_decisions(db: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[freeze.once]]\nname = "launch"\nstart = "2026-11-24T00:00"\n'
        'end = "2026-11-25T00:00"\ntimezone = "Europe/Berlin"\n'
    )
    result = invoke("decide", *TUESDAY, "--policy", str(policy), "--json", db=db)
    assert result.exit_code == 3  # DELAY, with a window after the freeze
    record = json.loads(result.output)
    assert record["decision"] == "DELAY" and "launch" in record["guardrails"][0]
    end_of_freeze = datetime.fromisoformat("2026-11-25T00:00:00+01:00")
    assert datetime.fromisoformat(record["next_window"]) >= end_of_freeze
    broken = tmp_path / "broken.toml"
    broken.write_text('[[freeze.once]]\nname = "x"\nstart = "2026-11-24T00:00"\nend = "nope"\n')
    bad = CliRunner().invoke(main, ["decide", *TUESDAY, "--policy", str(broken), "--db", db])
    assert bad.exit_code == 2 and "freeze.once[0].end" in bad.output


def test_python_dash_m_works_like_the_command(db: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "release_agent", "decide", *FRIDAY_HIGH, "--json", "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stderr
    assert json.loads(done.stdout)["decision"] == "NO_GO"
