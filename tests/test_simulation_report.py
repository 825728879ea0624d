"""The report's exact shape, its regret ratio, the text form and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from release_agent.domain.errors import InvalidInput
from release_agent.domain.models import Decision
from release_agent.simulation import (
    Action,
    DecisionPoint,
    Setting,
    SimulationResult,
    build_report,
    render_text,
    simulate,
)
from release_agent.simulation.arrivals import Clock, generate_releases
from release_agent.simulation.baselines import StaticRules
from release_agent.simulation.draws import Draws
from release_agent.simulation.plot import REGRET_LIMITS, draw, plot
from release_agent.simulation.report import checkpoints, halves, regret_ratio
from release_agent.simulation.runner import BASELINES, PolicyScore
from release_agent.simulation.world import load_world

POLICY_KEYS = {"cost", "deploys", "failures", "delays", "delay_hours", "no_gos"}
CURVE_KEYS = {"episodes", "agent_cost", "always_go_cost", "static_rules_cost", "oracle_cost"}


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    # A stand-in for the agent: the report does not care what the agent is.
    return simulate(load_world("default"), 120, policies={"agent": StaticRules, **BASELINES})


def test_the_json_report_has_exactly_the_documented_shape(result: SimulationResult) -> None:
    report = json.loads(json.dumps(build_report(result)))
    assert set(report) == {
        "world",
        "episodes",
        "seed",
        "policies",
        "regret_ratio",
        "regret",
        "calibration",
        "learning_curve",
    }
    assert set(report["regret"]) == {"expected", "realized", "after_change"}
    for kind in ("expected", "realized"):
        assert set(report["regret"][kind]) == {"whole", "first_half", "second_half"}
    assert report["regret"]["after_change"] is None  # the default world does not change
    # The stand-in states no risk; the oracle states the truth.
    assert list(report["calibration"]) == ["oracle"]
    oracle = report["calibration"]["oracle"]
    assert set(oracle) == {"deploys", "brier", "brier_of_truth", "deciles"}
    assert oracle["deploys"] == report["policies"]["oracle"]["deploys"]
    for row in oracle["deciles"]:
        assert set(row) == {"stated", "observed", "true", "deploys"}
    assert report["world"] == "default" and report["episodes"] == 120 and report["seed"] == 1
    assert list(report["policies"]) == ["agent", "always_go", "static_rules", "oracle"]
    for row in report["policies"].values():
        assert set(row) == POLICY_KEYS
        assert isinstance(row["cost"], float)
        assert all(isinstance(row[k], int) for k in POLICY_KEYS - {"cost"})
    assert isinstance(report["regret_ratio"], float)
    assert report["learning_curve"]
    for point in report["learning_curve"]:
        assert set(point) == CURVE_KEYS


def test_the_learning_curve_is_cumulative_and_ends_at_the_totals(
    result: SimulationResult,
) -> None:
    report = build_report(result)
    curve = report["learning_curve"]
    assert [p["episodes"] for p in curve] == sorted({p["episodes"] for p in curve})
    assert curve[-1]["episodes"] == 120 and 60 in [p["episodes"] for p in curve]
    for name, row in report["policies"].items():
        values = [p[f"{name}_cost"] for p in curve]
        assert values == sorted(values)
        assert values[-1] == pytest.approx(row["cost"])


def test_the_regret_ratio_compares_the_agent_with_the_oracle_and_always_go(
    result: SimulationResult,
) -> None:
    report = build_report(result)
    costs = {name: row["cost"] for name, row in report["policies"].items()}
    expected = (costs["agent"] - costs["oracle"]) / (costs["always_go"] - costs["oracle"])
    assert report["regret_ratio"] == pytest.approx(expected, abs=1e-3)
    assert regret_ratio(10.0, 20.0, 5.0) == pytest.approx(1 / 3)
    assert regret_ratio(5.0, 20.0, 5.0) == 0.0
    assert regret_ratio(7.0, 5.0, 5.0) is None  # always_go is already optimal


def test_the_halves_split_the_releases(result: SimulationResult) -> None:
    first, second = halves(result)
    s = result.scores
    cut = 60
    spread = s["always_go"].costs[:cut].sum() - s["oracle"].costs[:cut].sum()
    if spread > 0:
        agent_regret = s["agent"].costs[:cut].sum() - s["oracle"].costs[:cut].sum()
        assert first == pytest.approx(agent_regret / spread)
    assert second is None or isinstance(second, float)


def test_without_an_agent_the_regret_ratio_is_null() -> None:
    report = build_report(simulate(load_world("default"), 30))
    assert report["regret_ratio"] is None
    assert "agent" not in report["policies"]
    assert "agent_cost" not in report["learning_curve"][0]


def test_checkpoints_span_the_run() -> None:
    assert checkpoints(1) == [1]
    assert checkpoints(2000)[:3] == [100, 200, 300] and checkpoints(2000)[-1] == 2000
    marks = checkpoints(37)
    assert marks[-1] == 37 and 18 in marks and len(marks) <= 21


def test_the_text_report_shows_every_policy_and_the_regret(result: SimulationResult) -> None:
    text = render_text(build_report(result), result)
    for name in ("agent", "always_go", "static_rules", "oracle"):
        assert name in text
    assert "regret ratio" in text and "first half" in text
    assert "World default" in text


def test_a_plot_is_written_as_png(result: SimulationResult, tmp_path: Path) -> None:
    target = tmp_path / "curve.png"
    assert plot(result, target) == target
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 10_000


def test_a_plot_without_an_agent_is_still_drawn(tmp_path: Path) -> None:
    target = tmp_path / "baselines.png"
    plot(simulate(load_world("default"), 20), target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unwritable_plot_path_is_a_user_error(result: SimulationResult, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        plot(result, tmp_path / "missing-dir" / "curve.png")
    assert caught.value.field == "plot"


def test_policy_score_cost_is_the_sum_of_release_costs() -> None:
    score = PolicyScore("x", np.array([1.0, 0.5, 4.0]), np.zeros(3))
    assert score.cost == 5.5
    assert score.cumulative().tolist() == [1.0, 1.5, 5.5]


def test_expected_costs_charge_a_deploy_its_true_expected_failure_cost() -> None:
    world = load_world("default")
    result = simulate(world, 200, policies={"always_go": BASELINES["always_go"]})
    score = result.scores["always_go"]
    setting = Setting(world, Clock(world), Draws(world.seed, world.clash_rate), world.seed)
    for release in generate_releases(world, world.seed, 200, setting.clock):
        point = setting.point(release, release.slot, 0)
        p = setting.probability(release, release.slot, point.clash)
        assert score.expected[release.index] == pytest.approx(setting.failure_cost(release) * p)
        assert score.costs[release.index] in (0.0, setting.failure_cost(release))


def test_without_deploys_expected_and_realized_costs_are_equal() -> None:
    result = simulate(load_world("default"), 50, policies={"never": _Never})
    score = result.scores["never"]
    assert np.array_equal(score.costs, score.expected)


class _Never:
    name = "never"

    def __init__(self, setting: Setting) -> None:
        pass

    def decide(self, point: DecisionPoint) -> Action:
        return (
            Action(Decision.DELAY, point.slot + 2) if point.delays == 0 else Action(Decision.NO_GO)
        )

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        raise AssertionError("never deployed")


def test_failures_happen_as_often_as_the_true_probabilities_say() -> None:
    scores = simulate(load_world("default"), 3000, policies={"always_go": BASELINES["always_go"]})
    score = scores.scores["always_go"]
    # Failure costs are at most 40 each: the spread of the realized total is bounded.
    realized, expected = score.costs.sum(), score.expected.sum()
    sigma = np.sqrt((score.expected * 40).sum())
    assert abs(realized - expected) < 3 * sigma


def test_the_text_report_shows_the_expected_cost_regret(result: SimulationResult) -> None:
    assert "without the luck of the draws" in render_text(build_report(result), result)


def test_the_regret_object_gives_both_kinds_per_half(result: SimulationResult) -> None:
    regret = build_report(result)["regret"]
    for kind, expected in (("expected", True), ("realized", False)):
        first, second = halves(result, expected=expected)
        assert regret[kind]["first_half"] == pytest.approx(first, abs=1e-4)
        assert regret[kind]["second_half"] == pytest.approx(second, abs=1e-4)
    assert regret["realized"]["whole"] == build_report(result)["regret_ratio"]
    assert regret["expected"]["whole"] != regret["realized"]["whole"]


def test_the_text_leads_with_the_expected_cost_regret_and_says_why(
    result: SimulationResult,
) -> None:
    text = render_text(build_report(result))
    expected = text.index("regret ratio on expected costs")
    realized = text.index("on realized costs")
    assert expected < realized
    first = build_report(result)["regret"]["expected"]["first_half"]
    assert f"first half {first:.3f}" in text[expected:realized]
    assert "luck" in text[realized:] and "judge by expected costs" in text


class _Forecaster:
    """Always deploys and states a fixed failure probability (a stand-in agent)."""

    name = "agent"
    stated = 0.1

    def __init__(self, setting: Setting) -> None:
        pass

    def decide(self, point: DecisionPoint) -> Action:
        return Action(Decision.GO, risk=self.stated)

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        pass


@pytest.fixture(scope="module")
def stated() -> SimulationResult:
    return simulate(load_world("default"), 400, policies={"agent": _Forecaster, **BASELINES})


def test_the_agents_stated_risk_is_scored_by_brier_and_by_decile(
    stated: SimulationResult,
) -> None:
    report = build_report(stated)
    calibration = report["calibration"]["agent"]
    score = stated.scores["agent"]
    assert calibration["deploys"] == 400 == score.deploys
    brier = np.mean((0.1 - score.failed) ** 2)
    assert calibration["brier"] == pytest.approx(brier, abs=1e-5)
    truth = np.mean((score.true_risk - score.failed) ** 2)
    assert calibration["brier_of_truth"] == pytest.approx(truth, abs=1e-5)
    assert [row["stated"] for row in calibration["deciles"]] == [0.1] * 10
    assert sum(row["deploys"] for row in calibration["deciles"]) == 400
    text = render_text(report)
    assert f"Brier score {calibration['brier']:.4f}" in text and "decile" in text


def test_the_plot_has_a_reliability_diagram_and_a_clipped_regret_panel(
    stated: SimulationResult,
) -> None:
    figure = draw(stated)
    panels = {axis.get_ylabel(): axis for axis in figure.axes}
    assert set(panels) == {"cumulative cost", "agent regret ratio", "failure rate"}
    reliability = panels["failure rate"]
    xs = np.concatenate([line.get_xdata() for line in reliability.get_lines()[1:]])
    assert np.allclose(xs, 0.1)  # every decile states 0.1
    regret = panels["agent regret ratio"]
    low, high = REGRET_LIMITS
    for line in regret.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all((y >= low) & (y <= high))
    bottom, top = regret.get_ylim()
    assert low - 0.1 < bottom and top < high + 0.1
    # The first tenth of the run, where the ratio is noise, is not drawn.
    cumulative = regret.get_lines()[0]
    assert np.asarray(cumulative.get_xdata())[0] > 400 * 0.1


def test_progress_counts_every_release_of_every_policy() -> None:
    calls: list[tuple[int, int]] = []
    simulate(load_world("default"), 25, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 75) for k in range(1, 76)]


class _Refuser(_Forecaster):
    def decide(self, point: DecisionPoint) -> Action:
        return Action(Decision.NO_GO)


def test_a_regret_beyond_the_panel_is_drawn_at_its_edge_and_said_to_be() -> None:
    result = simulate(load_world("default"), 300, policies={"agent": _Refuser, **BASELINES})
    assert build_report(result)["regret"]["expected"]["whole"] > REGRET_LIMITS[1]
    regret = next(a for a in draw(result).axes if a.get_ylabel() == "agent regret ratio")
    tops = [np.max(np.asarray(line.get_ydata(), dtype=float)) for line in regret.get_lines()]
    assert max(tops) == REGRET_LIMITS[1]
    assert "drawn at the edge" in regret.get_title()
