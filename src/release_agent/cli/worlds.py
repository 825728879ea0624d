"""``release-agent worlds``: the shipped worlds, and random valid ones for a population.

``release-agent worlds`` lists the shipped worlds; ``release-agent worlds generate --seed S``
writes a random world (:func:`release_agent.simulation.generator.generate`) that
``simulate --world FILE`` accepts.
"""

from __future__ import annotations

import click

from .common import echo_json
from .files import OutputFile
from .options import output_options


@click.group("worlds", invoke_without_command=True)
@output_options
@click.pass_context
def worlds_command(ctx: click.Context, as_json: bool) -> None:
    """List the worlds shipped for `simulate --world NAME`; `worlds generate` makes new ones."""
    if ctx.invoked_subcommand is not None:
        return
    from ..simulation import load_world, shipped_worlds
    from .render import plural, visible

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
        click.echo(click.style(visible(world.name), bold=True))
        if world.description:
            click.echo(f"  {visible(world.description)}")
        services = ", ".join(f"{s.name} ({s.criticality.value})" for s in world.services)
        rate = plural(world.releases_per_day, "release")
        click.echo(visible(f"  services: {services}; {rate} a day"))
        click.echo(f"  base failure rate {world.base_failure_rate:g}; factors:")
        for factor in world.describe_factors():
            click.echo(f"    {visible(factor)}")


@worlds_command.command("generate")
@click.option(
    "--seed",
    required=True,
    type=click.IntRange(min=0),
    help="Draws the world; same seed, same world.",
)
@click.option(
    "--services",
    type=click.IntRange(min=1),
    help="How many services (default: drawn from the seed too).",
)
@click.option(
    "--out",
    type=OutputFile(allow_dash=True),
    default="-",
    show_default=True,
    help="The world file (JSON) to write; '-' for standard output.",
)
@output_options
def worlds_generate(seed: int, services: int | None, out: str, as_json: bool) -> None:
    """Write a random valid world, for `simulate --world FILE`."""
    import json

    from ..simulation import parse_world
    from ..simulation.generator import generate
    from .files import write_atomically
    from .render import plural

    try:
        document = generate(seed, services)
    except ValueError as error:  # its documented refusal: a number of services out of range
        ctx = click.get_current_context()
        param = next(p for p in ctx.command.params if p.name == "services")
        raise click.BadParameter(str(error), ctx, param) from None
    world = parse_world(document, source=f"generated from seed {seed}")
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if out == "-":
        click.echo(text)
        return
    target = write_atomically(out, text + "\n")
    if as_json:
        echo_json({"file": str(target), "name": world.name, "services": len(world.services)})
    else:
        click.echo(
            f"wrote world {world.name} ({plural(len(world.services), 'service')}) to {target}"
        )
