"""What the command line prints: errors as JSON under --json, stored text made safe for a
terminal, counts with the right nouns, and the options every command shares."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.cli import main
from release_agent.cli.decide import where
from release_agent.cli.memory import import_summary, learn_summary
from release_agent.cli.render import episodes_table, plural, visible
from release_agent.domain.episodes import Episode
from release_agent.domain.models import Decision
from release_agent.learn.imports import ImportReport
from release_agent.learn.loop import LearnReport

TUESDAY = shlex.split(
    "--service search --risk LOW --criticality MEDIUM --at 2026-11-24T10:00:00+01:00"
)
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
"""Retitles the window, clears the screen, a C1 CSI, and a right-to-left override."""
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def only_problem(result: Result, code: int) -> dict[str, Any]:
    assert result.exit_code == code, result.output
    assert result.stderr == ""
    body = json.loads(result.stdout)
    assert list(body) == ["detail"] and len(body["detail"]) == 1
    (problem,) = body["detail"]
    assert set(problem) == {"field", "message", "allowed"}  # the API's 422 entry
    return problem


# -- errors under --json -------------------------------------------------------------------


def test_a_value_not_allowed_is_a_json_problem_with_the_allowed_values(db: str) -> None:
    args = ["decide", "--service", "a", "--risk", "EXTREME", "--criticality", "LOW"]
    problem = only_problem(invoke(*args, "--json", "--db", db), 2)
    assert problem["field"] == "--risk"
    assert problem["allowed"] == ["LOW", "MEDIUM", "HIGH"]
    assert "EXTREME" in problem["message"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["decide", "--risk", "LOW", "--criticality", "LOW"], "--service"),
        (["decide", *TUESDAY, "--bogus"], "--bogus"),
        (["decide", "--service", "a", "--risk", "LOW", "--criticality", "LOW", "--at", "x"], "at"),
        (["decide", "--service", "", "--risk", "LOW", "--criticality", "LOW"], "service"),
        (["show", "no-such-id"], "release_id"),
        (["outcome", "no-such-id", "--result", "meh"], "--result"),
        (["memory", "import", "/no/such/memory.json"], None),
    ],
)
def test_bad_input_under_json_is_one_problem_on_stdout_exit_2(
    db: str, args: list[str], field: str | None
) -> None:
    problem = only_problem(invoke(*args, "--json", "--db", db), 2)
    if field is not None:
        assert problem["field"] == field
    assert problem["message"]
    if field == "--bogus":  # an unknown option: the known ones, as the API lists fields
        assert {"--service", "--risk", "--json", "--db"} <= set(problem["allowed"])


def test_a_failure_that_is_not_bad_input_exits_1_as_json(tmp_path: Path) -> None:
    folder = tmp_path / "a-directory"
    (folder / "x").mkdir(parents=True)
    problem = only_problem(invoke("episodes", "--json", "--db", f"sqlite:///{folder}"), 1)
    assert problem["field"] is None and problem["message"]


def test_without_json_errors_stay_text_on_stderr(db: str) -> None:
    result = invoke("decide", "--service", "a", "--risk", "EXTREME", "--criticality", "LOW")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--risk" in result.stderr and not result.stderr.lstrip().startswith("{")


@settings(max_examples=40, deadline=None)
@given(value=st.text().filter(lambda v: v.strip().upper() not in ("LOW", "MEDIUM", "HIGH")))
def test_any_bad_risk_under_json_is_an_api_shaped_problem(value: str) -> None:
    args = ["decide", "--service", "a", f"--risk={value}", "--criticality", "LOW", "--json"]
    result = CliRunner().invoke(main, [*args, "--db", "sqlite:///:memory:"])
    problem = only_problem(result, 2)
    assert problem["field"] == "--risk" and problem["allowed"] == ["LOW", "MEDIUM", "HIGH"]


# -- terminal safety -----------------------------------------------------------------------


EMBEDDINGS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
MARKS = {"\u200e", "\u200f", "\u061c"}  # left-to-right, right-to-left, Arabic letter


def _shown(char: str) -> bool:
    """Whether a terminal shows ``char`` as itself, acting on nothing around it."""
    if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
        return False
    return unicodedata.bidirectional(char) not in EMBEDDINGS and char not in MARKS


@given(st.text())
def test_visible_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    shown = visible(text)
    assert all(_shown(char) for char in shown)
    if all(_shown(char) for char in text):
        assert shown == text  # ordinary text is untouched


def test_visible_writes_escapes_as_text() -> None:
    assert visible("a\x1b[2Jb\x07\u202e") == "a\\x1b[2Jb\\x07\\u202e"


def test_show_makes_outcome_notes_visible_and_json_keeps_them(db: str) -> None:
    decided = json.loads(invoke("decide", *TUESDAY, "--json", "--db", db).stdout)
    rid = decided["release_id"]
    recorded = invoke("outcome", rid, "--result", "incident", "--notes", ESCAPES, "--db", db)
    assert recorded.exit_code == 0, recorded.output
    text = invoke("show", rid, "--db", db).stdout
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "\u202e" not in text
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e" in text
    assert json.loads(invoke("show", rid, "--json", "--db", db).stdout)["outcome"]["notes"] == (
        ESCAPES
    )


def test_episodes_and_heuristics_make_imported_text_visible(db: str, tmp_path: Path) -> None:
    memory = tmp_path / "memory.json"
    service = "web" + ESCAPES
    episode = {
        "context": {"service": service, "feature_risk": "LOW", "service_criticality": "LOW"},
        "decision": "GO",
        "outcome": "SUCCESS",
        "timestamp": "2026-01-12T11:24:30+00:00",
    }
    heuristic = {
        "when": {"service": service},
        "recommendation": "NO_GO",
        "confidence": 0.6,
        "supporting_episodes": 2,
    }
    memory.write_text(json.dumps({"episodes": [episode], "heuristics": [heuristic]}))
    imported = invoke("memory", "import", str(memory), "--db", db)
    assert imported.exit_code == 0, imported.output
    outputs = {
        "import": imported.stdout,
        "episodes": CliRunner(env={"COLUMNS": "200"}).invoke(main, ["episodes", "--db", db]),
        "heuristics": invoke("heuristics", "--db", db),
    }
    for name, output in outputs.items():
        text = output if isinstance(output, str) else getattr(output, "stdout", "")
        assert "web\\x1b]0;pwned" in text, name
        assert not set(text) & {"\x1b", "\x07", "\x9b", "\u202e"}, name
    stored = json.loads(invoke("episodes", "--json", "--db", db).stdout)
    assert stored[0]["context"]["service"] == service


def _episode(i: int, reason: str) -> Episode:
    return Episode(
        release_id=f"r-{i}",
        source="agent",
        attributes={"service": f"svc{i}"},
        decision=Decision.GO,
        result=None,
        outcome_notes=None,
        created_at=datetime(2026, 11, 24, 9, tzinfo=UTC),
        deploy_at=datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        reason=reason,
        summary="",
    )


@given(width=st.integers(min_value=60, max_value=240), reason=st.text(max_size=600))
def test_the_episode_table_fits_the_width_one_line_each(width: int, reason: str) -> None:
    table = episodes_table([_episode(1, reason), _episode(2, "short")], width)
    lines = table.split("\n")
    assert len(lines) == 3 and all(len(line) <= width for line in lines)
    assert "2026-11-24 09:30" in lines[1]


# -- counts with the right nouns -----------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0 outcomes"),
        (1, "1 outcome"),
        (2, "2 outcomes"),
        (1.0, "1 outcome"),
        (2.5, "2.5 outcomes"),
    ],
)
def test_plural(count: int, text: str) -> None:
    assert plural(count, "outcome") == text


def test_learning_and_import_summaries_use_singulars_for_one() -> None:
    learned = learn_summary(LearnReport(outcomes=1, checked=1))
    assert "learned from 1 outcome:" in learned and "1 heuristic re-checked" in learned
    imported = import_summary(ImportReport(episodes_added=1, heuristics_added=1))
    assert imported.startswith("imported 1 episode and 1 heuristic;")


def test_a_second_import_of_the_same_file_says_nothing_was_added(db: str) -> None:
    first = json.loads(
        invoke("memory", "import", str(DATA / "memory.json"), "--json", "--db", db).stdout
    )
    again = invoke("memory", "import", str(DATA / "memory.json"), "--db", db)
    assert again.exit_code == 0, again.output
    summary = again.stdout.splitlines()[0]
    assert summary.startswith("imported nothing new;")
    assert f"{first['episodes_added']} episodes already there" in summary
    assert summary.endswith("0 rejected")


# -- shared options, and where `run` writes ------------------------------------------------


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
    return found


def _options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in param.opts}


def test_every_command_that_prints_a_result_takes_json() -> None:
    commands = _commands(main)
    without = {name for name, c in commands.items() if "--json" not in _options(c)}
    # a server, and groups whose commands do (or print only a digest: tokens hash)
    assert without == {"serve", "memory", "tokens"}


def test_every_command_that_runs_the_agent_takes_the_same_agent_options() -> None:
    agent = {"--db", "--policy", "--reasoner", "--model", "--on-llm-failure"}
    commands = _commands(main)
    for name in ("decide", "run", "demo", "learn", "serve", "simulate"):
        assert agent <= _options(commands[name]), name


def test_json_and_the_agent_options_are_declared_once() -> None:
    sources = (Path(__file__).parents[1] / "src/release_agent/cli").glob("*.py")
    text = "".join(path.read_text() for path in sources)
    options = ("--json", "--db", "--policy", "--reasoner", "--model", "--on-llm-failure")
    for declaration in (f'"{option}"' for option in options):
        assert text.count(declaration) == 1, declaration


def test_run_says_which_memory_it_writes_to(tmp_path: Path) -> None:
    path = tmp_path / "mine.db"
    result = invoke("run", "tuesday-low", "--json", "--db", f"sqlite:///{path}")
    assert result.exit_code == 0, result.output
    assert str(path) in result.stderr
    assert json.loads(result.stdout)["decision"] == "GO"


def test_where_never_shows_a_password() -> None:
    store: Any = SimpleNamespace(
        engine=SimpleNamespace(url=sa.engine.make_url("postgresql+psycopg://me:s3cret@db/ra"))
    )
    shown = where(store)
    assert "s3cret" not in shown and "db/ra" in shown


def test_a_reader_that_goes_away_is_not_an_error_message() -> None:
    """`release-agent worlds | head -1`: the pipe closes before the output is written."""
    process = subprocess.Popen(
        [sys.executable, "-m", "release_agent", "worlds"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the interpreter has even started the command
    errors = process.stderr.read().decode()
    process.wait(timeout=300)
    assert "BrokenPipe" not in errors and "Traceback" not in errors
