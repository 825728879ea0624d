"""The agent adapter: what the agent is told, what it is not, and how its answers map."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from release_agent.domain.models import Decision, Result, TraceEntry
from release_agent.memory.store import Store
from release_agent.simulation import Setting, simulate
from release_agent.simulation.agent_policy import AgentPolicy, agent_factory
from release_agent.simulation.arrivals import Clock, generate_releases
from release_agent.simulation.draws import Draws
from release_agent.simulation.runner import run_policy
from release_agent.simulation.world import World, load_world


@pytest.fixture(scope="module")
def world() -> World:
    return load_world("default")


@pytest.fixture
def setting(world: World) -> Setting:
    return Setting(world, Clock(world), Draws(world.seed, world.clash_rate), world.seed)


class ScriptedAgent:
    """Answers with the records it is given and remembers what it was told."""

    def __init__(self, answers: list[SimpleNamespace]) -> None:
        self.answers = answers
        self.requests: list[object] = []
        self.outcomes: list[tuple[str, Result]] = []

    def decide(self, request: object) -> SimpleNamespace:
        self.requests.append(request)
        return self.answers.pop(0)

    def record_outcome(self, release_id: str, result: Result) -> None:
        self.outcomes.append((release_id, result))

    def learn(self) -> None:
        self.learned = getattr(self, "learned", 0) + 1


def test_the_agent_is_told_the_costs_and_nothing_of_the_failure_model(
    setting: Setting, world: World
) -> None:
    policy = AgentPolicy(setting)
    try:
        assert policy.agent.policy.costs == world.costs
        assert policy.agent.policy.freezes == ()
        release = generate_releases(world, world.seed, 1, setting.clock)[0]
        request = policy.request(setting.point(release, release.slot, 0))
        assert set(request.model_dump()) == {
            "service",
            "env",
            "feature_risk",
            "service_criticality",
            "at",
            "clashes",
            "notes",
            "delays",
            "team",
            "ref",
            "shadow",
        }
        assert request.env == "prod" and request.notes is None
        assert request.ref is None and request.shadow is False
        # The request's time is local to the world, so the agent reads the local hour.
        assert request.at.utcoffset() == timedelta(hours=1)
        assert request.at == setting.clock.moment(release.slot)
    finally:
        policy.close()


def test_a_clash_names_another_service(setting: Setting, world: World) -> None:
    policy = AgentPolicy(setting)
    try:
        releases = generate_releases(world, world.seed, 200, setting.clock)
        clashing = [p for r in releases if (p := setting.point(r, r.slot, 0)).clash]
        assert clashing
        for point in clashing:
            names = policy.request(point).clashes
            own = world.services[point.release.service].name
            assert len(names) == 1 and names[0] != own
            assert names[0] in {s.name for s in world.services}
        quiet = next(p for r in releases if not (p := setting.point(r, r.slot, 0)).clash)
        assert policy.request(quiet).clashes == []
    finally:
        policy.close()


def test_a_delay_window_is_rounded_up_to_the_next_slot(setting: Setting, world: World) -> None:
    policy = AgentPolicy(setting)
    policy.close()
    release = generate_releases(world, world.seed, 1, setting.clock)[0]
    point = setting.point(release, release.slot, 0)
    start = setting.clock.moment(point.slot)
    answers = [
        SimpleNamespace(decision=Decision.DELAY, next_window=start + timedelta(minutes=80)),
        SimpleNamespace(decision=Decision.DELAY, next_window=start + timedelta(hours=3)),
        SimpleNamespace(decision=Decision.DELAY, next_window=None),
        SimpleNamespace(decision=Decision.DELAY, next_window=start - timedelta(hours=1)),
        SimpleNamespace(decision=Decision.NO_GO, next_window=None),
    ]
    policy.agent = ScriptedAgent(answers)  # type: ignore[assignment]
    windows = [policy.decide(point) for _ in range(5)]
    assert [w.window for w in windows[:4]] == [
        point.slot + 2,
        point.slot + 3,
        point.slot + 1,
        point.slot + 1,
    ]
    assert windows[4].decision is Decision.NO_GO


def test_outcomes_go_back_to_the_release_that_was_deployed(setting: Setting, world: World) -> None:
    policy = AgentPolicy(setting)
    policy.close()
    releases = generate_releases(world, world.seed, 30, setting.clock)
    answers = [
        SimpleNamespace(decision=Decision.GO, next_window=None, release_id=f"r{i}", trace=[])
        for i in range(30)
    ]
    scripted = ScriptedAgent(answers)
    policy.agent = scripted  # type: ignore[assignment]
    score = run_policy(setting, releases, policy, "agent")
    assert [rid for rid, _ in scripted.outcomes] == [f"r{i}" for i in range(30)]
    failed = [result for _, result in scripted.outcomes if result is Result.incident]
    assert len(failed) == score.failures == score.failed.sum()


def _scheduling(mean: float) -> TraceEntry:
    risk = {"mean": mean, "low": 0.0, "high": 1.0, "decide": mean, "evidence": 3}
    return TraceEntry(
        stage="scheduling", state="SCHEDULING", summary="", detail={"go_now": {"risk": risk}}
    )


def test_a_go_carries_the_risk_the_agent_stated_for_it(setting: Setting, world: World) -> None:
    policy = AgentPolicy(setting)
    policy.close()
    releases = generate_releases(world, world.seed, 3, setting.clock)
    context = TraceEntry(stage="context", state="RISK_EVAL", summary="")
    answers = [
        # The first scheduling entry is the moment a GO deploys at; later ones are windows.
        SimpleNamespace(
            decision=Decision.GO,
            next_window=None,
            release_id="a",
            trace=[context, _scheduling(0.125), _scheduling(0.5)],
        ),
        SimpleNamespace(decision=Decision.GO, next_window=None, release_id="b", trace=[context]),
        SimpleNamespace(decision=Decision.NO_GO, next_window=None, release_id="c", trace=[]),
    ]
    policy.agent = ScriptedAgent(answers)  # type: ignore[assignment]
    score = run_policy(setting, releases, policy, "agent")
    assert score.stated_risk[0] == 0.125
    assert np.isnan(score.stated_risk[1]) and np.isnan(score.stated_risk[2])
    assert not np.isnan(score.true_risk[1]) and np.isnan(score.true_risk[2])


def test_the_real_agents_stated_risks_are_probabilities(world: World) -> None:
    result = simulate(world, 40, policies={"agent": agent_factory()})
    score = result.scores["agent"]
    stated = score.stated_risk[~np.isnan(score.stated_risk)]
    assert len(stated) == score.deploys > 0
    assert ((stated >= 0) & (stated <= 1)).all()


def test_the_real_agent_runs_and_learns_from_every_deploy(world: World, tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    result = simulate(world, 25, policies={"agent": agent_factory(db_url=f"sqlite:///{db}")})
    score = result.scores["agent"]
    assert score.deploys + score.no_gos == 25
    store = Store.open(f"sqlite:///{db}")
    try:
        assert store.count_outcomes() == score.deploys
        assert store.count_decisions() >= 25
    finally:
        store.close()


def test_a_temporary_memory_is_removed_after_the_run(setting: Setting) -> None:
    policy = AgentPolicy(setting)
    folder = policy._tmpdir
    assert folder is not None and folder.exists()
    policy.close()
    assert not folder.exists()
