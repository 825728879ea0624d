"""``release-agent calendar``: the change calendar, as a table, JSON or iCalendar, and
``calendar cancel`` to free the slot of a release that did not go out.

The library is imported inside each command (see decide.py for why).
"""

from __future__ import annotations

from datetime import datetime

import click

from .common import echo_json
from .options import TEXT, db_option, output_options, policy_option
from .team_option import checked_team, team_filter_option

TIME_EXAMPLE = "an ISO 8601 time with a UTC offset such as 2026-11-27T16:00:00+01:00, or a date"


def parse_moment(text: str | None, field: str) -> datetime | None:
    """``text`` as an aware time: ISO 8601 with a UTC offset, or a date (its midnight
    in UTC); None when absent. Raises InvalidInput naming ``field``."""
    from datetime import UTC, date

    from ..domain.errors import InvalidInput

    if text is None:
        return None
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:
            day = date.fromisoformat(cleaned)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(cleaned.upper())
    except ValueError:
        raise InvalidInput(f"{text[:40]!r} is not {TIME_EXAMPLE}", field=field) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            f"{text[:40]!r} has no UTC offset; add one, e.g. {cleaned}+01:00 or {cleaned}Z",
            field=field,
        )
    return moment


@click.group(invoke_without_command=True)
@click.option(
    "--from",
    "start",
    metavar="TIME",
    type=TEXT,
    help="First moment shown, ISO 8601 with offset or a date (default: now).",
)
@click.option("--to", "end", metavar="TIME", type=TEXT, help="Show bookings before this moment.")
@click.option("--env", metavar="ENV", type=TEXT, help="Only this environment.")
@team_filter_option("bookings (and its clash_minutes)")
@click.option("--ics", is_flag=True, help="Print iCalendar (RFC 5545) to subscribe to.")
@output_options
@db_option
@policy_option("Policy file (TOML): its [calendar] clash_minutes is how long an event lasts.")
@click.pass_context
def calendar(
    ctx: click.Context,
    start: str | None,
    end: str | None,
    env: str | None,
    team: str | None,
    ics: bool,
    as_json: bool,
    db: str | None,
    policy: str | None,
) -> None:
    """The change calendar: the slots booked by GO decisions (at their time) and DELAYs
    (at their window), earliest first. A freed slot (NO_GO, superseded, cancelled) is
    not shown. `calendar cancel RELEASE_ID` frees the slot of a release that did not go."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC

    from ..domain.errors import InvalidInput
    from ..domain.models import NAME_PATTERN
    from ..domain.policy import load_policy
    from ..memory.store import Store

    if as_json and ics:
        raise InvalidInput("choose one of --json and --ics", field="--ics")
    first = parse_moment(start, "--from") or datetime.now(UTC)
    last = parse_moment(end, "--to")
    if last is not None and last <= first:
        raise InvalidInput("must be later than --from", field="--to")
    if env is not None and not NAME_PATTERN.match(env.strip()):
        raise InvalidInput(f"{env[:40]!r} is not an environment name", field="--env")
    chosen = env.strip().lower() if env is not None else None
    team = checked_team(team)
    loaded = load_policy(policy)
    settings = (loaded if team is None else loaded.for_team(team)).calendar
    booked = Store.open(db).calendar(first, last, chosen, team=team)
    if ics:
        from ..integrations.ics import calendar as to_ics

        click.echo(to_ics(booked, settings.clash_minutes), nl=False)
        return
    if as_json:
        echo_json([b.model_dump(mode="json") for b in booked])
        return
    if not booked:
        click.echo("no bookings" + (f" before {last.isoformat()}" if last else " ahead"))
        return
    from .render import visible

    for b in booked:
        moment = b.at.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
        click.echo(
            f"{moment}  {visible(b.env):<12} {visible(b.service):<24} {b.decision.value:<6}"
            f" {b.release_id}"
        )


@calendar.command("cancel")
@click.argument("release_id", type=TEXT)
@output_options
@db_option
def cancel(release_id: str, as_json: bool, db: str | None) -> None:
    """Free the slot of RELEASE_ID (or a unique prefix): it did not go out."""
    from ..memory.store import Store
    from .render import visible

    freed = Store.open(db).cancel_booking(release_id)
    if as_json:
        echo_json({"freed": freed.model_dump(mode="json")})
    else:
        click.echo(f"freed {visible(freed.service)} at {freed.at.isoformat()} ({freed.release_id})")
