"""Importing the seed's memory file: episodes and heuristics in one transaction.

The whole document is checked first (:func:`release_agent.memory.seedformat.parse`); a
malformed file raises ImportFormatError naming the JSON path of the fault, and nothing is
written. Episodes whose release id is stored already are skipped, so importing the same
file twice adds nothing. Heuristics that share a merge key in the file collapse into
one, which keeps the confidence of the variant with the largest claimed support (the
lower confidence on a tie); then each enters the heuristic book (:mod:`.book`), exactly
as learning's proposals do: validated with its support recounted from memory (the file's
episodes included), merged into a stored heuristic of the same key, or kept as
``rejected`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain.models import Decision, Provenance
from ..domain.options import HeuristicProposal
from ..domain.policy import DecisionSettings
from ..memory.seedformat import parse
from ..memory.store import Store
from ..stats.evidence import Baseline
from ..stats.validation import canonical_when, merge_key
from .book import Considered, HeuristicBook


@dataclass
class ImportReport:
    episodes_added: int = 0
    episodes_skipped: int = 0
    heuristics_added: int = 0
    heuristics_merged: int = 0
    heuristics_rejected: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "episodes_added": self.episodes_added,
            "episodes_skipped": self.episodes_skipped,
            "heuristics_added": self.heuristics_added,
            "heuristics_merged": self.heuristics_merged,
            "heuristics_rejected": self.heuristics_rejected,
        }


def _collapse(candidates: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    merged = 0
    for c in candidates:
        # Near-duplicates too: a one-element list as its value, DELAY beside NO_GO.
        key = merge_key(canonical_when(c["when"]), Decision(c["recommendation"]))
        kept = groups.get(key)
        if kept is None:
            groups[key] = c
            continue
        merged += 1
        if (c["support"], -c["confidence"]) > (kept["support"], -kept["confidence"]):
            groups[key] = c
    return list(groups.values()), merged


IMPORT_WAIT = 60.0
"""Seconds an import waits for a learning run in progress to end."""


def import_memory(
    store: Store,
    data: Any,
    settings: DecisionSettings | None = None,
    *,
    wait: float = IMPORT_WAIT,
) -> ImportReport:
    """Import a memory document into ``store`` in one transaction (all or nothing); the
    heuristics it changes are published as a new knowledge version in that transaction.

    It enters heuristics as learning does, so it holds the learner lock (waiting up to
    ``wait`` seconds for a run in progress; LearnerBusy after that). Raises
    ImportFormatError for a malformed document, StoreError when the database fails.
    """
    episodes, candidates = parse(data, settings)
    unique, merged = _collapse(candidates)
    report = ImportReport(heuristics_merged=merged)
    now = datetime.now(UTC)
    with store.learner_lock(wait), store.transaction() as conn:
        report.episodes_added = store.insert_episodes(episodes, conn)
        report.episodes_skipped = len(episodes) - report.episodes_added
        cells = store.outcome_cells(conn)
        base = Baseline.of(*cells.totals)
        book = HeuristicBook(store.list_heuristics(conn=conn))
        for c in unique:
            proposal = HeuristicProposal(
                when=c["when"],
                recommendation=Decision(c["recommendation"]),
                confidence=c["confidence"],
                supporting_episodes=c["support"],
            )
            done, why = book.consider(
                proposal, Provenance.imported, cells, base, now, status=c["status"]
            )
            if done is Considered.added or done is Considered.updated:
                report.heuristics_added += 1
            elif done is Considered.merged or done is Considered.unchanged:
                report.heuristics_merged += 1
            else:
                report.heuristics_rejected.append(f"{c['where']}: {why}")
        if book.changed:
            book.write(store, conn)
            store.publish_knowledge(conn, "import")
    return report
