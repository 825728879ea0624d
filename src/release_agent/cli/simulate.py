"""``release-agent simulate`` and ``release-agent worlds``: score the agent in a world.

``simulate`` runs the agent, ``always_go``, ``static_rules`` and ``oracle`` over the same
stream of releases and prints the report (see :mod:`release_agent.simulation.report`).
The agent's memory is a fresh temporary database unless ``--db`` names one.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from ..domain.policy import load_policy
from ..reasoners.registry import build_reasoner
from ..simulation import build_report, load_world, render_text, shipped_worlds, simulate
from ..simulation.agent_policy import agent_factory
from ..simulation.runner import BASELINES
from .common import echo_json, reasoner_options

DEFAULT_EPISODES = 2000


@click.command("simulate")
@click.option(
    "--world",
    "world_spec",
    metavar="FILE|NAME",
    help="A world file (JSON), or the name of a shipped world (see `worlds`). "
    "Default: the shipped default world.",
)
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    default=DEFAULT_EPISODES,
    show_default=True,
    help="How many releases to run.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Replaces the world's seed.")
@reasoner_options
@click.option(
    "--policy",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="A policy file (TOML) for the agent's decision settings and freezes; its costs "
    "are replaced by the world's. Default: the default settings, no freezes (your own "
    "policy file is not read).",
)
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="The agent's memory (e.g. sqlite:///sim.db). Default: a fresh temporary one, "
    "deleted afterwards; never your own memory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    help="Also draw the learning curve into this PNG file.",
)
def simulate_command(
    world_spec: str | None,
    episodes: int,
    seed: int | None,
    reasoner: str | None,
    model: str | None,
    on_llm_failure: str,
    policy: str | None,
    db_url: str | None,
    as_json: bool,
    plot_path: str | None,
) -> None:
    """Run the agent and three baselines in a simulated world and compare their costs.

    Bad input (a malformed world file, an unknown name) exits with 2.

    The world's true failure risks are hidden from the agent; it learns them from the
    outcomes of its own deploys. Policies: agent, always_go, static_rules (no Friday
    afternoons, weekends or nights; no high risk on critical services) and oracle (knows
    the true risks). regret_ratio = (agent - oracle) / (always_go - oracle).
    """
    world = load_world(world_spec)
    # Only an explicit --policy is read: a simulation must not pick up the user's own
    # freezes by accident. Its costs are replaced by the world's either way.
    settings = load_policy(policy) if policy else None
    factory = agent_factory(
        db_url=db_url,
        reasoner=build_reasoner(reasoner, model),
        policy=settings,
        on_llm_failure=on_llm_failure,
    )
    policies = {"agent": factory, **BASELINES}
    with ExitStack() as stack:
        progress = None
        if not as_json and sys.stderr.isatty():
            bar = stack.enter_context(
                click.progressbar(
                    length=episodes * len(policies), label="simulating", file=sys.stderr
                )
            )
            progress = bar.update
        result = simulate(world, episodes, seed=seed, policies=policies, progress=progress)
    report = build_report(result)
    if plot_path:
        from ..simulation.plot import plot

        plot(result, plot_path)
    if as_json:
        echo_json(report)
        return
    click.echo(render_text(report, result))
    if plot_path:
        click.echo(f"\nlearning curve written to {plot_path}")


@click.command("worlds")
@click.option("--json", "as_json", is_flag=True, help="Print the worlds as a JSON list.")
def worlds_command(as_json: bool) -> None:
    """List the worlds shipped for `simulate --world NAME`."""
    worlds = [load_world(name) for name in shipped_worlds()]
    if as_json:
        echo_json(
            [
                {
                    "name": world.name,
                    "description": world.description,
                    "services": {s.name: s.criticality.value for s in world.services},
                    "releases_per_day": world.releases_per_day,
                    "base_failure_rate": world.base_failure_rate,
                    "factors": world.describe_factors(),
                }
                for world in worlds
            ]
        )
        return
    for world in worlds:
        click.echo(click.style(world.name, bold=True))
        if world.description:
            click.echo(f"  {world.description}")
        services = ", ".join(f"{s.name} ({s.criticality.value})" for s in world.services)
        click.echo(f"  services: {services}; {world.releases_per_day:g} releases a day")
        click.echo(f"  base failure rate {world.base_failure_rate:g}; factors:")
        for factor in world.describe_factors():
            click.echo(f"    {factor}")
