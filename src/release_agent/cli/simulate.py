"""``release-agent simulate``: score the agent in a world.

``simulate`` runs the agent, ``always_go``, ``static_rules`` and ``oracle`` over the same
stream of releases and prints the report (see :mod:`release_agent.simulation.report`).
The agent's memory is a fresh temporary database unless ``--db`` names one.
"""

from __future__ import annotations

import importlib

import click

from .common import echo_json
from .files import OutputFile
from .options import AgentOptions, agent_options, output_options
from .progress import Bar, terminal

DEFAULT_EPISODES = 2000


def require_plotting(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse ``--plot`` before the run when matplotlib (the ``plot`` extra) is missing."""
    if value is not None:
        try:
            importlib.import_module("matplotlib")
        except ImportError:
            raise click.BadParameter(
                "drawing needs matplotlib: install release-agent[plot] "
                "(python -m pip install 'release-agent[plot]')",
                ctx,
                param,
            ) from None
    return value


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
@click.option(
    "--plot",
    "plot_path",
    type=OutputFile(),
    callback=require_plotting,
    help="Also draw the learning curve into this PNG file (needs release-agent[plot]).",
)
@output_options
@agent_options(
    temporary_memory=True,
    policy_help="A policy file (TOML) for the agent's decision settings and freezes; its "
    "costs are replaced by the world's. Default: the default settings, no freezes (your "
    "own policy file is not read).",
)
def simulate_command(
    world_spec: str | None,
    episodes: int,
    seed: int | None,
    plot_path: str | None,
    as_json: bool,
    agent: AgentOptions,
) -> None:
    """Run the agent and three baselines in a simulated world and compare their costs.

    Bad input (a malformed world file, an unknown name, a --plot path that cannot be
    written) exits with 2 before the run starts.

    The world's true failure risks are hidden from the agent; it learns them from the
    outcomes of its own deploys. Policies: agent, always_go, static_rules (no Friday
    afternoons, weekends or nights; no high risk on critical services) and oracle (knows
    the true risks). regret_ratio = (agent - oracle) / (always_go - oracle).
    """
    from ..domain.policy import load_policy
    from ..simulation import build_report, load_world, render_text, simulate
    from ..simulation.agent_policy import agent_factory
    from ..simulation.runner import BASELINES

    world = load_world(world_spec)
    # Only an explicit --policy is read: a simulation must not pick up the user's own
    # freezes by accident. Its costs are replaced by the world's either way.
    settings = load_policy(agent.policy) if agent.policy else None
    factory = agent_factory(
        db_url=agent.db,
        reasoner=agent.build_reasoner(),
        policy=settings,
        on_llm_failure=agent.on_llm_failure,
    )
    with Bar("simulating", terminal(as_json)) as bar:
        result = simulate(
            world, episodes, seed=seed, policies={"agent": factory, **BASELINES}, progress=bar
        )
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
