"""The reasoner protocol: four tasks that the pipeline asks of a reasoner.

A reasoner answers ``plan`` (propose GO / NO_GO / DELAY), ``review`` (red team),
``confirm`` (reflection on a production GO) and ``extract`` (heuristic proposals).
Every task carries the facts the pipeline computed first — context, guardrails already in
force, applicable heuristics, similar past episodes and the options with their estimated
costs — so an LLM reasoner sees the same evidence as the built-in one. Untrusted text
(``notes``) is carried separately and must be treated as data.

A reasoner raises :class:`release_agent.domain.errors.ReasonerError` when it cannot answer; the
stages decide what a fault means (never GO).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ..domain.models import Confirmation, Context, Decision, Heuristic, Plan, Review
from ..domain.policy import Costs

T = TypeVar("T")


@dataclass(frozen=True)
class Usage:
    """What one call cost: the model that served it and its token counts."""

    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class Answer(Generic[T]):
    value: T
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class RiskEstimate:
    """Estimated probability that a deploy in this context fails."""

    mean: float
    low: float
    high: float
    decide: float
    """The quantile the decision uses (the policy's ``risk_quantile``)."""
    evidence: int
    """Deployed episodes with a recorded outcome behind the estimate."""

    def to_dict(self) -> dict[str, float | int]:
        return {
            "mean": round(self.mean, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "decide": round(self.decide, 4),
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Option:
    """One action the planner may take, with its expected cost under the policy's costs."""

    decision: Decision
    at: datetime | None
    hours_waited: float
    risk: RiskEstimate | None
    expected_cost: float
    saving_sd: float = 0.0
    """For a DELAY: the noise in what it saves against GO now, in cost units (one standard
    deviation; see RiskModel.difference_noise)."""

    @property
    def score(self) -> float:
        """The expected cost, plus the noise of a DELAY's saving: the best of many noisy
        windows otherwise looks better than it is (the optimizer's curse)."""
        return self.expected_cost + self.saving_sd

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "at": self.at.isoformat() if self.at else None,
            "hours_waited": round(self.hours_waited, 2),
            "risk": self.risk.to_dict() if self.risk else None,
            "expected_cost": round(self.expected_cost, 4),
            "saving_sd": round(self.saving_sd, 4),
        }


@dataclass(frozen=True)
class Guardrails:
    """Hard rules in force at the moment considered; nothing downstream may loosen them."""

    forbid_go: bool
    reasons: tuple[str, ...] = ()
    open_at: datetime | None = None
    """The first moment no freeze covers, when GO is forbidden by a freeze."""

    @property
    def ceiling(self) -> Decision:
        """The least strict decision allowed."""
        return Decision.DELAY if self.forbid_go else Decision.GO


@dataclass(frozen=True)
class EpisodeSummary:
    release_id: str
    attributes: dict[str, Any]
    decision: Decision
    result: str | None
    summary: str


@dataclass(frozen=True)
class PlanTask:
    context: Context
    notes: str | None
    guardrails: Guardrails
    heuristics: tuple[Heuristic, ...]
    similar: tuple[EpisodeSummary, ...]
    costs: Costs
    go_now: Option
    windows: tuple[Option, ...]
    """DELAY candidates within the horizon, outside freezes, in time order."""
    no_go: Option
    recent: tuple[EpisodeSummary, ...] = ()
    """Deploys of this service in the 24 hours before, with their outcomes, newest first."""
    explore_seed: int | None = None
    """Set when the policy allows exploration (see reasoners/exploration.py)."""

    def best_window(self) -> Option | None:
        return min(self.windows, key=lambda o: o.score, default=None)

    def options(self) -> list[Option]:
        best = self.best_window()
        return [self.go_now, *([best] if best else []), self.no_go]


@dataclass(frozen=True)
class ReviewTask:
    plan_task: PlanTask
    plan: Plan


@dataclass(frozen=True)
class ConfirmTask:
    plan_task: PlanTask
    plan: Plan
    review: Review


@dataclass(frozen=True)
class PatternStat:
    """How deploys matching ``when`` turned out."""

    when: dict[str, Any]
    deployed: int
    failures: int


@dataclass(frozen=True)
class ExtractTask:
    base_deployed: int
    base_failures: int
    patterns: tuple[PatternStat, ...]
    existing: tuple[Heuristic, ...]
    recent: tuple[EpisodeSummary, ...]
    costs: Costs


@dataclass(frozen=True)
class HeuristicProposal:
    when: dict[str, Any]
    recommendation: Decision
    confidence: float
    supporting_episodes: int
    rationale: str = ""


@runtime_checkable
class Reasoner(Protocol):
    name: str

    def plan(self, task: PlanTask) -> Answer[Plan]: ...

    def review(self, task: ReviewTask) -> Answer[Review]: ...

    def confirm(self, task: ConfirmTask) -> Answer[Confirmation]: ...

    def extract(self, task: ExtractTask) -> Answer[list[HeuristicProposal]]: ...
