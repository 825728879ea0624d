"""Commands over memory: episodes, heuristics, learn, memory import/export.

The library is imported inside each command (see decide.py for why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .common import echo_json
from .files import OutputFile
from .options import (
    HEURISTIC_STATUSES,
    TEXT,
    AgentOptions,
    agent_options,
    db_option,
    output_options,
    policy_option,
)
from .progress import spinner, terminal

if TYPE_CHECKING:
    from ..learn.imports import ImportReport
    from ..learn.loop import LearnReport

LIMIT_HELP = "How many to show, newest first (0: all)."


@click.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0), help=LIMIT_HELP)
@click.option("--team", metavar="NAME", type=TEXT, help="Only this team's episodes.")
@output_options
@db_option
def episodes(limit: int, team: str | None, as_json: bool, db: str | None) -> None:
    """Past decisions and imported episodes: one line each, fitted to the terminal.

    `show RELEASE_ID` prints one in full; --json prints every field.
    """
    from ..memory.store import Store
    from .render import episodes_table

    rows = Store.open(db).list_episodes(limit, team=team)
    if as_json:
        echo_json([row.to_json() for row in rows])
        return
    click.echo(episodes_table(rows) if rows else "no episodes yet")


@click.command()
@click.option(
    "--status",
    type=HEURISTIC_STATUSES,
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
@output_options
@db_option
def heuristics(status: str, limit: int, as_json: bool, db: str | None) -> None:
    """Learned heuristics with their evidence: active, retired and rejected."""
    from ..domain.models import HeuristicStatus
    from ..memory.store import Store
    from .render import heuristic_line

    chosen = None if status == "all" else HeuristicStatus(status)
    items = Store.open(db).list_heuristics(chosen, limit)
    if as_json:
        from ..stats.evidence import confidence_text

        echo_json(
            [{**h.model_dump(mode="json"), "confidence_text": confidence_text(h)} for h in items]
        )
        return
    if not items:
        click.echo("no heuristics yet: record outcomes, then run `release-agent learn`")
    for h in items:
        click.echo(heuristic_line(h))


def learn_summary(report: LearnReport) -> str:
    """What one learning run did, in words, each count with the right noun."""
    from .render import plural

    return (
        f"learned from {plural(report.outcomes, 'outcome')}: {report.proposed} proposed, "
        f"{report.added} added, {report.updated} updated, {report.merged} merged, "
        f"{len(report.rejected)} rejected; {plural(report.checked, 'heuristic')} "
        f"re-checked: {report.strengthened} strengthened, {report.weakened} weakened, "
        f"{report.retired} retired, {report.reactivated} reactivated"
    )


@click.command()
@output_options
@agent_options()
def learn(as_json: bool, agent: AgentOptions) -> None:
    """Learn from every recorded outcome now."""
    from .render import visible

    built = agent.build()
    with spinner("learning from recorded outcomes", terminal(as_json)):
        report = built.learn()
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(learn_summary(report))
    for reason in report.rejected:
        click.echo(f"  rejected {visible(reason)}")


@click.group()
def memory() -> None:
    """Import or export memory (the seed's memory.json format); rebuild its counts."""


def import_summary(report: ImportReport) -> str:
    """What an import added, skipped, merged and rejected, each count with the right noun;
    an import that added nothing says so."""
    from .render import plural

    added = [
        plural(count, noun)
        for count, noun in (
            (report.episodes_added, "episode"),
            (report.heuristics_added, "heuristic"),
        )
        if count
    ]
    return "; ".join(
        [
            f"imported {' and '.join(added)}" if added else "imported nothing new",
            f"{plural(report.episodes_skipped, 'episode')} already there (skipped)",
            f"{plural(report.heuristics_merged, 'heuristic')} merged as duplicates",
            f"{len(report.heuristics_rejected)} rejected",
        ]
    )


@memory.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@output_options
@db_option
@policy_option("Policy file (TOML) whose decision settings validate the imported heuristics.")
def memory_import(file: str, as_json: bool, db: str | None, policy: str | None) -> None:
    """Import FILE (all or nothing)."""
    from ..domain.policy import load_policy
    from ..learn.imports import import_memory
    from ..memory.seedformat import load_file
    from ..memory.store import Store
    from .render import visible

    data = load_file(file)
    settings = load_policy(policy).settings
    store = Store.open(db)
    with spinner(f"importing {click.format_filename(file)}", terminal(as_json)):
        report = import_memory(store, data, settings)
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(import_summary(report))
    for reason in report.heuristics_rejected:
        click.echo(f"  rejected {visible(reason)}")


@memory.command("rebuild-counts")
@output_options
@db_option
def memory_rebuild_counts(as_json: bool, db: str | None) -> None:
    """Recount the outcome counts per context cell from the episodes.

    The counts are kept as outcomes are written; rebuild them only when episodes were
    changed around release-agent (by hand in SQL, a restored backup of one table).
    Writers wait while it runs (one transaction).
    """
    from ..memory.store import Store
    from .render import plural

    store = Store.open(db)
    try:
        with spinner("recounting outcomes per context cell", terminal(as_json)):
            count = store.rebuild_cell_counts()
            outcomes = store.count_outcomes()
    finally:
        store.close()
    if as_json:
        echo_json({"cells": count, "outcomes": outcomes})
        return
    click.echo(
        f"rebuilt the cell counts: {plural(count, 'cell')} from {plural(outcomes, 'outcome')}"
    )


@memory.command("export")
@click.argument("file", type=OutputFile(allow_dash=True))
@output_options
@db_option
def memory_export(file: str, as_json: bool, db: str | None) -> None:
    """Write memory to FILE ('-' for standard output), replacing it whole."""
    import json

    from ..memory.seedformat import export_memory
    from ..memory.store import Store
    from .files import write_atomically
    from .render import plural

    document = export_memory(Store.open(db))
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if file == "-":
        click.echo(text)
        return
    target = write_atomically(file, text + "\n")
    counts = {key: len(document.get(key, [])) for key in ("episodes", "heuristics")}
    if as_json:
        echo_json({"file": str(target), **counts})
    else:
        click.echo(
            f"wrote {plural(counts['episodes'], 'episode')} and "
            f"{plural(counts['heuristics'], 'heuristic')} to {target}"
        )
