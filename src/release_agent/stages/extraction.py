"""Stage 9: learning — every N decisions, heuristics are extracted, validated and stored,
existing ones re-checked against the outcomes, and the risk model refitted.

Mined proposals come from the counts in memory (provenance ``mined``); a configured LLM
reasoner may propose more (provenance ``llm``). Every proposal passes
:mod:`release_agent.heuristics.validation`, including a recount of its support;
rejections are stored with their reason. A fault in an LLM's extraction adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..conditions import canonical_key, normalize
from ..errors import InvalidInput
from ..heuristics import mining
from ..heuristics.validation import validate
from ..memory import risk
from ..memory.store import Store
from ..models import Decision, Heuristic, HeuristicStatus, Provenance, ReasonerCall
from ..policy import Policy
from ..reasoners.base import EpisodeSummary, ExtractTask, HeuristicProposal, Reasoner
from ..reasoners.builtin import BuiltinReasoner
from ..reasoners.risk_model import RiskModel
from .calls import invoke

RECENT = 20


@dataclass
class LearnReport:
    proposed: int = 0
    added: int = 0
    updated: int = 0
    rejected: list[str] = field(default_factory=list)
    retired: int = 0
    reactivated: int = 0
    outcomes: int = 0
    calls: list[ReasonerCall] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "proposed": self.proposed,
            "added": self.added,
            "updated": self.updated,
            "rejected": self.rejected,
            "retired": self.retired,
            "reactivated": self.reactivated,
            "outcomes": self.outcomes,
            "calls": [c.model_dump(mode="json") for c in self.calls],
        }


def recheck(h: Heuristic, deployed: int, failures: int, base: float, threshold: float) -> Heuristic:
    """The heuristic with its evidence recounted: confidence recomputed for mined ones,
    retired when the evidence no longer supports it, reactivated when it does again."""
    now = datetime.now(UTC)
    update: dict[str, object] = {
        "support": deployed,
        "failures": failures,
        "successes": deployed - failures,
        "last_checked": now,
    }
    if h.provenance is Provenance.mined and deployed > 0:
        above = mining.probability_above(failures, deployed, base)
        confidence = above if h.recommendation is not Decision.GO else 1 - above
        update["confidence"] = round(confidence, 3)
        if confidence < threshold and h.status is HeuristicStatus.active:
            update["status"] = HeuristicStatus.retired
            update["reason"] = (
                f"retired: {failures} failures in {deployed} deploys no longer support "
                f"{h.recommendation.value} (confidence {confidence:.2f} < {threshold})"
            )
        elif confidence >= threshold and h.status is HeuristicStatus.retired:
            update["status"] = HeuristicStatus.active
            update["reason"] = f"reactivated: confidence {confidence:.2f} again"
    return h.model_copy(update=update)


def _store_proposal(
    store: Store,
    proposal: HeuristicProposal,
    provenance: Provenance,
    existing: dict[tuple[str, str], Heuristic],
    report: LearnReport,
) -> None:
    try:
        when = normalize(proposal.when)
    except InvalidInput as error:
        rejected = Heuristic(
            when={"unparsed": str(proposal.when)[:200]},
            recommendation=Decision.NO_GO,
            confidence=0.0,
            provenance=provenance,
            status=HeuristicStatus.rejected,
            reason=str(error),
        )
        report.rejected.append(str(error))
        _insert_raw_rejection(store, rejected)
        return
    recount = mining.count_matching(store, when)
    verdict = validate(
        when,
        proposal.recommendation,
        proposal.confidence,
        proposal.supporting_episodes,
        provenance,
        recount=recount,
    )
    key = (canonical_key(when), proposal.recommendation.value)
    if verdict.heuristic is None:
        report.rejected.append(f"{canonical_key(when)}: {verdict.rejection}")
        previous = existing.get(key)
        if previous is None or previous.status is HeuristicStatus.rejected:
            rejected = Heuristic(
                id=previous.id if previous else None,
                when=when,
                recommendation=proposal.recommendation,
                confidence=max(0.0, min(1.0, float(proposal.confidence))),
                provenance=provenance,
                status=HeuristicStatus.rejected,
                reason=verdict.rejection,
                last_checked=datetime.now(UTC),
            )
            if previous is None:
                existing[key] = rejected.model_copy(update={"id": store.insert_heuristic(rejected)})
            else:
                store.update_heuristic(rejected)
        return
    accepted = verdict.heuristic.model_copy(update={"last_checked": datetime.now(UTC)})
    previous = existing.get(key)
    if previous is None:
        new_id = store.insert_heuristic(accepted)
        existing[key] = accepted.model_copy(update={"id": new_id})
        report.added += 1
    elif previous.status is not HeuristicStatus.retired:
        merged = accepted.model_copy(
            update={
                "id": previous.id,
                "provenance": previous.provenance,
                "created_at": previous.created_at,
                "status": HeuristicStatus.active,
                "reason": None,
            }
        )
        store.update_heuristic(merged)
        existing[key] = merged
        report.updated += 1


def _insert_raw_rejection(store: Store, rejected: Heuristic) -> None:
    # A condition that does not parse is kept verbatim so the rejection can be read.
    store.insert_heuristic(rejected)


def learn(
    store: Store,
    policy: Policy,
    reasoner: Reasoner,
    builtin: BuiltinReasoner,
    warm: RiskModel | None = None,
) -> tuple[LearnReport, RiskModel]:
    """Learn from every outcome in memory now; returns the report and the refitted model."""
    report = LearnReport(outcomes=store.count_outcomes())
    threshold = policy.settings.heuristic_threshold
    base_deployed, base_failures, patterns = mining.pattern_stats(store)
    base = (base_failures + 1) / (base_deployed + 2)
    existing: dict[tuple[str, str], Heuristic] = {}
    for h in store.list_heuristics():
        if h.status is not HeuristicStatus.rejected:
            deployed, failures = mining.count_matching(store, h.when)
            checked = recheck(h, deployed, failures, base, threshold)
            if checked.status is not h.status:
                if checked.status is HeuristicStatus.retired:
                    report.retired += 1
                else:
                    report.reactivated += 1
            store.update_heuristic(checked)
            h = checked
        existing[(canonical_key(h.when), h.recommendation.value)] = h
    task = ExtractTask(
        base_deployed=base_deployed,
        base_failures=base_failures,
        patterns=tuple(patterns),
        existing=tuple(h for h in existing.values() if h.status is HeuristicStatus.active),
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
            _store_proposal(store, proposal, provenance, existing, report)
    model = risk.fit(store, warm=warm)
    return report, model


def recent_summaries(store: Store, limit: int = RECENT) -> list[EpisodeSummary]:
    from ..memory.episodes import summary_of

    return [summary_of(row) for row in store.list_episodes(limit)]
