"""What the decide loop weighs: risk estimates, priced options, guardrails in force, and
the evidence records (past episodes, pattern counts, heuristic proposals) it shows a
reasoner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import Decision


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
    """For a DELAY: how much better than it is this window may look for having been
    picked among many noisy ones, in cost units (decide/scheduling.py)."""

    @property
    def score(self) -> float:
        """The expected cost, plus a DELAY's selection penalty: the best of many noisy
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
class Teaching:
    """What deploying ``option`` would teach, priced (stats/information.py): the net
    expected saving on the later decisions its outcomes inform, if ``deploys`` such
    deploys are made, each costing ``extra_cost`` more than refusing."""

    option: Option
    value: float
    extra_cost: float
    deploys: int
    future: int
    """The later decisions counted (the last RECURRENCE_DAYS days' stand in for the next)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 4),
            "extra_cost": round(self.extra_cost, 4),
            "deploys": self.deploys,
            "future": self.future,
            "decision": self.option.decision.value,
            "at": self.option.at.isoformat() if self.option.at else None,
        }


@dataclass(frozen=True)
class PatternStat:
    """How deploys matching ``when`` turned out."""

    when: dict[str, Any]
    deployed: int
    failures: int


@dataclass(frozen=True)
class HeuristicProposal:
    """A candidate heuristic, from mining or a reasoner; validation decides its fate."""

    when: dict[str, Any]
    recommendation: Decision
    confidence: float
    supporting_episodes: int
    rationale: str = ""
