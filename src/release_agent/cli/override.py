"""Commands of the human in the loop: ``override`` (overrule a decision, with who and
why) and ``overrides`` (the audit log).

The library is imported inside each command, so that ``--help`` stays fast.
"""

from __future__ import annotations

import click

from .common import echo_json
from .options import TEXT, DeferredChoice, db_option, output_options, policy_option
from .team_option import checked_team, team_filter_option


def _decisions() -> list[str]:
    from ..domain.models import Decision

    return [d.value for d in Decision]


DECISIONS = DeferredChoice(_decisions, case_sensitive=False)


@click.command()
@click.argument("release_id", type=TEXT)
@click.option("--decision", required=True, type=DECISIONS, help="The final decision.")
@click.option("--by", "by", required=True, type=TEXT, help="Who overrides (name or handle).")
@click.option("--reason", required=True, type=TEXT, help="Why, for the audit log.")
@output_options
@db_option
@policy_option()
def override(
    release_id: str,
    decision: str,
    by: str,
    reason: str,
    as_json: bool,
    db: str | None,
    policy: str | None,
) -> None:
    """Overrule the decision RELEASE_ID (or a unique prefix of it, 6+ characters).

    The record keeps the agent's decision and gets yours; the audit log keeps every
    override. A GO cannot open a freeze unless the policy sets [decision]
    allow_freeze_override = true (then it is marked break-glass). Refused (exit 2) for a
    decision with an outcome, a superseded one, or one that is DECISION already.
    """
    from ..agent import Agent
    from ..domain.policy import load_policy
    from ..memory.store import Store
    from .render import decision_record

    agent = Agent(Store.open(db), load_policy(policy))
    record = agent.override(release_id, decision, by, reason)
    if as_json:
        echo_json(record.to_json_dict())
    else:
        click.echo(decision_record(record))


@click.command()
@click.argument("release_id", required=False, type=TEXT)
@team_filter_option("overrides")
@output_options
@db_option
def overrides(release_id: str | None, team: str | None, as_json: bool, db: str | None) -> None:
    """The audit log of overrides, oldest first: of RELEASE_ID (or a unique prefix), or
    of every decision (--team: of that team's decisions)."""
    from ..memory.store import Store
    from .render import visible

    entries = Store.open(db).override_history(release_id, team=checked_team(team))
    if as_json:
        echo_json([entry.to_json() for entry in entries])
        return
    if not entries:
        click.echo("no overrides")
    for e in entries:
        glass = " break-glass" if e.break_glass else ""
        click.echo(
            visible(
                f"{e.at.isoformat(timespec='seconds')} {e.release_id} "
                f"{e.from_decision.value} -> {e.to_decision.value}{glass} by {e.by}: {e.reason}"
            )
        )
