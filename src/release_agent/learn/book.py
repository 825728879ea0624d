"""The heuristic book: the one way heuristics are stored, by learning and by import.

The book holds the stored heuristics by merge key (the same conditions up to order and
notation, the same direction; see :func:`release_agent.stats.validation.merge_key`).
Opening it merges stored duplicates: the best-ranked (active, then retired, then
rejected; the oldest first) keeps the key and the others become ``rejected`` with the
reason "duplicate of #id". Every candidate, mined, proposed by an LLM or imported, goes
through :meth:`HeuristicBook.consider`: validation with its counts recounted from the
cells, then one of

- ``merged``: a live heuristic with its key is stored already; the candidate adds only a
  vote already counted in that heuristic's evidence, so nothing changes;
- ``added`` / ``updated``: accepted, new or replacing a rejected candidate of its key;
- ``rejected``: kept with the reason, so that the refusal can be read;
- ``unchanged``: rejected again, as it was before.

Nothing is written until :meth:`write`, which runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from ..domain.conditions import describe
from ..domain.errors import InvalidInput
from ..domain.models import Decision, Heuristic, HeuristicStatus, Provenance
from ..domain.options import HeuristicProposal
from ..memory.store import Store
from ..stats.cells import Cells
from ..stats.evidence import Baseline
from ..stats.lifecycle import Change, recheck
from ..stats.validation import canonical_when, merge_key, validate

Key = tuple[str, str]
_RANK = {HeuristicStatus.active: 0, HeuristicStatus.retired: 1, HeuristicStatus.rejected: 2}


class Considered(StrEnum):
    """What :meth:`HeuristicBook.consider` did with a candidate."""

    added = "added"
    updated = "updated"
    merged = "merged"
    rejected = "rejected"
    unchanged = "unchanged"


class HeuristicBook:
    """The stored heuristics of one learning run or import, and what must be written."""

    def __init__(self, stored: Iterable[Heuristic]) -> None:
        self.by_key: dict[Key, Heuristic] = {}
        self._dirty: dict[int, Heuristic] = {}
        self._new: dict[Key, Heuristic] = {}
        self._unparsed: list[Heuristic] = []
        self.merged = 0
        """Stored duplicates merged when the book was opened."""
        for h in sorted(stored, key=lambda h: (_RANK[h.status], h.id or 0)):
            try:
                when = canonical_when(h.when)
            except InvalidInput:
                continue  # a rejected proposal kept verbatim: nothing to merge it with
            key = merge_key(when, h.recommendation)
            kept = self.by_key.get(key)
            if kept is None:
                if when != h.when:
                    h = h.model_copy(update={"when": when})
                    self._replace(key, h)
                self.by_key[key] = h
            elif h.status is not HeuristicStatus.rejected and h.id is not None:
                self.merged += 1
                self._dirty[h.id] = h.model_copy(
                    update={
                        "status": HeuristicStatus.rejected,
                        "reason": f"duplicate of heuristic #{kept.id}: merged into it",
                    }
                )

    def _replace(self, key: Key, h: Heuristic) -> None:
        self.by_key[key] = h
        if h.id is None:
            self._new[key] = h
        else:
            self._dirty[h.id] = h

    def live(self) -> list[Heuristic]:
        """The heuristics that are not rejected."""
        return [h for h in self.by_key.values() if h.status is not HeuristicStatus.rejected]

    def active_conditions(self, go: bool) -> list[dict[str, Any]]:
        """The conditions of the active GO (``go``) or cautionary heuristics."""
        return [
            h.when
            for h in self.live()
            if h.status is HeuristicStatus.active and (h.recommendation is Decision.GO) == go
        ]

    def recheck(self, cells: Cells, base: Baseline, now: datetime, go: bool) -> list[Change]:
        """Recount and re-judge the live GO (``go``) or cautionary heuristics."""
        changes = []
        for key, h in list(self.by_key.items()):
            if h.status is HeuristicStatus.rejected or (h.recommendation is Decision.GO) != go:
                continue
            deployed, failures = cells.count(h.when)
            checked = recheck(h, deployed, failures, base, now)
            changes.append(checked.change)
            self._replace(key, checked.heuristic)
        return changes

    def consider(
        self,
        proposal: HeuristicProposal,
        provenance: Provenance,
        cells: Cells,
        base: Baseline,
        now: datetime,
        status: HeuristicStatus = HeuristicStatus.active,
    ) -> tuple[Considered, str | None]:
        """Validate ``proposal`` against the cells and enter it (see the module docstring).
        Returns what was done and, for a rejection, the reason."""
        confidence = max(0.0, min(1.0, float(proposal.confidence)))
        try:
            when = canonical_when(proposal.when)
        except InvalidInput as error:
            # A condition that does not parse is kept verbatim so the rejection can be read.
            self._unparsed.append(
                Heuristic(
                    when={"unparsed": str(proposal.when)[:200]},
                    recommendation=proposal.recommendation,
                    confidence=confidence,
                    provenance=provenance,
                    status=HeuristicStatus.rejected,
                    reason=str(error),
                    last_checked=now,
                )
            )
            return Considered.rejected, str(error)
        verdict = validate(
            when,
            proposal.recommendation,
            proposal.confidence,
            proposal.supporting_episodes,
            provenance,
            recount=cells.count(when),
            baseline=base,
        )
        key = merge_key(when, proposal.recommendation)
        previous = self.by_key.get(key)
        if previous is not None and previous.status is not HeuristicStatus.rejected:
            return Considered.merged, None
        if verdict.heuristic is None:
            reason = f"{describe(when)}: {verdict.rejection}"
            if previous is not None and previous.reason == verdict.rejection:
                return Considered.unchanged, reason
            self._replace(
                key,
                Heuristic(
                    id=previous.id if previous else None,
                    when=when,
                    recommendation=proposal.recommendation,
                    confidence=confidence,
                    provenance=provenance,
                    status=HeuristicStatus.rejected,
                    reason=verdict.rejection,
                    created_at=previous.created_at if previous else None,
                    last_checked=now,
                ),
            )
            return Considered.rejected, reason
        accepted = verdict.heuristic.model_copy(update={"last_checked": now, "status": status})
        if accepted.reason is not None:
            accepted = accepted.model_copy(
                update={"reason": f"added {now.date().isoformat()}: {accepted.reason}"}
            )
        if previous is not None:
            # A rejected candidate that the evidence now supports.
            accepted = accepted.model_copy(
                update={"id": previous.id, "created_at": previous.created_at}
            )
        self._replace(key, accepted)
        return (Considered.added if previous is None else Considered.updated), None

    @property
    def changed(self) -> bool:
        """Whether :meth:`write` has anything to write."""
        return bool(self._dirty or self._new or self._unparsed)

    def write(self, store: Store, conn: sa.Connection) -> None:
        """Write every change inside the caller's transaction ``conn`` (the updates in
        one statement: a run re-checks every live heuristic)."""
        store.update_heuristics(list(self._dirty.values()), conn)
        for h in [*self._new.values(), *self._unparsed]:
            store.insert_heuristic(h, conn)
