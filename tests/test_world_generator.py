"""The world generator: valid, deterministic, varied worlds drawn from realistic ranges."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from release_agent.domain.models import Level
from release_agent.simulation import build_report, parse_world, simulate
from release_agent.simulation.agent_policy import agent_factory
from release_agent.simulation.generator import generate
from release_agent.simulation.runner import BASELINES
from release_agent.simulation.world import WORLD_ATTRIBUTES

SEEDS = st.integers(0, 2**63 - 1)


@settings(max_examples=150, deadline=None)
@given(SEEDS)
def test_a_generated_world_is_valid_and_within_the_documented_ranges(seed: int) -> None:
    document = generate(seed)
    assert json.loads(json.dumps(document)) == document  # plain JSON, as a file holds
    world = parse_world(document)
    assert world.name == f"generated-{seed}" and world.seed == seed
    assert 3 <= len(world.services) <= 30
    assert 0.01 <= world.base_failure_rate <= 0.2
    assert 2 <= len(world.factors) <= 6
    assert all(0.3 <= f.times <= 6.0 for f in world.factors)
    assert 2 <= world.releases_per_day <= 40
    assert 0 <= world.clash_rate <= 0.25
    assert world.description.startswith(f"Generated from seed {seed}")
    failure = world.costs.failure
    assert failure[Level.LOW] < failure[Level.MEDIUM] < failure[Level.HIGH]


@settings(max_examples=50, deadline=None)
@given(SEEDS)
def test_the_same_seed_gives_the_same_world(seed: int) -> None:
    assert generate(seed) == generate(seed)


def test_the_same_seed_gives_the_same_world_in_another_process() -> None:
    code = "import json; from release_agent.simulation.generator import generate; "
    code += "print(json.dumps(generate(12345)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == generate(12345)


def test_different_seeds_give_different_worlds() -> None:
    documents = [generate(seed) for seed in range(60)]
    truths = {json.dumps([d["base_failure_rate"], d["factors"], d["services"]]) for d in documents}
    assert len(truths) == 60


def test_the_population_covers_what_the_issue_asks_for() -> None:
    worlds = [parse_world(generate(seed)) for seed in range(300)]
    sizes = {len(w.services) for w in worlds}
    assert min(sizes) == 3 and max(sizes) == 30
    assert any(f.times < 1 for w in worlds for f in w.factors)
    assert any(f.times > 3 for w in worlds for f in w.factors)
    assert any(len(f.when) == 2 for w in worlds for f in w.factors)
    drifting = [w for w in worlds if w.changes]
    assert 0.15 < len(drifting) / len(worlds) < 0.45
    assert any(f.since is not None for w in drifting for f in w.factors)
    assert any(f.until is not None for w in drifting for f in w.factors)
    assert 0.3 < sum(not w.uniform_services for w in worlds) / len(worlds) < 0.7
    assert len({w.timezone.key for w in worlds}) > 4
    attributes = {a for w in worlds for f in w.factors for a in f.when}
    assert attributes == set(WORLD_ATTRIBUTES) - {"env"}


@pytest.mark.parametrize("count", [1, 3, 45, 120])
def test_the_number_of_services_can_be_chosen(count: int) -> None:
    world = parse_world(generate(7, services=count))
    assert len(world.services) == count
    assert len({s.name for s in world.services}) == count


@pytest.mark.parametrize(("seed", "services"), [(-1, None), (1, 0), (1, 501), (True, None)])
def test_bad_arguments_are_refused(seed: int, services: int | None) -> None:
    with pytest.raises(ValueError):
        generate(seed, services)


@settings(max_examples=20, deadline=None)
@given(SEEDS)
def test_every_generated_world_simulates(seed: int) -> None:
    world = parse_world(generate(seed))
    result = simulate(world, 40)
    for score in result.scores.values():
        assert score.deploys + score.no_gos == 40
        assert np.isfinite(score.costs).all() and (score.costs >= 0).all()
    assert json.dumps(build_report(result), allow_nan=False)


def test_the_agent_runs_in_a_generated_world() -> None:
    world = parse_world(generate(2024, services=12))
    result = simulate(world, 20, policies={"agent": agent_factory(), **BASELINES})
    assert result.scores["agent"].deploys + result.scores["agent"].no_gos == 20
    assert build_report(result)["world"] == "generated-2024"
