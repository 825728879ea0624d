"""One learning run: stored heuristics are re-checked against the outcomes, new ones
extracted, validated and stored, the risk model refitted, and a new knowledge snapshot
published.

One run reads memory once, as cells (:meth:`release_agent.memory.store.Store.outcome_cells`,
the counts kept per context cell as outcomes are written); every recount, the mining and
the risk model's fit work on those cells, so a run costs by the number of cells, not of
episodes. One learner runs at a time per database, across processes
(:meth:`~release_agent.memory.store.Store.learner_lock`).

1. Stored heuristics that share a merge key merge into one (see :mod:`.book`).
2. Cautionary heuristics are re-checked against the base rate (see
   :mod:`release_agent.stats.lifecycle`).
3. Mining selects the patterns the outcomes single out, beyond what the active
   heuristics already say; GO heuristics are then re-checked against the ordinary rate.
4. The mined patterns become proposals (provenance ``mined``); a configured LLM reasoner
   may propose more from the same evidence (``llm``). Every proposal enters the
   heuristic book (:mod:`.book`), which validates it with its recount, keeps a rejection
   with its reason and merges a duplicate into the stored heuristic. A fault in an
   LLM's extraction adds nothing.
5. All changes to the heuristics are written in one transaction; then the risk model is
   refitted (with the active mined patterns as effects) outside any transaction, and
   stored and published with the active heuristics as the next knowledge version in
   another. Decisions go on reading the previous snapshot until that commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..domain.episodes import EpisodeSummary
from ..domain.models import HeuristicStatus, Provenance, ReasonerCall
from ..domain.options import HeuristicProposal
from ..domain.policy import Policy
from ..memory.store import Store
from ..reasoners.base import ExtractTask, Reasoner
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.calls import invoke
from ..stats import mining
from ..stats.evidence import Baseline
from ..stats.knowledge import Knowledge
from ..stats.lifecycle import Change
from ..stats.priors import stated_in
from . import knowledge
from .book import Considered, HeuristicBook

RECENT = 20


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
    knowledge_version: int | None = None
    """The knowledge version the run published."""

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


def learn(
    store: Store,
    policy: Policy,
    reasoner: Reasoner,
    known: Knowledge | None = None,
    *,
    wait: float = 0.0,
) -> tuple[LearnReport, Knowledge]:
    """Learn from every outcome in memory now; returns the report and the knowledge
    snapshot the run published. ``known`` is the caller's newest snapshot, if it has one
    (the fit starts from its model, and it is not read again).

    Raises LearnerBusy when another learner holds the lock for more than ``wait``
    seconds (nothing is done), StoreError when the database fails (the heuristics'
    changes are then written entirely or not at all, and no snapshot is published).
    """
    with store.learner_lock(wait):
        return _run(store, policy, reasoner, store.knowledge(known))


def _run(
    store: Store, policy: Policy, reasoner: Reasoner, known: Knowledge
) -> tuple[LearnReport, Knowledge]:
    now = datetime.now(UTC)
    store.age_evidence(policy.priors.half_life())
    cells = store.outcome_cells()
    deployed, failures = cells.totals
    report = LearnReport(outcomes=deployed)
    book = HeuristicBook(store.list_heuristics())
    report.merged += book.merged

    for change in book.recheck(cells, Baseline.of(deployed, failures), now, go=False):
        report.count(change)
    mined = mining.mine(cells, book.active_conditions(go=False), book.active_conditions(go=True))
    base = mined.baseline
    report.base_rate = base.rate if deployed else None
    for change in book.recheck(cells, base, now, go=True):
        report.count(change)

    proposals: list[tuple[HeuristicProposal, Provenance]] = [
        (p, Provenance.mined) for p in mining.propose(deployed, failures, mined.patterns)
    ]
    if not isinstance(reasoner, BuiltinReasoner):
        # An LLM may propose more from the same evidence; the built-in reasoner would only
        # repeat what mining just found.
        task = ExtractTask(
            base_deployed=deployed,
            base_failures=failures,
            patterns=tuple(mined.patterns),
            existing=tuple(h for h in book.live() if h.status is HeuristicStatus.active),
            recent=tuple(recent_summaries(store)),
            costs=policy.costs,
        )
        value, call, error = invoke(reasoner, "extract", task)
        report.calls.append(call)
        if error is None and isinstance(value, list):
            proposals += [(p, Provenance.llm) for p in value]
    for proposal, provenance in proposals:
        report.proposed += 1
        done, why = book.consider(proposal, provenance, cells, base, now)
        if done is Considered.added:
            report.added += 1
        elif done is Considered.updated:
            report.updated += 1
        elif done is Considered.merged:
            report.merged += 1
        elif why is not None:
            report.rejected.append(why)
    with store.transaction() as conn:
        book.write(store, conn)
        active = store.list_heuristics(HeuristicStatus.active, conn=conn)

    # The risk model takes the active mined patterns as effects of its own, so it is
    # fitted after the heuristics are written; outside any transaction, since it takes
    # a while and writers must not wait for it.
    model = knowledge.fit(
        cells.risk_cells(), active, warm=known.model, priors=stated_in(policy.priors)
    )
    with store.transaction() as conn:
        published = store.publish_knowledge(conn, "learn", model, deployed)
    report.knowledge_version = published.version
    return report, published


def recent_summaries(store: Store, limit: int = RECENT) -> list[EpisodeSummary]:
    return [e.summarized() for e in store.list_episodes(limit)]
