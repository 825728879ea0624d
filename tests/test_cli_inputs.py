"""Bad input is refused before anything is written or run: text that is not UTF-8, and
output paths that cannot be written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from release_agent.cli import main
from release_agent.memory.store import Store

DECIDE = ["decide", "--service", "search", "--risk", "LOW", "--criticality", "LOW"]
DECIDE_AT = [*DECIDE, "--at", "2026-11-24T10:00:00+01:00"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def decisions(db: str) -> int:
    return Store.open(db).count_decisions(source=None)


# -- text that is not UTF-8 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option", "what"),
    [
        (["--notes", "ab\udcffcd"], "--notes", "byte 0xFF at character 3"),
        (["--notes", "\ud800"], "--notes", "lone surrogate U+D800"),
        (["--clash", "pay\udce9"], "--clash", "byte 0xE9"),
        (["--env", "st\udcc3ging"], "--env", "byte 0xC3"),
    ],
)
def test_text_that_is_not_utf8_is_bad_input_and_nothing_is_written(
    db: str, args: list[str], option: str, what: str
) -> None:
    result = invoke(*DECIDE_AT, *args, "--db", db)
    assert result.exit_code == 2, result.output
    assert option in result.stderr and what in result.stderr
    assert decisions(db) == 0
    problem = json.loads(invoke(*DECIDE_AT, *args, "--json", "--db", db).stdout)["detail"][0]
    assert problem["field"] == option and what in problem["message"]
    assert decisions(db) == 0


def test_outcome_notes_that_are_not_utf8_record_nothing(db: str) -> None:
    rid = json.loads(invoke(*DECIDE_AT, "--json", "--db", db).stdout)["release_id"]
    result = invoke("outcome", rid, "--result", "success", "--notes", "\udcff", "--db", db)
    assert result.exit_code == 2 and "--notes" in result.stderr
    assert json.loads(invoke("show", rid, "--json", "--db", db).stdout)["outcome"] is None


@pytest.mark.skipif(os.name == "nt", reason="POSIX passes arguments as bytes")
def test_raw_bytes_on_the_real_command_line_are_refused(db: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "release_agent", *DECIDE_AT, "--notes", b"ab\xffcd", "--db", db],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert b"--notes" in done.stderr and b"0xFF" in done.stderr
    assert decisions(db) == 0


# -- output paths, checked before the work ------------------------------------------------


def _must_not_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the work started although an output path was bad")


@pytest.mark.parametrize("where", ["missing-dir/curve.png", "."])
def test_simulate_checks_the_plot_path_before_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setattr("release_agent.simulation.simulate", _must_not_run)
    target = tmp_path / where
    result = invoke("simulate", "--episodes", "5", "--plot", str(target))
    assert result.exit_code == 2, result.output
    assert "--plot" in result.stderr
    assert not (tmp_path / "missing-dir").exists()


def test_memory_export_checks_the_file_before_reading_memory(
    tmp_path: Path, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("release_agent.memory.seedformat.export_memory", _must_not_run)
    result = invoke("memory", "export", str(tmp_path / "nope" / "out.json"), "--db", db)
    assert result.exit_code == 2, result.output
    assert "FILE" in result.stderr and "does not exist" in result.stderr
    problem = json.loads(invoke("memory", "export", str(tmp_path), "--json", "--db", db).stdout)[
        "detail"
    ][0]
    assert problem["field"] == "file" and "is a directory" in problem["message"]


def test_memory_export_replaces_the_file_whole(tmp_path: Path, db: str) -> None:
    invoke(*DECIDE_AT, "--db", db)
    out = tmp_path / "out.json"
    out.write_text("old")
    result = invoke("memory", "export", str(out), "--json", "--db", db)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"file": str(out), "episodes": 1, "heuristics": 0}
    assert len(json.loads(out.read_text())["episodes"]) == 1
    assert not list(tmp_path.glob("*.partial"))


def test_worlds_generate_checks_the_out_path_before_generating(tmp_path: Path) -> None:
    result = invoke("worlds", "generate", "--seed", "1", "--out", str(tmp_path / "no" / "w.json"))
    assert result.exit_code == 2, result.output
    assert "--out" in result.stderr and "does not exist" in result.stderr
