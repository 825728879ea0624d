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
from typing import Generic, Protocol, TypeVar, runtime_checkable

from ..domain.episodes import EpisodeSummary
from ..domain.models import Confirmation, Context, Heuristic, Plan, ReasonerCall, Review
from ..domain.options import Guardrails, HeuristicProposal, Option, PatternStat, Teaching
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
    call: ReasonerCall | None = None
    """The reasoner's own record of the call, when it keeps one (LLM reasoners: attempts,
    status, tokens even of an answer our validation refused)."""


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
    explore: bool = False
    """Whether the policy lets a NO_GO on thin evidence be tried for what it teaches."""
    teaching: Teaching | None = None
    """What deploying instead of refusing would teach, when the policy allows exploring
    and refusing is cheapest on the estimate (see reasoners/exploration.py)."""

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
class ExtractTask:
    base_deployed: int
    base_failures: int
    patterns: tuple[PatternStat, ...]
    existing: tuple[Heuristic, ...]
    recent: tuple[EpisodeSummary, ...]
    costs: Costs


@runtime_checkable
class Reasoner(Protocol):
    name: str

    def plan(self, task: PlanTask) -> Answer[Plan]: ...

    def review(self, task: ReviewTask) -> Answer[Review]: ...

    def confirm(self, task: ConfirmTask) -> Answer[Confirmation]: ...

    def extract(self, task: ExtractTask) -> Answer[list[HeuristicProposal]]: ...
