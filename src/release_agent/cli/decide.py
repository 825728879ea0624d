"""Commands that decide: decide, run, demo, scenarios, show, outcome.

The library is imported inside each command, not here: ``release-agent --help`` and shell
completion import this module and must not load the pipeline.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

import click

from .common import EXIT_DELAY, EXIT_NO_GO, EXIT_OK, echo_json
from .options import LEVELS, RESULTS, TEXT, AgentOptions, agent_options, db_option, output_options

if TYPE_CHECKING:
    from ..domain.models import DecisionRecord
    from ..memory.store import Store

EXIT_BY_DECISION = {"GO": EXIT_OK, "DELAY": EXIT_DELAY, "NO_GO": EXIT_NO_GO}


def parse_at(text: str | None, zone: tzinfo = UTC) -> datetime:
    """An ISO 8601 time with a UTC offset; when absent, now in ``zone`` (the team's time
    zone, not the machine's). InvalidInput otherwise."""
    from ..domain.errors import InvalidInput

    if text is None:
        return datetime.now(zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an ISO 8601 time such as 2026-11-27T16:00:00+01:00", field="at"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            f"{text!r} has no UTC offset; add one, e.g. {text}+01:00 or {text}Z", field="at"
        )
    return moment


def where(store: Store) -> str:
    """The database of ``store`` as a user would name it, without any password."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


def exit_code(record: DecisionRecord) -> int:
    """The exit code a decision gives: its decision's, or 0 for a shadow decision (advice
    only)."""
    return EXIT_OK if record.shadow else EXIT_BY_DECISION[record.decision.value]


def _finish(record: DecisionRecord, as_json: bool, trace: bool) -> None:
    from .render import decision_record

    if as_json:
        echo_json(record.to_json_dict())
    else:
        click.echo(decision_record(record, trace=trace))
    if record.shadow and not as_json:
        click.echo(
            f"shadow: advice only, exit 0 (without shadow: exit "
            f"{EXIT_BY_DECISION[record.decision.value]})",
            err=True,
        )
    raise SystemExit(exit_code(record))


@click.command()
@click.option("--service", required=True, type=TEXT, help="The service being released.")
@click.option("--env", default="prod", show_default=True, type=TEXT, help="Target environment.")
@click.option(
    "--team",
    default="default",
    show_default=True,
    type=TEXT,
    envvar="RELEASE_AGENT_TEAM",
    help="The team that owns the release (its policy section applies). Env: RELEASE_AGENT_TEAM.",
)
@click.option("--risk", "feature_risk", required=True, type=LEVELS, help="Feature risk.")
@click.option(
    "--criticality", "service_criticality", required=True, type=LEVELS, help="Service criticality."
)
@click.option(
    "--at",
    metavar="TIME",
    type=TEXT,
    help="Planned time, ISO 8601 with offset (default: now, in the policy's timezone).",
)
@click.option(
    "--clash",
    "clashes",
    multiple=True,
    metavar="SERVICE",
    type=TEXT,
    help="A release of another service at the same time (repeatable).",
)
@click.option(
    "--notes", type=TEXT, help="Free text for the record (treated as data, never as instructions)."
)
@click.option(
    "--delays",
    default=0,
    show_default=True,
    type=click.IntRange(0, 100),
    help="How many times this release was delayed already (at the policy's max_delays, "
    "it is GO or NO_GO).",
)
@click.option(
    "--ref",
    metavar="REF",
    type=TEXT,
    help="Your key for this release, e.g. COMMIT_SHA:ENV: asking again with a ref already "
    "decided prints the stored decision (and its exit code) instead of deciding twice.",
)
@click.option(
    "--shadow",
    is_flag=True,
    help="Advice only: record and print the decision, but exit 0 whatever it is.",
)
@click.option("--trace", is_flag=True, help="Show every stage's record.")
@output_options
@agent_options()
def decide(
    service: str,
    env: str,
    team: str,
    feature_risk: str,
    service_criticality: str,
    at: str | None,
    clashes: tuple[str, ...],
    notes: str | None,
    delays: int,
    ref: str | None,
    shadow: bool,
    trace: bool,
    as_json: bool,
    agent: AgentOptions,
) -> None:
    """Decide whether a release may go out: exit 0 GO, 3 DELAY, 4 NO_GO, 2 bad input
    (exit 0 whatever the decision with --shadow, or in a shadow environment)."""
    from ..domain.models import parse_request

    request = parse_request(
        {
            "service": service,
            "env": env,
            "team": team,
            "feature_risk": feature_risk.upper(),
            "service_criticality": service_criticality.upper(),
            "at": parse_at(at),
            "clashes": list(clashes),
            "notes": notes,
            "delays": delays,
            "ref": ref,
            "shadow": shadow,
        }
    )
    built = agent.build()
    if at is None:
        # Now in the team's time zone, known once the policy is read.
        zoned = parse_at(None, built.policy.for_team(request.team).settings.zone)
        request = parse_request({**request.model_dump(), "at": zoned})
    answer = built.answer(request)
    if answer.replayed:
        click.echo(
            f"ref {request.ref} was decided already: the stored decision "
            f"{answer.record.release_id} (no new decision; --delays higher re-asks)",
            err=True,
        )
    _finish(answer.record, as_json, trace)


@click.command()
@click.argument("scenario_id", metavar="SCENARIO", type=TEXT)
@output_options
@agent_options()
def run(scenario_id: str, as_json: bool, agent: AgentOptions) -> None:
    """Run one built-in scenario with its full trace (exit codes as for decide).

    The decision is stored in your memory (--db, else RELEASE_AGENT_DB, else the default
    file) like any other; `demo` runs the scenarios in a temporary memory instead.
    """
    from ..domain import scenarios as scenario_book

    scenario = scenario_book.get(scenario_id)
    built = agent.build()
    click.echo(f"recording this decision in {where(built.store)}", err=True)
    if not as_json:
        click.echo(click.style(f"== {scenario.id}: {scenario.title}", bold=True))
    _finish(built.decide(scenario.request), as_json, trace=True)


@click.command()
@output_options
def scenarios(as_json: bool) -> None:
    """List the built-in scenarios."""
    from ..domain import scenarios as scenario_book

    if as_json:
        echo_json(
            [
                {"id": s.id, "title": s.title, "request": s.request.model_dump(mode="json")}
                for s in scenario_book.SCENARIOS
            ]
        )
        return
    for s in scenario_book.SCENARIOS:
        click.echo(f"{s.id:<20} {s.title}")


@click.command()
@output_options
@agent_options(temporary_memory=True)
def demo(as_json: bool, agent: AgentOptions) -> None:
    """Run the five built-in scenarios and show every stage.

    Uses a fresh temporary memory unless --db is given, so your own memory is untouched.
    """
    import tempfile
    from pathlib import Path

    from ..domain import scenarios as scenario_book
    from .render import decision_record

    with tempfile.TemporaryDirectory(prefix="release-agent-demo-") as tmp:
        built = agent.build(agent.db or f"sqlite:///{Path(tmp) / 'demo.db'}")
        stated = built.policy.priors
        if stated.base_rate is None and not stated.effects and not stated.scales:
            # A first day has no evidence: show what a careful team's stated priors make
            # of the scenarios (without them every context looks alike until evidence).
            from ..domain.policy import PriorSettings

            priors = PriorSettings.model_validate(scenario_book.CAREFUL_TEAM_PRIORS)
            built.policy = built.policy.model_copy(update={"priors": priors})
            if not as_json:
                click.echo("demo: stating a careful team's [priors] (see the README)", err=True)
        records = []
        for scenario in scenario_book.SCENARIOS:
            record = built.decide(scenario.request)
            records.append(record)
            if not as_json:
                click.echo(click.style(f"\n== {scenario.id}: {scenario.title}", bold=True))
                click.echo(decision_record(record, trace=True))
        built.store.close()
    if as_json:
        echo_json([r.to_json_dict() for r in records])
    else:
        click.echo(
            "\nsummary: "
            + ", ".join(
                f"{s.id} {r.decision.value}"
                for s, r in zip(scenario_book.SCENARIOS, records, strict=True)
            )
        )


@click.command()
@click.argument("release_id", type=TEXT)
@output_options
@db_option
def show(release_id: str, as_json: bool, db: str | None) -> None:
    """Show one stored decision with its trace and outcome."""
    from ..memory.store import Store
    from .render import decision_record

    record = Store.open(db).get_decision(release_id)  # the id, or a unique prefix of it
    if as_json:
        echo_json(record.to_json_dict())
    else:
        click.echo(decision_record(record, trace=True))


@click.command()
@click.argument("release_id", type=TEXT)
@click.option(
    "--result",
    required=True,
    type=RESULTS,
    help="What happened after the deploy; not_deployed: it did not go out (frees its "
    "calendar slot, teaches nothing).",
)
@click.option("--notes", type=TEXT, help="What happened, in words.")
@click.option("--replace", is_flag=True, help="Overwrite an outcome already recorded.")
@output_options
@db_option
def outcome(
    release_id: str, result: str, notes: str | None, replace: bool, as_json: bool, db: str | None
) -> None:
    """Record what really happened after the deploy of RELEASE_ID."""
    from ..domain.models import Result
    from ..memory.store import Store
    from .render import visible

    store = Store.open(db)
    release_id = store.resolve_id(release_id)  # the id, or a unique prefix of it
    recorded = store.record_outcome(release_id, Result(result), notes, replace=replace)
    if as_json:
        echo_json({"release_id": release_id, **recorded.model_dump(mode="json")})
    else:
        freed = "" if recorded.result.deployed else "; its calendar slot is free again"
        click.echo(f"recorded {recorded.result.value} for {visible(release_id)}{freed}")
