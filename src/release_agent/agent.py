"""The agent: the pipeline, memory and learning behind one object.

    agent = Agent(Store.open(url), load_policy(), reasoner=None)   # None: built-in
    record = agent.decide(request)          # runs the pipeline, stores the episode
    agent.record_outcome(record.release_id, Result.success)
    agent.learn()                           # one learning run, publishing new knowledge

A decision reads the newest knowledge snapshot (risk model, active heuristics, version;
checked at every decision, loaded only when a new one was published) and records its
version; it never learns. Learning runs when asked: ``agent.learn()``, ``release-agent
learn`` (cron), the background worker of ``serve`` (:mod:`release_agent.learn.worker`), or
the simulator every ``extract_every`` decisions.

The CLI, the HTTP API and the simulator are thin shells over this class.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from .decide import calendar as calendar_stage
from .decide import context as context_stage
from .decide.calendar import Calendar
from .decide.override import override as override_stage
from .decide.pipeline import Evidence, run
from .domain.calendar import SlotTaken
from .domain.errors import InvalidInput
from .domain.idempotency import Answer, decides_again
from .domain.models import (
    ON_FAILURE,
    Decision,
    DecisionRecord,
    OutcomeRecord,
    ReleaseRequest,
    Result,
    TraceEntry,
)
from .domain.overrides import checked_text, decision_of
from .domain.policy import Policy
from .domain.shadow import matches as shadow_env
from .learn.loop import LearnReport, learn
from .memory.refs import RefTaken
from .memory.store import Store
from .reasoners.base import Reasoner
from .reasoners.builtin import STREAK_HOURS, BuiltinReasoner
from .reasoners.exploration import RECURRENCE_DAYS
from .stats.knowledge import PRIOR_VERSION, Knowledge
from .stats.priors import stated_in
from .stats.risk_model import RiskModel

SIMILAR = 3
SLOT_TRIES = 5
"""Decisions made again, at most, when another process took their slot meanwhile."""


class Agent:
    def __init__(
        self,
        store: Store,
        policy: Policy | None = None,
        reasoner: Reasoner | None = None,
        on_llm_failure: str = "delay",
    ) -> None:
        if on_llm_failure not in ON_FAILURE:
            raise InvalidInput(
                f"{on_llm_failure!r} is not a failure mode",
                field="on_llm_failure",
                allowed=ON_FAILURE,
            )
        self.store = store
        self.policy = policy or Policy()
        self.builtin = BuiltinReasoner()
        self.reasoner: Reasoner = reasoner or self.builtin
        self.on_llm_failure = on_llm_failure
        self._knowledge: Knowledge | None = None
        self.last_learning: LearnReport | None = None

    def knowledge(self) -> Knowledge:
        """The newest published knowledge snapshot: the one held when nothing newer was
        published (a version check), else the new one, read once. Before anything was
        learned, the priors alone: the policy's ``[priors]`` over the defaults."""
        known = self.store.knowledge(self._knowledge)
        if known.version == PRIOR_VERSION and known is not self._knowledge:
            known = replace(known, model=RiskModel.prior(stated_in(self.policy.priors)))
        self._knowledge = known
        return self._knowledge

    def model(self) -> RiskModel:
        """The risk model decisions use now (the newest snapshot's)."""
        return self.knowledge().model

    def decide(self, request: ReleaseRequest) -> DecisionRecord:
        """Run the pipeline on ``request`` with the newest knowledge snapshot and store the
        episode, with the snapshot's version. Never learns. A request whose ref was
        decided already gets the stored record (see :meth:`answer`)."""
        return self.answer(request).record

    def answer(self, request: ReleaseRequest) -> Answer:
        """:meth:`decide`, saying whether the record was decided now or is the stored
        decision of the request's ref (``replayed``): a ref already decided answers its
        live decision unless ``request.delays`` is higher, and then the new decision
        supersedes it. Raises Conflict for a ref decided for another release."""
        stored = self.store.decision_by_ref(request.ref) if request.ref else None
        if stored is not None and not decides_again(request, stored):
            return Answer(stored, replayed=True)
        try:
            return Answer(self._decide(request, stored.release_id if stored else None))
        except RefTaken as taken:
            return Answer(self.store.get_decision(taken.release_id), replayed=True)

    def _decide(self, request: ReleaseRequest, supersedes: str | None) -> DecisionRecord:
        """Decide and store. The calendar is read before the pipeline runs and the slot
        booked after it, so another process may book a clashing slot in between: the
        store then refuses the booking (SlotTaken, nothing written) and the decision is
        made again with the calendar as it is now, up to SLOT_TRIES times. A decision
        that lost its slot that often is made once more holding the environment's
        calendar from the read to the write (Store.calendar_locked): it sees every
        booking there is, so it never books, and so never GOes on, a slot it knows is
        taken, at the cost of making the environment's other decisions wait for it."""
        policy = self.policy.for_team(request.team)
        for tries in range(SLOT_TRIES):
            with self.store.shared_reads():  # one snapshot, one connection
                base = self._evidence(request, policy)
                calendar = self.calendar_for(request)
            try:
                return self._settle(request, supersedes, policy, base, tries, calendar=calendar)
            except SlotTaken:
                continue
        base = self._evidence(request, policy)
        with self.store.calendar_locked(request.env) as held:
            return self._settle(request, supersedes, policy, base, SLOT_TRIES, held)

    def _evidence(self, request: ReleaseRequest, policy: Policy) -> tuple[Evidence, int]:
        """What memory says about ``request``, but the calendar (read as it is settled),
        and the version of the knowledge it holds."""
        knowledge = self.knowledge()
        context = context_stage.evaluate(request, policy.settings)

        def neighbours() -> tuple[list[dict[str, Any]], float]:
            # Read up to the start of the hour: asking again within it changes nothing.
            recent = self.store.recent_contexts(
                request.at.replace(minute=0, second=0, microsecond=0), RECURRENCE_DAYS
            )
            return recent.contexts, recent.days

        evidence = Evidence(
            model=knowledge.model,
            # Only those that can match some moment of this release: the same decision
            # as with all of them, without matching a thousand at every moment.
            heuristics=list(knowledge.relevant(context.attributes())),
            similar=[e.summarized() for e in self.store.similar_episodes(context, SIMILAR)],
            recent=[
                e.summarized()
                for e in self.store.recent_outcomes(context.service, request.at, STREAK_HOURS)
            ],
            neighbours=neighbours,
        )
        return evidence, knowledge.version

    def _settle(
        self,
        request: ReleaseRequest,
        supersedes: str | None,
        policy: Policy,
        base: tuple[Evidence, int],
        tries: int,
        held: Connection | None = None,
        calendar: Calendar | None = None,
    ) -> DecisionRecord:
        """Run the pipeline and store the decision (inside ``held``, the caller's locked
        transaction, when given; the calendar read there unless ``calendar`` is given).
        Raises SlotTaken when, outside ``held``, a clashing booking appeared since the
        calendar was read."""
        if calendar is None:
            calendar = self.calendar_for(request, held)
        evidence = replace(base[0], calendar=calendar)
        outcome = run(
            request,
            policy,
            evidence,
            self.reasoner,
            self.builtin,
            on_failure=self.on_llm_failure,
        )
        record = outcome.record
        record.knowledge_version = base[1]
        record.shadow = request.shadow or shadow_env(request.env, policy.settings.shadow)
        detail: dict[str, Any] = {"deploy_at": outcome.deploy_context.at.isoformat()}
        if tries:
            detail["calendar_retries"] = tries
        record.trace.append(
            TraceEntry(
                stage="memory",
                state=record.states[-1].split(":")[0],
                summary=f"stored as episode {record.release_id}",
                detail=detail,
            )
        )
        self.store.save_decision(
            record,
            outcome.deploy_context,
            held,
            supersedes=supersedes,
            frees=calendar.own,
            book=policy.calendar.enabled,
            guard=None if held is not None else calendar_stage.recheck(request, policy, calendar),
        )
        return record

    def calendar_for(self, request: ReleaseRequest, conn: Connection | None = None) -> Calendar:
        """The change calendar a decision on ``request`` sees: the open bookings of its
        environment around its moment (none when the policy turns the calendar off);
        ``conn``: read inside that transaction."""
        policy = self.policy.for_team(request.team)
        if not policy.calendar.enabled:
            return Calendar(settings=policy.calendar)
        start, end = calendar_stage.read_span(request, policy)
        found = self.store.bookings_around(request.env, start, end, conn)
        return calendar_stage.for_request(request, policy, found)

    def override(
        self, release_id: str, decision: Decision | str, by: str, reason: str
    ) -> DecisionRecord:
        """A human's override of the decision ``release_id`` (or a unique prefix): the
        record's decision becomes ``decision``, the agent's is kept in ``override``, and
        the audit log gains an entry. Raises InvalidInput for a bad field, NotFound for an
        unknown id, Conflict when it may not be overridden (see decide/override.py)."""
        to = decision_of(decision)
        who = checked_text(by, "by")
        why = checked_text(reason, "reason")
        now = datetime.now(UTC)
        return self.store.override(
            release_id,
            lambda record: override_stage(
                record, to, who, why, self.policy.for_team(record.request.team), now
            ),
        )

    def record_outcome(
        self, release_id: str, result: Result, notes: str | None = None, *, replace: bool = False
    ) -> OutcomeRecord:
        """Record what happened after the deploy (refused for a NO_GO: override it
        first)."""
        return self.store.record_outcome(release_id, result, notes, replace=replace)

    def learn(self, *, wait: float = 0.0) -> LearnReport:
        """One learning run (see :func:`release_agent.learn.loop.learn`); the agent decides
        with the knowledge it publishes from then on. Raises LearnerBusy when another
        learner holds the lock for more than ``wait`` seconds."""
        report, self._knowledge = learn(
            self.store, self.policy, self.reasoner, self._knowledge, wait=wait
        )
        self.last_learning = report
        return report

    def get(self, release_id: str) -> DecisionRecord:
        return self.store.get_decision(release_id)

    def history(
        self,
        service: str | None = None,
        decision: Decision | None = None,
        limit: int = 50,
        before: str | None = None,
        ref: str | None = None,
        team: str | None = None,
    ) -> list[DecisionRecord]:
        return self.store.list_decisions(
            service=service, decision=decision, limit=limit, before=before, ref=ref, team=team
        )
