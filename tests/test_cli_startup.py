"""What a command loads, in a fresh interpreter: `--help`, completion and an offline
decision load no LLM SDK (nor, for `--help`, the pipeline, numpy or scipy), and a command
that needs an extra that is not installed says which one to install."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the command line in-process in a fresh interpreter, with some modules made
# unimportable (as if their package were not installed), and reports what was loaded.
PROBE = """
import json, sys
blocked, report, args = json.loads(sys.argv[1])
for name in blocked:
    sys.modules[name] = None
from release_agent.cli import main
try:
    main(args, prog_name="release-agent")
finally:
    with open(report, "w") as out:
        json.dump(sorted(m for m, module in sys.modules.items() if module is not None), out)
"""

HEAVY = ("release_agent.agent", "numpy", "scipy", "openai", "google.genai")
SDKS = ("openai", "google.genai")
OPTIONAL = ("openai", "google.genai", "matplotlib", "psycopg")
DECIDE = shlex.split(
    "decide --service search --risk LOW --criticality LOW --at 2026-11-24T10:00:00+01:00 --json"
)


def probe(
    tmp_path: Path, *args: str, blocked: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([list(blocked), str(report), list(args)])],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    return done, set(json.loads(report.read_text()))


def test_help_loads_neither_the_pipeline_nor_numpy_scipy_or_an_sdk(tmp_path: Path) -> None:
    done, loaded = probe(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "decide" in done.stdout and "simulate" in done.stdout
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_an_offline_decision_with_the_builtin_reasoner_loads_no_sdk(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    done, loaded = probe(tmp_path, *DECIDE, "--db", db)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"] == "GO"
    assert loaded.isdisjoint(SDKS), sorted(loaded & set(SDKS))


@pytest.mark.parametrize(
    ("words", "expected", "unloaded"),
    [
        ("release-agent de", ["plain,decide", "plain,demo"], HEAVY),
        ("release-agent decide --risk ", ["plain,LOW", "plain,MEDIUM", "plain,HIGH"], SDKS),
    ],
)
def test_completion_answers_without_loading_what_it_does_not_need(
    tmp_path: Path, words: str, expected: list[str], unloaded: tuple[str, ...]
) -> None:
    """Completion through click's _RELEASE_AGENT_COMPLETE, as the shells' scripts call it.
    (Completing an option's value parses the command's options, defaults included.)"""
    env = {
        "_RELEASE_AGENT_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done, loaded = probe(tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected
    assert loaded.isdisjoint(unloaded), sorted(loaded & set(unloaded))


@pytest.mark.parametrize(
    ("reasoner", "module", "env"),
    [
        ("openai", "openai", {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}),
        ("gemini", "google.genai", {"GEMINI_API_KEY": "a-key"}),
    ],
)
def test_a_reasoner_whose_sdk_is_missing_names_the_extra(
    tmp_path: Path, reasoner: str, module: str, env: dict[str, str]
) -> None:
    db = tmp_path / "m.db"
    done, _ = probe(
        tmp_path,
        *DECIDE[:-1],
        "--reasoner",
        reasoner,
        "--db",
        f"sqlite:///{db}",
        blocked=(module,),
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert f"install release-agent[{reasoner}]" in done.stderr
    assert done.stdout == ""


def test_plot_without_matplotlib_names_the_extra_before_running(tmp_path: Path) -> None:
    done, loaded = probe(
        tmp_path,
        "simulate",
        "--episodes",
        "5",
        "--plot",
        str(tmp_path / "curve.png"),
        blocked=("matplotlib",),
    )
    assert done.returncode == 2, done.stderr
    assert "--plot" in done.stderr and "install release-agent[plot]" in done.stderr
    assert "release_agent.simulation.runner" not in loaded  # refused before any work
    assert not (tmp_path / "curve.png").exists()


def test_the_demo_works_with_core_dependencies_only(tmp_path: Path) -> None:
    """What `python -m pip install . && release-agent demo` gives: no extra installed."""
    done, loaded = probe(tmp_path, "demo", "--json", blocked=OPTIONAL)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 5
    assert loaded.isdisjoint(OPTIONAL)
