"""Commands over memory: episodes, heuristics, learn, memory import/export."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..domain.models import HeuristicStatus
from ..domain.policy import load_policy
from ..learn.imports import import_memory
from ..memory.seedformat import export_memory, load_file
from ..memory.store import Store
from .common import agent_options, build_agent, db_option, echo_json, policy_option
from .render import heuristic_line

LIMIT_HELP = "How many to show, newest first (0: all)."


@click.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0), help=LIMIT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@db_option
def episodes(limit: int, as_json: bool, db: str | None) -> None:
    """Past decisions and imported episodes, each with its story and outcome."""
    rows = Store.open(db).list_episodes(limit)
    items = [row.to_json() for row in rows]
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("no episodes yet")
    for item in items:
        click.echo(
            f"{item['release_id']}  {item['decision']:<6} {item['outcome'] or '-':<12}"
            f" {item['timestamp'][:16]}"
        )
        click.echo(f"    {item['summary']}")


@click.command()
@click.option(
    "--status",
    type=click.Choice(["active", "retired", "rejected", "all"]),
    default="all",
    show_default=True,
    help="Which heuristics to show.",
)
@click.option(
    "--limit",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many to show (0: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@db_option
def heuristics(status: str, limit: int, as_json: bool, db: str | None) -> None:
    """Learned heuristics with their evidence: active, retired and rejected."""
    chosen = None if status == "all" else HeuristicStatus(status)
    items = Store.open(db).list_heuristics(chosen, limit)
    if as_json:
        echo_json([h.model_dump(mode="json") for h in items])
        return
    if not items:
        click.echo("no heuristics yet: record outcomes, then run `release-agent learn`")
    for h in items:
        click.echo(heuristic_line(h))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@agent_options
def learn(
    as_json: bool,
    db: str | None,
    policy: str | None,
    reasoner: str | None,
    model: str | None,
    on_llm_failure: str,
) -> None:
    """Learn from every recorded outcome now."""
    report = build_agent(db, policy, reasoner, model, on_llm_failure).learn()
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(
        f"learned from {report.outcomes} outcomes: {report.proposed} proposed, "
        f"{report.added} added, {report.updated} updated, {report.merged} merged, "
        f"{len(report.rejected)} rejected; {report.checked} re-checked: "
        f"{report.strengthened} strengthened, {report.weakened} weakened, "
        f"{report.retired} retired, {report.reactivated} reactivated"
    )
    for reason in report.rejected:
        click.echo(f"  rejected {reason}")


@click.group()
def memory() -> None:
    """Import or export memory in the seed's memory.json format."""


@memory.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@db_option
@policy_option
def memory_import(file: str, as_json: bool, db: str | None, policy: str | None) -> None:
    """Import FILE (all or nothing)."""
    data = load_file(file)
    settings = load_policy(policy).settings
    report = import_memory(Store.open(db), data, settings)
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(
        f"imported {report.episodes_added} episodes ({report.episodes_skipped} already "
        f"there), {report.heuristics_added} heuristics ({report.heuristics_merged} duplicates "
        f"merged, {len(report.heuristics_rejected)} rejected)"
    )
    for reason in report.heuristics_rejected:
        click.echo(f"  rejected {reason}")


@memory.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@db_option
def memory_export(file: str, db: str | None) -> None:
    """Write memory to FILE ('-' for standard output)."""
    text = json.dumps(export_memory(Store.open(db)), indent=2, ensure_ascii=False)
    if file == "-":
        click.echo(text)
        return
    target = Path(file)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(text + "\n", encoding="utf-8")
    partial.replace(target)
    click.echo(f"wrote {target}")
