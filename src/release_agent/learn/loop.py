"""Stage 9: learning — stored heuristics are re-checked against the outcomes, new ones
extracted, validated and stored, and the risk model refitted.

One run reads memory once (:func:`release_agent.stats.mining.load_cells`, a single
aggregate query); every recount, the mining and the risk model's fit work on those cells.

1. Stored heuristics that share a merge key (the same conditions up to order and
   notation, the same direction) merge into one; the others become ``rejected`` with the
   reason "duplicate of #id".
2. Cautionary heuristics are re-checked against the base rate (see
   :mod:`release_agent.stats.lifecycle`).
3. Mining selects the patterns the outcomes single out, beyond what the active
   heuristics already say; GO heuristics are then re-checked against the ordinary rate.
4. The built-in reasoner turns the mined patterns into proposals (provenance ``mined``);
   a configured LLM reasoner may propose more from the same evidence (``llm``). Every
   proposal passes :func:`release_agent.stats.validation.validate` with its recount;
   a rejection is stored with its reason; a proposal that duplicates a stored heuristic
   merges into it. A fault in an LLM's extraction adds nothing.
5. All changes are written in one transaction; then the risk model is refitted (with
   the active mined patterns as effects) and stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..domain.conditions import describe
from ..domain.errors import InvalidInput
from ..domain.models import Decision, Heuristic, HeuristicStatus, Provenance, ReasonerCall
from ..domain.policy import Policy
from ..memory.store import Store
from ..reasoners.base import EpisodeSummary, ExtractTask, HeuristicProposal, Reasoner
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.calls import invoke
from ..stats import mining
from ..stats.evidence import Baseline
from ..stats.lifecycle import Change, recheck
from ..stats.risk_model import RiskModel
from ..stats.validation import canonical_when, merge_key, validate
from . import knowledge as risk

RECENT = 20
Key = tuple[str, str]
_RANK = {HeuristicStatus.active: 0, HeuristicStatus.retired: 1, HeuristicStatus.rejected: 2}


@dataclass
class LearnReport:
    proposed: int = 0
    added: int = 0
    updated: int = 0
    merged: int = 0
    rejected: list[str] = field(default_factory=list)
    checked: int = 0
    strengthened: int = 0
    weakened: int = 0
    retired: int = 0
    reactivated: int = 0
    outcomes: int = 0
    base_rate: float | None = None
    calls: list[ReasonerCall] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "proposed": self.proposed,
            "added": self.added,
            "updated": self.updated,
            "merged": self.merged,
            "rejected": self.rejected,
            "checked": self.checked,
            "strengthened": self.strengthened,
            "weakened": self.weakened,
            "retired": self.retired,
            "reactivated": self.reactivated,
            "outcomes": self.outcomes,
            "base_rate": None if self.base_rate is None else round(self.base_rate, 4),
            "calls": [c.model_dump(mode="json") for c in self.calls],
        }

    def count(self, change: Change) -> None:
        self.checked += 1
        if change is Change.strengthened:
            self.strengthened += 1
        elif change is Change.weakened:
            self.weakened += 1
        elif change is Change.retired:
            self.retired += 1
        elif change is Change.reactivated:
            self.reactivated += 1


class _Book:
    """The heuristics of one learning run, by merge key, with what must be written."""

    def __init__(self, stored: list[Heuristic]) -> None:
        self.by_key: dict[Key, Heuristic] = {}
        self.unkeyed: list[Heuristic] = []
        self.dirty: dict[int, Heuristic] = {}
        self.new: dict[Key, Heuristic] = {}
        self.unparsed: list[Heuristic] = []
        self.merged = 0
        for h in sorted(stored, key=lambda h: (_RANK[h.status], h.id or 0)):
            try:
                when = canonical_when(h.when)
            except InvalidInput:
                self.unkeyed.append(h)  # a rejected proposal kept verbatim
                continue
            key = merge_key(when, h.recommendation)
            kept = self.by_key.get(key)
            if kept is None:
                if when != h.when:
                    h = h.model_copy(update={"when": when})
                    self.replace(key, h)
                self.by_key[key] = h
            elif h.status is not HeuristicStatus.rejected and h.id is not None:
                self.merged += 1
                self.dirty[h.id] = h.model_copy(
                    update={
                        "status": HeuristicStatus.rejected,
                        "reason": f"duplicate of heuristic #{kept.id}: merged into it",
                    }
                )

    def replace(self, key: Key, h: Heuristic) -> None:
        """Make ``h`` the heuristic of ``key``, to be written (inserted if it has no id)."""
        self.by_key[key] = h
        if h.id is None:
            self.new[key] = h
        else:
            self.dirty[h.id] = h

    def live(self) -> list[Heuristic]:
        return [h for h in self.by_key.values() if h.status is not HeuristicStatus.rejected]

    def write(self, store: Store) -> None:
        with store.transaction() as conn:
            for h in self.dirty.values():
                store.update_heuristic(h, conn)
            for h in [*self.new.values(), *self.unparsed]:
                store.insert_heuristic(h, conn)


def _recheck_all(
    book: _Book,
    cells: mining.Cells,
    base: Baseline,
    now: datetime,
    report: LearnReport,
    go: bool,
) -> None:
    for key, h in list(book.by_key.items()):
        if h.status is HeuristicStatus.rejected or (h.recommendation is Decision.GO) != go:
            continue
        deployed, failures = cells.count(h.when)
        checked = recheck(h, deployed, failures, base, now)
        report.count(checked.change)
        book.replace(key, checked.heuristic)


def _active(book: _Book, go: bool) -> list[dict]:
    return [
        h.when
        for h in book.live()
        if h.status is HeuristicStatus.active and (h.recommendation is Decision.GO) == go
    ]


def _store_proposal(
    book: _Book,
    proposal: HeuristicProposal,
    provenance: Provenance,
    cells: mining.Cells,
    base: Baseline,
    now: datetime,
    report: LearnReport,
) -> None:
    try:
        when = canonical_when(proposal.when)
    except InvalidInput as error:
        report.rejected.append(str(error))
        # A condition that does not parse is kept verbatim so the rejection can be read.
        book.unparsed.append(
            Heuristic(
                when={"unparsed": str(proposal.when)[:200]},
                recommendation=proposal.recommendation,
                confidence=max(0.0, min(1.0, float(proposal.confidence))),
                provenance=provenance,
                status=HeuristicStatus.rejected,
                reason=str(error),
                last_checked=now,
            )
        )
        return
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
    previous = book.by_key.get(key)
    if previous is not None and previous.status is not HeuristicStatus.rejected:
        # The same heuristic is stored and was re-checked this run: the proposal adds
        # nothing but a vote already counted in its evidence.
        report.merged += 1
        return
    if verdict.heuristic is None:
        report.rejected.append(f"{describe(when)}: {verdict.rejection}")
        book.replace(
            key,
            Heuristic(
                id=previous.id if previous else None,
                when=when,
                recommendation=proposal.recommendation,
                confidence=max(0.0, min(1.0, float(proposal.confidence))),
                provenance=provenance,
                status=HeuristicStatus.rejected,
                reason=verdict.rejection,
                created_at=previous.created_at if previous else None,
                last_checked=now,
            ),
        )
        return
    accepted = verdict.heuristic.model_copy(update={"last_checked": now})
    if previous is None:
        report.added += 1
    else:
        # A rejected candidate that the evidence now supports.
        accepted = accepted.model_copy(
            update={"id": previous.id, "created_at": previous.created_at}
        )
        report.updated += 1
    book.replace(key, accepted)


def learn(
    store: Store,
    policy: Policy,
    reasoner: Reasoner,
    builtin: BuiltinReasoner,
    warm: RiskModel | None = None,
) -> tuple[LearnReport, RiskModel]:
    """Learn from every outcome in memory now; returns the report and the refitted model.

    Raises StoreError when the database fails (nothing is written then).
    """
    now = datetime.now(UTC)
    cells = mining.load_cells(store)
    deployed, failures = cells.totals
    report = LearnReport(outcomes=deployed)
    book = _Book(store.list_heuristics())
    report.merged += book.merged

    _recheck_all(book, cells, Baseline.of(deployed, failures), now, report, go=False)
    mined = mining.mine(cells, _active(book, go=False), _active(book, go=True))
    base = mined.baseline
    report.base_rate = base.rate if deployed else None
    _recheck_all(book, cells, base, now, report, go=True)

    task = ExtractTask(
        base_deployed=deployed,
        base_failures=failures,
        patterns=tuple(mined.patterns),
        existing=tuple(h for h in book.live() if h.status is HeuristicStatus.active),
        recent=tuple(recent_summaries(store)),
        costs=policy.costs,
    )
    sources: list[tuple[Reasoner, Provenance]] = [(builtin, Provenance.mined)]
    if reasoner.name != builtin.name:
        sources.append((reasoner, Provenance.llm))
    for source, provenance in sources:
        value, call, error = invoke(source, "extract", task)
        report.calls.append(call)
        if error is not None or not isinstance(value, list):
            continue
        for proposal in value:
            report.proposed += 1
            _store_proposal(book, proposal, provenance, cells, base, now, report)
    book.write(store)

    # The risk model takes the active mined patterns as effects of its own, so it is
    # refitted after the heuristics are written.
    model = risk.fit(store, warm=warm, cells=cells.risk_cells())
    return report, model


def recent_summaries(store: Store, limit: int = RECENT) -> list[EpisodeSummary]:
    from ..memory.episodes import summary_of

    return [summary_of(row) for row in store.list_episodes(limit)]
