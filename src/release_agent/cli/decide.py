"""Commands that decide: decide, run, demo, scenarios, show, outcome."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import click

from ..domain import scenarios as scenario_book
from ..domain.errors import InvalidInput
from ..domain.models import Decision, DecisionRecord, Level, Result, parse_request
from .common import (
    EXIT_DELAY,
    EXIT_NO_GO,
    EXIT_OK,
    agent_options,
    build_agent,
    db_option,
    echo_json,
    policy_option,
    reasoner_options,
)
from .render import decision_record

EXIT_BY_DECISION = {Decision.GO: EXIT_OK, Decision.DELAY: EXIT_DELAY, Decision.NO_GO: EXIT_NO_GO}
LEVELS = [level.value for level in Level]


def parse_at(text: str | None) -> datetime:
    """An ISO 8601 time with a UTC offset; now when absent. InvalidInput otherwise."""
    if text is None:
        return datetime.now().astimezone()
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


def _finish(record: DecisionRecord, as_json: bool, trace: bool) -> None:
    if as_json:
        echo_json(record.to_json_dict())
    else:
        click.echo(decision_record(record, trace=trace))
    raise SystemExit(EXIT_BY_DECISION[record.decision])


@click.command()
@click.option("--service", required=True, help="The service being released.")
@click.option("--env", default="prod", show_default=True, help="Target environment.")
@click.option(
    "--risk",
    "feature_risk",
    required=True,
    type=click.Choice(LEVELS, case_sensitive=False),
    help="Feature risk.",
)
@click.option(
    "--criticality",
    "service_criticality",
    required=True,
    type=click.Choice(LEVELS, case_sensitive=False),
    help="Service criticality.",
)
@click.option("--at", metavar="TIME", help="Planned time, ISO 8601 with offset (default: now).")
@click.option(
    "--clash",
    "clashes",
    multiple=True,
    metavar="SERVICE",
    help="A release of another service at the same time (repeatable).",
)
@click.option("--notes", help="Free text for the record (treated as data, never as instructions).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--trace", is_flag=True, help="Show every stage's record.")
@agent_options
def decide(
    service: str,
    env: str,
    feature_risk: str,
    service_criticality: str,
    at: str | None,
    clashes: tuple[str, ...],
    notes: str | None,
    as_json: bool,
    trace: bool,
    db: str | None,
    policy: str | None,
    reasoner: str | None,
    model: str | None,
    on_llm_failure: str,
) -> None:
    """Decide whether a release may go out: exit 0 GO, 3 DELAY, 4 NO_GO, 2 bad input."""
    request = parse_request(
        {
            "service": service,
            "env": env,
            "feature_risk": feature_risk.upper(),
            "service_criticality": service_criticality.upper(),
            "at": parse_at(at),
            "clashes": list(clashes),
            "notes": notes,
        }
    )
    agent = build_agent(db, policy, reasoner, model, on_llm_failure)
    _finish(agent.decide(request), as_json, trace)


@click.command()
@click.argument("scenario_id", metavar="SCENARIO")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@agent_options
def run(
    scenario_id: str,
    as_json: bool,
    db: str | None,
    policy: str | None,
    reasoner: str | None,
    model: str | None,
    on_llm_failure: str,
) -> None:
    """Run one built-in scenario with its full trace (exit codes as for decide)."""
    scenario = scenario_book.get(scenario_id)
    agent = build_agent(db, policy, reasoner, model, on_llm_failure)
    if not as_json:
        click.echo(click.style(f"== {scenario.id}: {scenario.title}", bold=True))
    _finish(agent.decide(scenario.request), as_json, trace=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def scenarios(as_json: bool) -> None:
    """List the built-in scenarios."""
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
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of decision records.")
@click.option(
    "--db",
    metavar="URL",
    help="Keep the demo's decisions in this database (RELEASE_AGENT_DB is not read).",
)
@policy_option
@reasoner_options
def demo(
    as_json: bool,
    db: str | None,
    policy: str | None,
    reasoner: str | None,
    model: str | None,
    on_llm_failure: str,
) -> None:
    """Run the five built-in scenarios and show every stage.

    Uses a fresh temporary memory unless --db is given, so your own memory is untouched.
    """
    with tempfile.TemporaryDirectory(prefix="release-agent-demo-") as tmp:
        url = db or f"sqlite:///{Path(tmp) / 'demo.db'}"
        agent = build_agent(url, policy, reasoner, model, on_llm_failure)
        records = []
        for scenario in scenario_book.SCENARIOS:
            record = agent.decide(scenario.request)
            records.append(record)
            if not as_json:
                click.echo(click.style(f"\n== {scenario.id}: {scenario.title}", bold=True))
                click.echo(decision_record(record, trace=True))
        agent.store.close()
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
@click.argument("release_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@db_option
def show(release_id: str, as_json: bool, db: str | None) -> None:
    """Show one stored decision with its trace and outcome."""
    from ..memory.store import Store

    record = Store.open(db).get_decision(release_id)
    if as_json:
        echo_json(record.to_json_dict())
    else:
        click.echo(decision_record(record, trace=True))


@click.command()
@click.argument("release_id")
@click.option(
    "--result",
    required=True,
    type=click.Choice([r.value for r in Result]),
    help="What happened after the deploy.",
)
@click.option("--notes", help="What happened, in words.")
@click.option("--replace", is_flag=True, help="Overwrite an outcome already recorded.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@db_option
def outcome(
    release_id: str, result: str, notes: str | None, replace: bool, as_json: bool, db: str | None
) -> None:
    """Record what really happened after the deploy of RELEASE_ID."""
    from ..memory.store import Store

    recorded = Store.open(db).record_outcome(release_id, Result(result), notes, replace=replace)
    if as_json:
        echo_json({"release_id": release_id, **recorded.model_dump(mode="json")})
    else:
        click.echo(f"recorded {recorded.result.value} for {release_id}")
