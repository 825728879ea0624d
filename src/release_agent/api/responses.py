"""What the API answers, as typed models: they give the OpenAPI document its response
schemas, and FastAPI checks every answer against them.

A decision record is the domain's ``DecisionRecord`` itself (what ``decide --json``
prints); the others wrap domain objects in the shape the API has always answered.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..domain.conditions import describe
from ..domain.episodes import Episode
from ..domain.models import (
    Decision,
    DecisionRecord,
    Heuristic,
    ReasonerCall,
    ReleaseRequest,
    Result,
)
from ..domain.scenarios import Scenario
from ..stats.evidence import confidence_text


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemEntry(_Answer):
    """One thing wrong with a request."""

    field: str | None = Field(description="the input at fault, or null when none is")
    message: str = Field(description="what is wrong and how to fix it")
    allowed: list[str] | None = Field(
        description="the values the field may take, where that is a short list"
    )


class Problem(_Answer):
    """Every error the API answers has this shape."""

    detail: list[ProblemEntry] = Field(min_length=1)


class DecisionPage(_Answer):
    """Decisions newest first; ``next`` is the ``before`` of the following page, or null
    on the last page."""

    items: list[DecisionRecord]
    next: str | None


class HeuristicView(Heuristic):
    """A heuristic with its evidence, a readable form of its condition, and its confidence
    as every view shows it (the number and the counts it comes from)."""

    description: str
    confidence_text: str = Field(examples=["0.94 (8 of 8 deploys succeeded)"])

    @classmethod
    def of(cls, heuristic: Heuristic) -> HeuristicView:
        return cls(
            **dict(heuristic),
            description=describe(heuristic.when),
            confidence_text=confidence_text(heuristic),
        )


class HeuristicList(_Answer):
    items: list[HeuristicView]


class LearnReportView(_Answer):
    """What one run of learning changed (``LearnReport.to_dict``)."""

    proposed: int
    added: int
    updated: int
    merged: int
    rejected: list[str]
    checked: int
    strengthened: int
    weakened: int
    retired: int
    reactivated: int
    outcomes: int
    base_rate: float | None
    calls: list[ReasonerCall]


Moment = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""A time as ``Episode.to_json`` writes it: ISO 8601 with its offset, microseconds shown."""


class EpisodeView(_Answer):
    """An episode in the seed's memory shape, with our extra fields (``Episode.to_json``)."""

    release_id: str
    source: Literal["agent", "imported"]
    context: dict[str, Any] = Field(description="the attributes at the moment it would deploy")
    decision: Decision
    outcome: Result | None
    outcome_notes: str | None
    timestamp: Moment = Field(description="when it was decided")
    deploy_at: Moment | None = Field(description="when it would deploy (the window, for a DELAY)")
    reason: str | None
    summary: str = Field(description="the narrative, with the outcome as it stands")

    @classmethod
    def of(cls, episode: Episode) -> EpisodeView:
        return cls.model_validate(episode.to_json())


class EpisodeList(_Answer):
    items: list[EpisodeView]


class ScenarioView(_Answer):
    id: str
    title: str
    request: ReleaseRequest

    @classmethod
    def of(cls, scenario: Scenario) -> ScenarioView:
        return cls(id=scenario.id, title=scenario.title, request=scenario.request)


class ScenarioList(_Answer):
    items: list[ScenarioView]


class Health(_Answer):
    """``ok`` when the store answers; ``auth`` says whether writes need a token."""

    status: Literal["ok", "unavailable"]
    auth: bool
    version: str
    decisions: int | None = Field(
        default=None, description="decisions stored; null when the store does not answer"
    )
