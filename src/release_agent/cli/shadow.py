"""``shadow-report``: what the shadow decisions would have blocked.

The library is imported inside the command, so that ``--help`` stays fast.
"""

from __future__ import annotations

import click

from .common import echo_json
from .options import TEXT, db_option, output_options
from .team_option import checked_team, team_filter_option


@click.command("shadow-report")
@click.option("--env", type=TEXT, help="Only this environment.")
@click.option(
    "--since", metavar="TIME", type=TEXT, help="Only decisions made since TIME (ISO 8601)."
)
@team_filter_option("shadow decisions")
@output_options
@db_option
def shadow_report(
    env: str | None, since: str | None, team: str | None, as_json: bool, db: str | None
) -> None:
    """Count the shadow decisions (decide --shadow, or the policy's [decision] shadow
    environments) and what they would have blocked: their DELAYs and NO_GOs, as the
    agent decided them."""
    from ..domain.errors import InvalidInput
    from ..memory.store import Store
    from .decide import parse_at
    from .render import visible

    start = None
    if since is not None:
        try:
            start = parse_at(since)
        except InvalidInput as error:
            raise InvalidInput(error.message.removeprefix("at: "), field="since") from None
    report = Store.open(db).shadow_report(env, start, team=checked_team(team))
    if as_json:
        echo_json(report.to_json())
        return
    t = report.total
    click.echo(
        f"shadow decisions: {t.total}; would have blocked {t.blocked} "
        f"({t.delay} DELAY, {t.no_go} NO_GO); {t.go} GO"
    )
    for name, c in sorted(report.by_env.items()):
        click.echo(
            visible(
                f"  {name}: {c.total} decisions, would have blocked {c.blocked} "
                f"({c.delay} DELAY, {c.no_go} NO_GO)"
            )
        )
