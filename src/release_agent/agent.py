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

from .decide import context as context_stage
from .decide.pipeline import Evidence, run
from .domain.errors import InvalidInput
from .domain.models import (
    ON_FAILURE,
    Decision,
    DecisionRecord,
    OutcomeRecord,
    ReleaseRequest,
    Result,
    TraceEntry,
)
from .domain.policy import Policy
from .learn.loop import LearnReport, learn
from .memory.store import Store
from .reasoners.base import Reasoner
from .reasoners.builtin import BuiltinReasoner
from .reasoners.exploration import RECURRENCE_DAYS
from .stats.knowledge import PRIOR_VERSION, Knowledge
from .stats.priors import stated_in
from .stats.risk_model import RiskModel

SIMILAR = 3
STREAK_HOURS = 24.0


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
        episode, with the snapshot's version. Never learns."""
        knowledge = self.knowledge()
        context = context_stage.evaluate(request, self.policy.settings)
        # Read up to the start of the hour: asking again within it changes nothing.
        recent = self.store.recent_contexts(
            request.at.replace(minute=0, second=0, microsecond=0), RECURRENCE_DAYS
        )
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
            neighbours=recent.contexts,
            neighbour_days=recent.days,
        )
        outcome = run(
            request,
            self.policy,
            evidence,
            self.reasoner,
            self.builtin,
            on_failure=self.on_llm_failure,
        )
        record = outcome.record
        record.knowledge_version = knowledge.version
        record.trace.append(
            TraceEntry(
                stage="memory",
                state=record.states[-1].split(":")[0],
                summary=f"stored as episode {record.release_id}",
                detail={"deploy_at": outcome.deploy_context.at.isoformat()},
            )
        )
        self.store.save_decision(record, outcome.deploy_context)
        return record

    def record_outcome(
        self, release_id: str, result: Result, notes: str | None = None, *, replace: bool = False
    ) -> OutcomeRecord:
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
    ) -> list[DecisionRecord]:
        return self.store.list_decisions(
            service=service, decision=decision, limit=limit, before=before
        )
