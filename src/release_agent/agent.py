"""The agent: the pipeline, memory and learning behind one object.

    agent = Agent(Store.open(url), load_policy(), reasoner=None)   # None: built-in
    record = agent.decide(request)          # runs the pipeline, stores the episode
    agent.record_outcome(record.release_id, Result.success)
    agent.learn()                           # also runs every `extract_every` decisions

The CLI, the HTTP API and the simulator are thin shells over this class.
"""

from __future__ import annotations

from .decide import context as context_stage
from .decide.pipeline import Evidence, run
from .decide.planner import ON_FAILURE
from .domain.errors import InvalidInput
from .domain.models import (
    Decision,
    DecisionRecord,
    OutcomeRecord,
    ReleaseRequest,
    Result,
    TraceEntry,
)
from .domain.policy import Policy
from .learn import knowledge as risk
from .learn.loop import LearnReport, learn
from .memory.store import Store
from .reasoners.base import Reasoner
from .reasoners.builtin import BuiltinReasoner
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
        self._model: RiskModel | None = None
        self.last_learning: LearnReport | None = None

    def model(self) -> RiskModel:
        self._model = risk.current(
            self.store, self.policy.settings.extract_every, cached=self._model
        )
        return self._model

    def decide(self, request: ReleaseRequest) -> DecisionRecord:
        """Run the pipeline on ``request``, store the episode, and learn when it is due."""
        context = context_stage.evaluate(request, self.policy.settings)
        evidence = Evidence(
            model=self.model(),
            heuristics=self.store.active_heuristics(),
            similar=[e.summarized() for e in self.store.similar_episodes(context, SIMILAR)],
            recent=[
                e.summarized()
                for e in self.store.recent_outcomes(context.service, request.at, STREAK_HOURS)
            ],
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
        record.trace.append(
            TraceEntry(
                stage="memory",
                state=record.states[-1].split(":")[0],
                summary=f"stored as episode {record.release_id}",
                detail={"deploy_at": outcome.deploy_context.at.isoformat()},
            )
        )
        self.store.save_decision(record, outcome.deploy_context)
        if self.store.count_decisions() % self.policy.settings.extract_every == 0:
            self.learn()
        return record

    def record_outcome(
        self, release_id: str, result: Result, notes: str | None = None, *, replace: bool = False
    ) -> OutcomeRecord:
        return self.store.record_outcome(release_id, result, notes, replace=replace)

    def learn(self) -> LearnReport:
        report, self._model = learn(self.store, self.policy, self.reasoner, warm=self._model)
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
