"""What an LLM must answer for each task: the JSON schema we send, and our own validation.

The schemas are sent to the provider (Gemini ``responseJsonSchema``, OpenAI
``response_format`` json_schema in strict mode), so they keep to what both accept: every
property required, nullable ones as ``anyOf [T, null]``, no additional properties, ranges
stated in descriptions. The provider's enforcement is a help, never the guarantee: every
answer is validated here with pydantic, tolerant of what real models do (whitespace,
lower-case or hyphenated enum values, a missing optional field) and strict about what
matters (decision values, numeric ranges, a DELAY naming a concrete window).

Each ``to_*`` function returns a domain value or raises pydantic's ValidationError or
ReasonerError (``schema``) naming the field at fault.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..domain.attributes import ATTRIBUTES, Attribute, Kind
from ..domain.conditions import HOUR_ATTRIBUTE
from ..domain.errors import ReasonerError
from ..domain.models import Confirmation, Decision, Level, Plan, Review, SuggestedAction
from ..domain.options import HeuristicProposal, Option
from .base import PlanTask

MAX_WINDOWS = 24
"""A plan prompt offers at most this many DELAY windows (the cheapest, in time order)."""
MAX_REASON = 2000
MAX_CONCERNS = 10
MAX_PROPOSALS = 10

_ALIASES = {"NOGO": "NO_GO", "NO": "NO_GO", "HOLD": "DELAY", "NO_ACTION": "NONE"}


def _enum_text(value: Any) -> Any:
    """``" no-go "`` → ``"NO_GO"``: models vary case, spacing and separators."""
    if isinstance(value, str):
        text = re.sub(r"[\s\-]+", "_", value.strip()).upper()
        return _ALIASES.get(text, text)
    return value


def _clip(limit: int) -> BeforeValidator:
    def clip(value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value if len(value) <= limit else value[: limit - 1] + "…"
        return value

    return BeforeValidator(clip)


EnumText = BeforeValidator(_enum_text)
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class _Deviation(_Wire):
    heuristic_id: int
    why: Annotated[str, _clip(500)] = ""


class PlanAnswer(_Wire):
    decision: Annotated[Decision, EnumText]
    reason: Annotated[str, _clip(MAX_REASON), Field(min_length=1)]
    confidence: Unit
    next_window: str | None = None
    followed_heuristics: list[int] = Field(default_factory=list)
    deviations: list[_Deviation] = Field(default_factory=list)


class ReviewAnswer(_Wire):
    concerns: list[Annotated[str, _clip(500)]] = Field(default_factory=list)
    risk_level: Annotated[Level, EnumText]
    suggested_action: Annotated[SuggestedAction, EnumText]


class ConfirmAnswer(_Wire):
    confirmed: bool
    reason: Annotated[str, _clip(MAX_REASON), Field(min_length=1)]


class WhenAnswer(BaseModel):
    """A condition as the LLM states it. Values stay loose on purpose: the heuristic
    validation downstream checks each one and records why a proposal was rejected."""

    model_config = ConfigDict(extra="allow")

    hour_from: Any = None
    hour_to: Any = None
    """The hour attribute is asked as a range; every other attribute of the registry
    (and anything else the model says) arrives as an extra field."""


class ProposalAnswer(_Wire):
    when: WhenAnswer
    recommendation: Annotated[Decision, EnumText]
    confidence: Unit
    supporting_episodes: Annotated[int, Field(ge=0)]
    rationale: Annotated[str, _clip(1000)] = ""


class ExtractAnswer(_Wire):
    proposals: list[ProposalAnswer]


# The schemas sent to the providers.


def _nullable(kind: str, description: str, enum: list[str] | None = None) -> dict[str, Any]:
    """``kind`` or null, in the form pydantic emits for Optional (both providers read it)."""
    branch: dict[str, Any] = {"type": kind}
    if enum is not None:
        branch["enum"] = enum
    return {"anyOf": [branch, {"type": "null"}], "description": description}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_DECISIONS = [d.value for d in Decision]
_LEVELS = [level.value for level in Level]

PLAN_SCHEMA: dict[str, Any] = _object(
    {
        "decision": {"type": "string", "enum": _DECISIONS},
        "reason": {"type": "string", "description": "Why, in one to three sentences."},
        "confidence": {"type": "number", "description": "From 0 to 1."},
        "next_window": _nullable(
            "string",
            "For DELAY: one of the offered windows, copied exactly (ISO 8601 with UTC "
            "offset). null for GO and NO_GO.",
        ),
        "followed_heuristics": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Ids of the listed heuristics the decision follows.",
        },
        "deviations": {
            "type": "array",
            "items": _object({"heuristic_id": {"type": "integer"}, "why": {"type": "string"}}),
            "description": "Listed heuristics the decision does not follow, and why.",
        },
    }
)

REVIEW_SCHEMA: dict[str, Any] = _object(
    {
        "concerns": {"type": "array", "items": {"type": "string"}},
        "risk_level": {"type": "string", "enum": _LEVELS},
        "suggested_action": {"type": "string", "enum": [a.value for a in SuggestedAction]},
    }
)

CONFIRM_SCHEMA: dict[str, Any] = _object(
    {
        "confirmed": {"type": "boolean"},
        "reason": {"type": "string", "description": "Why, in one to three sentences."},
    }
)


def _when_property(attribute: Attribute) -> dict[str, Any]:
    if attribute.kind is Kind.enum:
        return _nullable("string", "null for any.", enum=list(attribute.values))
    if attribute.kind is Kind.flag:
        return _nullable("boolean", f"{attribute.meaning}; null for any.")
    return _nullable("string", f"{attribute.meaning}, or null for any.")


def _when_properties() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for attribute in ATTRIBUTES:
        if attribute.kind is Kind.hour:
            properties["hour_from"] = _nullable(
                "integer", "First hour (0-23) of an hour range, or null."
            )
            properties["hour_to"] = _nullable(
                "integer", "Last hour (0-23) of the range, inclusive, or null."
            )
        else:
            properties[attribute.name] = _when_property(attribute)
    return properties


_WHEN_SCHEMA = _object(_when_properties())

EXTRACT_SCHEMA: dict[str, Any] = _object(
    {
        "proposals": {
            "type": "array",
            "items": _object(
                {
                    "when": _WHEN_SCHEMA,
                    "recommendation": {"type": "string", "enum": _DECISIONS},
                    "confidence": {"type": "number", "description": "From 0 to 1."},
                    "supporting_episodes": {
                        "type": "integer",
                        "description": "Deploys in the pattern statistics that match when.",
                    },
                    "rationale": {"type": "string"},
                }
            ),
        }
    }
)


# Validation into domain values.


def offered_windows(task: PlanTask) -> tuple[Option, ...]:
    """The DELAY windows a plan prompt lists: all, or the cheapest MAX_WINDOWS in time order."""
    windows = task.windows
    if len(windows) > MAX_WINDOWS:
        cheapest = sorted(windows, key=lambda o: o.expected_cost)[:MAX_WINDOWS]
        windows = tuple(o for o in task.windows if o in cheapest)
    return tuple(o for o in windows if o.at is not None)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReasonerError(
            f"plan answer: next_window: {text!r} is not an ISO 8601 date-time", kind="schema"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ReasonerError(f"plan answer: next_window: {text!r} has no UTC offset", kind="schema")
    return moment


def to_plan(data: dict[str, Any], task: PlanTask) -> Plan:
    """A validated Plan.

    GO must be allowed by the guardrails. A DELAY must carry ``next_window`` as an ISO 8601
    date-time with a UTC offset whenever windows were offered; an offered window comes back
    as the scheduler's own value, any other moment as given (the planner stage moves it to
    the next offered window).
    """
    answer = PlanAnswer.model_validate(data)
    if answer.decision is Decision.GO and task.guardrails.forbid_go:
        raise ReasonerError(
            "plan answer: decision: GO is forbidden by the guardrails in force", kind="schema"
        )
    next_window = None
    if answer.decision is Decision.DELAY:
        windows = offered_windows(task)
        if answer.next_window:
            moment = _moment(answer.next_window)
            next_window = next((o.at for o in windows if o.at == moment), moment)
        elif windows:
            raise ReasonerError(
                "plan answer: next_window: a DELAY must name one of the offered windows",
                kind="schema",
            )
    known = {h.id for h in task.heuristics if h.id is not None}
    return Plan(
        decision=answer.decision,
        reason=answer.reason,
        confidence=answer.confidence,
        next_window=next_window,
        followed_heuristics=[i for i in dict.fromkeys(answer.followed_heuristics) if i in known],
        deviations={d.heuristic_id: d.why for d in answer.deviations if d.heuristic_id in known},
    )


def to_review(data: dict[str, Any]) -> Review:
    answer = ReviewAnswer.model_validate(data)
    concerns = [c for c in answer.concerns if c][:MAX_CONCERNS]
    return Review(
        concerns=concerns,
        risk_level=answer.risk_level,
        suggested_action=answer.suggested_action,
    )


def to_confirmation(data: dict[str, Any]) -> Confirmation:
    answer = ConfirmAnswer.model_validate(data)
    return Confirmation(confirmed=answer.confirmed, reason=answer.reason)


def _when(answer: WhenAnswer) -> dict[str, Any]:
    """The condition in the form heuristics use; unknown attributes are kept for the
    validation downstream to reject by name."""
    when: dict[str, Any] = {}
    low, high = answer.hour_from, answer.hour_to
    for attribute, value in (answer.model_extra or {}).items():
        if value is not None:
            when[attribute] = value
    if low is not None or high is not None:
        low = 0 if low is None else low
        high = 23 if high is None else high
        when[HOUR_ATTRIBUTE] = low if low == high else {"from": low, "to": high}
    return when


def to_proposals(data: dict[str, Any]) -> list[HeuristicProposal]:
    answer = ExtractAnswer.model_validate(data)
    return [
        HeuristicProposal(
            when=_when(p.when),
            recommendation=p.recommendation,
            confidence=p.confidence,
            supporting_episodes=p.supporting_episodes,
            rationale=p.rationale,
        )
        for p in answer.proposals[:MAX_PROPOSALS]
    ]
