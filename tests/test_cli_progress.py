"""Progress on long work: drawn on standard error when it is a terminal (a real
pseudo-terminal here), never under --json, never into standard output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from release_agent.cli.progress import Bar, spinner

pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX only")
DATA = Path(__file__).resolve().parent / "data"


def on_terminal(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Run the command with standard error on a pseudo-terminal; return the exit code,
    standard output and what the terminal received."""
    leader, follower = pty.openpty()
    with (tmp_path / "stdout").open("w+") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "release_agent", *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=follower,
        )
        os.close(follower)
        received = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal is gone: the process closed it
                break
            if not chunk:
                break
            received += chunk
        code = process.wait(timeout=300)
        os.close(leader)
        stdout.seek(0)
        return code, stdout.read(), received.decode("utf-8", "replace")


def test_simulate_draws_a_bar_on_a_terminal_but_not_into_its_output(tmp_path: Path) -> None:
    code, out, terminal = on_terminal(tmp_path, "simulate", "--episodes", "6", "--seed", "1")
    assert code == 0, terminal
    assert "simulating" in terminal and "100%" in terminal
    assert "simulating" not in out and "regret ratio" in out


def test_simulate_under_json_draws_nothing(tmp_path: Path) -> None:
    code, out, terminal = on_terminal(tmp_path, "simulate", "--episodes", "6", "--json")
    assert code == 0, terminal
    assert "simulating" not in terminal
    assert json.loads(out)["episodes"] == 6


def test_memory_import_and_learn_show_a_spinner_on_a_terminal(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    code, out, terminal = on_terminal(
        tmp_path, "memory", "import", str(DATA / "memory.json"), "--db", db
    )
    assert code == 0, terminal
    assert "importing" in terminal and "importing" not in out
    code, out, terminal = on_terminal(tmp_path, "learn", "--db", db)
    assert code == 0, terminal
    assert "learning from recorded outcomes" in terminal and out.startswith("learned from")
    code, out, terminal = on_terminal(tmp_path, "learn", "--json", "--db", db)
    assert code == 0 and "learning" not in terminal and json.loads(out)["outcomes"] > 0


def test_the_bar_follows_done_and_total_and_is_silent_without_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with Bar("working", screen) as bar:
        for done in range(1, 9):
            bar(done, 8)
    assert "working" in screen.getvalue() and "100%" in screen.getvalue()
    with Bar("working", None) as silent:
        silent(1, 8)  # nothing to draw on, nothing raised
    with spinner("waiting", None):
        pass
