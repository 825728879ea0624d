"""A malformed policy stops the CLI before anything is decided or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from release_agent.cli import main
from release_agent.memory.store import Store

REQUEST = ["--service", "search", "--risk", "HIGH", "--criticality", "HIGH"]
REQUEST += ["--at", "2026-11-24T10:00:00+01:00"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[decision]\nrisk_quantile = nan\n", "decision.risk_quantile"),
        ("[costs]\nfailure = { LOW = 10, MEDIUM = 25, HIGH = nan }\n", "costs.failure.HIGH"),
        ("[costs]\nno_go = -inf\n", "costs.no_go"),
        ("[decision]\nexplore = 1\n", "decision.explore"),
    ],
)
def test_a_bad_number_exits_2_names_the_key_and_writes_nothing(
    tmp_path: Path, text: str, key: str
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    result = CliRunner().invoke(main, ["decide", *REQUEST, "--policy", str(path), "--db", db])

    assert result.exit_code == 2, result.output
    assert key in result.output
    assert Store.open(db).count_decisions(source=None) == 0
