"""`release-agent worlds`: the shipped worlds, and `worlds generate` for random valid ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from release_agent.cli import main

generator = pytest.importorskip(
    "release_agent.simulation.generator", reason="`worlds generate` needs the world generator"
)


def test_bare_worlds_still_lists_the_shipped_worlds() -> None:
    result = CliRunner().invoke(main, ["worlds", "--json"])
    assert result.exit_code == 0, result.output
    assert "default" in {row["name"] for row in json.loads(result.stdout)}


def test_generate_writes_a_world_that_simulate_accepts(tmp_path: Path) -> None:
    out = tmp_path / "world.json"
    result = CliRunner().invoke(
        main, ["worlds", "generate", "--seed", "11", "--services", "4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "generated-11" in result.stdout and "4 services" in result.stdout
    document = json.loads(out.read_text())
    assert document == generator.generate(11, 4)
    assert len(document["services"]) == 4
    ran = CliRunner().invoke(main, ["simulate", "--world", str(out), "--episodes", "3", "--json"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["world"] == "generated-11"


def test_generate_prints_the_document_without_out_and_is_deterministic() -> None:
    first = CliRunner().invoke(main, ["worlds", "generate", "--seed", "5"])
    again = CliRunner().invoke(main, ["worlds", "generate", "--seed", "5"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == json.loads(again.stdout) == generator.generate(5)


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--services", "0"], "--services"), (["--services", "100000"], "--services"), ([], "--seed")],
)
def test_generate_refuses_bad_numbers_as_bad_input(args: list[str], field: str) -> None:
    seed = [] if field == "--seed" else ["--seed", "1"]
    result = CliRunner().invoke(main, ["worlds", "generate", *seed, *args, "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["detail"][0]["field"] == field
