"""Typed domain records shared by every stage, interface and store.

Field names follow the seed's memory format (``feature_risk``, ``service_criticality``,
``day_of_week``, ``hour_of_day``, ``clash``) so that every JSON form reads the same.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidInput


class Decision(StrEnum):
    """The three answers. Strictness orders them: GO < DELAY < NO_GO."""

    GO = "GO"
    DELAY = "DELAY"
    NO_GO = "NO_GO"

    @property
    def strictness(self) -> int:
        return _STRICTNESS[self]

    @staticmethod
    def strictest(*decisions: Decision) -> Decision:
        return max(decisions, key=lambda d: d.strictness)


_STRICTNESS = {Decision.GO: 0, Decision.DELAY: 1, Decision.NO_GO: 2}


class Level(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class Day(StrEnum):
    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"

    @staticmethod
    def of(moment: datetime) -> Day:
        return DAYS[moment.weekday()]


DAYS: tuple[Day, ...] = tuple(Day)


class Result(StrEnum):
    """What really happened after a deploy."""

    success = "success"
    degraded = "degraded"
    rolled_back = "rolled_back"
    incident = "incident"

    @property
    def failed(self) -> bool:
        """Degraded counts as a failure: learning errs on the side of caution."""
        return self is not Result.success


class SuggestedAction(StrEnum):
    NONE = "NONE"
    DELAY = "DELAY"
    NO_GO = "NO_GO"


class Provenance(StrEnum):
    mined = "mined"
    llm = "llm"
    imported = "imported"
    human = "human"


class HeuristicStatus(StrEnum):
    active = "active"
    retired = "retired"
    rejected = "rejected"


PRODUCTION_ENVS = frozenset({"prod", "production"})


def canonical_env(env: str) -> str:
    """One name per environment for matching: ``production`` and ``prod`` are the same."""
    env = env.strip().lower()
    return "prod" if env in PRODUCTION_ENVS else env


NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/ ]{0,99}$")
"""What a service or environment name may look like."""
MAX_NOTES = 4000
MAX_CLASHES = 20
MIN_YEAR, MAX_YEAR = 2000, 2100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReleaseRequest(_Strict):
    """What a caller asks about: may this release go out at ``at``?"""

    service: str
    env: str = "prod"
    feature_risk: Level
    service_criticality: Level
    at: datetime
    clashes: list[str] = Field(default_factory=list)
    notes: str | None = None

    @field_validator("service", "env")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not NAME_PATTERN.match(value):
            raise ValueError(
                "must be 1-100 characters of letters, digits, '.', '_', '-', '/' or space, "
                "starting with a letter or digit"
            )
        return value

    @field_validator("env")
    @classmethod
    def _lower_env(cls, value: str) -> str:
        return value.lower()

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        offset = value.utcoffset() if value.tzinfo is not None else None
        if offset is None:
            raise ValueError("must carry a UTC offset, e.g. 2026-11-27T16:00:00+01:00")
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise ValueError(f"must be a time from {MIN_YEAR} to {MAX_YEAR}")
        # A fixed offset: windows are whole hours of the release's own clock, with no
        # wall-clock jumps when a named zone changes its offset.
        return value.astimezone(timezone(offset))

    @field_validator("clashes")
    @classmethod
    def _clashes(cls, values: list[str]) -> list[str]:
        if len(values) > MAX_CLASHES:
            raise ValueError(f"at most {MAX_CLASHES} clashing services")
        cleaned = []
        for value in values:
            value = value.strip()
            if not NAME_PATTERN.match(value):
                raise ValueError(f"clash {value!r} is not a service name")
            cleaned.append(value)
        return cleaned

    @field_validator("notes")
    @classmethod
    def _notes(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_NOTES:
            raise ValueError(f"must be at most {MAX_NOTES} characters")
        return value


class Context(_Strict):
    """The typed attributes of a release at one moment, as the later stages see them."""

    service: str
    env: str
    feature_risk: Level
    service_criticality: Level
    at: datetime
    day_of_week: Day
    hour_of_day: int = Field(ge=0, le=23)
    clash: bool
    clashes: list[str] = Field(default_factory=list)
    weekend: bool
    friday_afternoon: bool
    out_of_hours: bool
    production: bool

    def attributes(self) -> dict[str, Any]:
        """The attributes that heuristics and worlds may put conditions on."""
        return {
            "service": self.service,
            "env": self.env,
            "feature_risk": self.feature_risk.value,
            "service_criticality": self.service_criticality.value,
            "day_of_week": self.day_of_week.value,
            "hour_of_day": self.hour_of_day,
            "clash": self.clash,
            "weekend": self.weekend,
            "friday_afternoon": self.friday_afternoon,
            "out_of_hours": self.out_of_hours,
        }


class Heuristic(BaseModel):
    """A rule with its evidence: when ``when`` matches, recommend ``recommendation``."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    when: dict[str, Any]
    recommendation: Decision
    confidence: float = Field(ge=0.0, le=1.0)
    support: int = Field(default=0, ge=0)
    failures: int = Field(default=0, ge=0)
    successes: int = Field(default=0, ge=0)
    provenance: Provenance = Provenance.mined
    status: HeuristicStatus = HeuristicStatus.active
    reason: str | None = None
    created_at: datetime | None = None
    last_checked: datetime | None = None


