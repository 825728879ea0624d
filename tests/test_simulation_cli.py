"""``release-agent simulate`` and ``release-agent worlds`` through click, in-process."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from release_agent.cli import main


def test_worlds_lists_the_shipped_worlds() -> None:
    result = CliRunner().invoke(
        main,
        [
            "worlds",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("default", "fridays-safe", "fragile-service"):
        assert name in result.output
    rows = json.loads(CliRunner().invoke(main, ["worlds", "--json"]).output)
    assert {row["name"] for row in rows} >= {"default", "fridays-safe", "fragile-service"}
    default = next(row for row in rows if row["name"] == "default")
    assert default["services"] == {"payments": "HIGH", "search": "MEDIUM", "blog": "LOW"}


def test_simulate_prints_the_json_report(tmp_path: Path) -> None:
    plot = tmp_path / "curve.png"
    result = CliRunner().invoke(
        main, ["simulate", "--episodes", "15", "--json", "--seed", "4", "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["world"] == "default" and report["episodes"] == 15 and report["seed"] == 4
    assert list(report["policies"]) == ["agent", "always_go", "static_rules", "oracle"]
    agent = report["policies"]["agent"]
    assert agent["deploys"] + agent["no_gos"] == 15
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_agent_takes_decision_settings_but_not_costs_from_a_policy(tmp_path: Path) -> None:
    settings = "[decision]\nrisk_quantile = 0.95\n"
    # Costs under which an agent that read them would deploy everything at once: a
    # failure costs nearly nothing, a NO_GO and an hour of delay a fortune.
    costs = (
        "[costs]\nfailure = { LOW = 0.001, MEDIUM = 0.001, HIGH = 0.001 }\n"
        "no_go = 1000\ndelay_per_hour = 50\n"
    )
    (tmp_path / "settings.toml").write_text(settings)
    (tmp_path / "settings-and-costs.toml").write_text(settings + costs)

    def agent_score(*policy: str) -> dict[str, float]:
        args = ["simulate", "--episodes", "12", "--seed", "3", "--json"]
        result = CliRunner().invoke(main, [*args, *policy])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["policies"]["agent"]

    with_costs = agent_score("--policy", str(tmp_path / "settings-and-costs.toml"))
    without_costs = agent_score("--policy", str(tmp_path / "settings.toml"))
    defaults = agent_score()
    # The same decisions with or without the policy's costs: they were not used ...
    assert with_costs == without_costs
    # ... though the agent, under the world's costs, held releases back, which it would
    # not have done under the policy's ...
    assert without_costs["no_gos"] + without_costs["delays"] > 0
    assert without_costs["deploys"] < 12
    # ... while the policy's decision settings were used.
    assert without_costs != defaults


def test_simulate_prints_a_table_by_default() -> None:
    result = CliRunner().invoke(main, ["simulate", "--episodes", "8", "--world", "fridays-safe"])
    assert result.exit_code == 0, result.output
    assert "World fridays-safe" in result.output and "regret ratio" in result.output


def test_simulate_keeps_its_memory_where_asked(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    result = CliRunner().invoke(
        main, ["simulate", "--episodes", "6", "--json", "--db", f"sqlite:///{db}"]
    )
    assert result.exit_code == 0, result.output
    assert db.exists()


def test_a_world_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    world = json.loads(
        (Path(__file__).parents[1] / "src/release_agent/data/worlds/default.json").read_text()
    )
    world["factors"][0]["multiplier"] = 2
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(world))
    result = CliRunner().invoke(main, ["simulate", "--world", str(path), "--episodes", "5"])
    assert result.exit_code == 2
    assert "factors[0].multiplier" in result.stderr


def test_an_unknown_world_is_refused_with_the_shipped_names() -> None:
    result = CliRunner().invoke(main, ["simulate", "--world", "atlantis", "--episodes", "5"])
    assert result.exit_code == 2
    assert "atlantis" in result.stderr and "default" in result.stderr
