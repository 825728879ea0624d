"""``release-agent simulate`` and ``release-agent worlds``: score the agent in a world.

``simulate`` runs the agent, ``always_go``, ``static_rules`` and ``oracle`` over the same
stream of releases and prints the report (see :mod:`release_agent.simulation.report`).
The agent's memory is a fresh temporary database unless ``--db`` names one.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from typing import Any

import click

from ..errors import UserError
from ..simulation import build_report, load_world, render_text, shipped_worlds, simulate
from ..simulation.runner import BASELINES

DEFAULT_EPISODES = 2000


class _BadInput(click.ClickException):
    """Bad input: exit code 2, as every command documents."""

    exit_code = 2


def _reasoner(name: str | None, model: str | None) -> Any:
    """The reasoner to pass to the agent: None for the built-in one."""
    from ..reasoners.registry import build_reasoner, resolve_name

    if resolve_name(name) == "builtin":
        return None
    return build_reasoner(name, model)


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
    "--reasoner",
    metavar="NAME",
    help="builtin, gemini or openai (default: RELEASE_AGENT_REASONER, else gemini when a "
    "key is set, else builtin).",
)
@click.option("--model", metavar="NAME", help="The LLM model, for an LLM reasoner.")
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
    db_url: str | None,
    as_json: bool,
    plot_path: str | None,
) -> None:
    """Run the agent and three baselines in a simulated world and compare their costs.

    The world's true failure risks are hidden from the agent; it learns them from the
    outcomes of its own deploys. Policies: agent, always_go, static_rules (no Friday
    afternoons, weekends or nights; no high risk on critical services) and oracle (knows
    the true risks). regret_ratio = (agent - oracle) / (always_go - oracle).
    """
    from ..simulation.agent_policy import agent_factory

    try:
        world = load_world(world_spec)
        policies = {
            "agent": agent_factory(db_url=db_url, reasoner=_reasoner(reasoner, model)),
            **BASELINES,
        }
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
    except UserError as error:
        raise _BadInput(error.message) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(render_text(report, result))
        if plot_path:
            click.echo(f"\nlearning curve written to {plot_path}")


@click.command("worlds")
@click.option("--json", "as_json", is_flag=True, help="Print the worlds as a JSON list.")
def worlds_command(as_json: bool) -> None:
    """List the worlds shipped for `simulate --world NAME`."""
    rows = []
    for name in shipped_worlds():
        world = load_world(name)
        rows.append(
            {
                "name": world.name,
                "description": world.description,
                "services": {s.name: s.criticality.value for s in world.services},
                "releases_per_day": world.releases_per_day,
                "base_failure_rate": world.base_failure_rate,
                "factors": world.describe_factors(),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(click.style(row["name"], bold=True))
        if row["description"]:
            click.echo(f"  {row['description']}")
        services = ", ".join(f"{n} ({c})" for n, c in row["services"].items())
        click.echo(f"  services: {services}; {row['releases_per_day']:g} releases a day")
        click.echo(f"  base failure rate {row['base_failure_rate']:g}; factors:")
        for factor in row["factors"]:
            click.echo(f"    {factor}")


COMMANDS = (simulate_command, worlds_command)
"""The commands this module adds to the ``release-agent`` group."""