class AppliedHeuristic(_Strict):
    id: int | None
    when: dict[str, Any]
    recommendation: Decision
    confidence: float
    followed: bool
    why_not: str | None = None


class Plan(_Strict):
    """The planner's proposal."""

    decision: Decision
    reason: str = Field(min_length=1, max_length=2000)
    confidence: float = Field(ge=0.0, le=1.0)
    next_window: datetime | None = None
    followed_heuristics: list[int] = Field(default_factory=list)
    deviations: dict[int, str] = Field(
        default_factory=dict, description="heuristic id -> why it was not followed"
    )
    estimate: dict[str, Any] = Field(
        default_factory=dict, description="the numbers behind the proposal, if any"
    )


class Review(_Strict):
    """The red team's advisory review."""

    concerns: list[str] = Field(default_factory=list)
    risk_level: Level
    suggested_action: SuggestedAction


class Confirmation(_Strict):
    """The reflection's second check of a production GO."""

    confirmed: bool
    reason: str = Field(min_length=1, max_length=2000)


class ReasonerCall(_Strict):
    """One call to a reasoner, as recorded in the trace."""

    task: str
    reasoner: str
    model: str | None = None
    latency_ms: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    ok: bool = True
    error: str | None = None
    fallback: str | None = None


class TraceEntry(_Strict):
    stage: str
    state: str
    summary: str
    detail: dict[str, Any] = Field(default_factory=dict)


class OutcomeRecord(_Strict):
    result: Result
    notes: str | None = None
    recorded_at: datetime


class DecisionRecord(BaseModel):
    """Everything decided about one release; what ``decide --json`` prints."""

    model_config = ConfigDict(extra="forbid")

    release_id: str
    created_at: datetime
    request: ReleaseRequest
    context: Context
    decision: Decision
    reason: str
    confidence: float
    next_window: datetime | None = None
    heuristics_applied: list[AppliedHeuristic] = Field(default_factory=list)
    red_team: Review | None = None
    reflection: Confirmation | None = None
    guardrails: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)
    trace: list[TraceEntry] = Field(default_factory=list)
    reasoner_calls: list[ReasonerCall] = Field(default_factory=list)
    outcome: OutcomeRecord | None = None
    summary: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _allowed_for(field: str) -> list[str] | None:
    enums: dict[str, type[StrEnum]] = {
        "feature_risk": Level,
        "service_criticality": Level,
        "result": Result,
        "decision": Decision,
        "day_of_week": Day,
    }
    enum = enums.get(field)
    return [m.value for m in enum] if enum else None


def invalid_from(error: ValidationError, prefix: str = "") -> InvalidInput:
    """Turn pydantic's first complaint into an InvalidInput naming the field."""
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first.get("loc", ()))
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "input"
    message = str(first.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    leaf = str(first["loc"][-1]) if first.get("loc") else field
    if first.get("type") == "extra_forbidden":
        message = "is not a known field"
    return InvalidInput(message, field=field, allowed=_allowed_for(leaf))


def parse_request(data: dict[str, Any]) -> ReleaseRequest:
    """Validate a request given as plain data; raise InvalidInput naming the field."""
    try:
        return ReleaseRequest.model_validate(data)
    except ValidationError as error:
        raise invalid_from(error) from None
