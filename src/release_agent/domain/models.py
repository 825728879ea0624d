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

ON_FAILURE = ("delay", "builtin")
"""What a decision does when an LLM reasoner fails: fail closed (DELAY, or NO_GO where the
built-in reasoner says so), or take the built-in reasoner's decision."""


FLOORS = ("evidence", "strict", "off")
"""How far below the built-in evidence an LLM's plan may go (decide/floor.py)."""


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
    """What really happened after a deploy — or that there was no deploy.

    ``not_deployed`` says the release did not go out: it frees the release's slot in the
    change calendar and is no evidence at all (neither a success nor a failure: no cell
    count, no learning, no recall). Ask :attr:`deployed` before :attr:`failed`."""

    success = "success"
    degraded = "degraded"
    rolled_back = "rolled_back"
    incident = "incident"
    not_deployed = "not_deployed"

    @property
    def deployed(self) -> bool:
        """Whether the release went out, so that the outcome is evidence about it."""
        return self is not Result.not_deployed

    @property
    def failed(self) -> bool:
        """A deploy that went wrong. Degraded counts as a failure: learning errs on the
        side of caution. ``not_deployed`` is no failure (and no success either)."""
        return self not in (Result.success, Result.not_deployed)


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


def is_production(env: str) -> bool:
    return env.strip().lower() in PRODUCTION_ENVS


def canonical_env(env: str) -> str:
    """One name per environment for matching: ``production`` and ``prod`` are the same."""
    env = env.strip().lower()
    return "prod" if env in PRODUCTION_ENVS else env


NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/ ]{0,99}$")
"""What a service or environment name may look like."""
MAX_NOTES = 4000
MAX_CLASHES = 20
MAX_DELAYS = 100
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_REF = 200
DEFAULT_TEAM = "default"
"""The team of a request that names none (and of everything stored before teams)."""
REF_PATTERN = re.compile(r"^[!-~]{1,200}$")
"""What a request's ``ref`` may look like: 1-200 printable ASCII characters, no spaces."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SHOWN = 40
"""How many characters of a refused value an error message repeats."""


def shown(value: object, limit: int = SHOWN) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that an error never echoes a
    megabyte of input back."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_fault(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can: a lone surrogate (no encoding
    carries it) or a NUL character (PostgreSQL refuses it in text)."""
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text, without lone surrogates"
    return None


class ReleaseRequest(_Strict):
    """What a caller asks about: may this release go out at ``at``?"""

    service: str
    env: str = "prod"
    feature_risk: Level
    service_criticality: Level
    at: datetime
    clashes: list[str] = Field(default_factory=list)
    notes: str | None = None
    delays: int = Field(default=0, ge=0, le=MAX_DELAYS)
    """How many times this release was delayed already (a caller asking again at the
    window it was given). Once it reaches the policy's ``max_delays``, DELAY is no longer
    an option: it is GO or NO_GO."""
    ref: str | None = None
    """The caller's idempotency key for this release (e.g. ``<commit sha>:prod``): asking
    again with a ref already decided answers the stored decision, unless ``delays`` is
    higher (a re-ask at a DELAY's window: a new decision that supersedes the old one)."""
    shadow: bool = False
    """Record and answer the decision, but as advice only: the command line exits 0."""
    team: str = DEFAULT_TEAM
    """The team that owns the release: its policy section, its listings, its tokens. The
    risk model pools evidence across teams (see ``team`` in :mod:`.attributes`)."""

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not REF_PATTERN.fullmatch(value):
            raise ValueError(
                f"must be 1-{MAX_REF} printable characters without spaces, "
                "e.g. a commit SHA and the environment: 3f9c2e1:prod"
            )
        return value

    @field_validator("service", "env", "team")
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

    @field_validator("at", mode="before")
    @classmethod
    def _iso_time(cls, value: object) -> object:
        # Text or a datetime only: pydantic would read a number, or a string of digits,
        # as a Unix time, which nobody means by the time of a release.
        if isinstance(value, datetime):
            return value
        example = "an ISO 8601 time with a UTC offset such as 2026-11-27T16:00:00+01:00"
        if not isinstance(value, str):
            raise ValueError(f"must be {example}")
        try:
            return datetime.fromisoformat(value.upper())  # RFC 3339 allows 't' and 'z'
        except ValueError:
            raise ValueError(f"{shown(value)} is not {example}") from None

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
                raise ValueError(f"clash {shown(value)} is not a service name")
            cleaned.append(value)
        return cleaned

    @field_validator("notes")
    @classmethod
    def _notes(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > MAX_NOTES:
            raise ValueError(f"must be at most {MAX_NOTES} characters")
        fault = text_fault(value)
        if fault:
            raise ValueError(fault)
        return value


class Context(BaseModel):
    """The attributes of a release at one moment, as the later stages see them.

    The attributes of the registry (:mod:`.attributes`) that are not declared below —
    the derived flags such as ``weekend`` — are carried as extra fields, so a new
    attribute flows from the registry to every JSON form without a change here.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    service: str
    env: str
    feature_risk: Level
    service_criticality: Level
    at: datetime
    day_of_week: Day
    hour_of_day: int = Field(ge=0, le=23)
    clash: bool
    clashes: list[str] = Field(default_factory=list)
    production: bool

    def attributes(self) -> dict[str, Any]:
        """The attributes that heuristics and worlds may put conditions on, by name, in
        registry order, with plain values."""
        from .attributes import NAMES

        values = {**self.__dict__, **(self.model_extra or {})}
        out: dict[str, Any] = {}
        for name in NAMES:
            if name in values:
                value = values[name]
                out[name] = value.value if isinstance(value, StrEnum) else value
        return out


class Heuristic(BaseModel):
    """A rule with its evidence: when ``when`` matches, recommend ``recommendation``."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    when: dict[str, Any]
    recommendation: Decision
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description=(
            "The probability, from its failures and successes, that the deploys it covers "
            "fail less often (GO) or more often (DELAY, NO_GO) than the reference rate; "
            "see release_agent.stats.evidence. A person's stated one until 20 deploys; "
            "a rejected candidate's claimed one."
        ),
    )
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


class RiskView(_Strict):
    """A risk estimate as recorded: the failure probability's mean, 10% and 90% bounds,
    the value the decision used, and the deploys behind it."""

    mean: float
    low: float
    high: float
    decide: float
    evidence: int


class OptionView(_Strict):
    """A priced option as recorded."""

    decision: Decision
    at: datetime | None
    hours_waited: float
    risk: RiskView | None
    expected_cost: float
    saving_sd: float = 0.0


class ExplorationView(_Strict):
    """A deploy chosen partly for what its outcome will teach (reasoners/exploration.py):
    the expected saving on later decisions, the extra cost of deploying now, the deploys
    and the later decisions that value counts on."""

    value: float
    extra_cost: float
    deploys: int
    future: int
    decision: Decision
    at: datetime | None


class PlanEstimate(_Strict):
    """The numbers behind a built-in proposal."""

    options: list[OptionView] = Field(default_factory=list)
    drivers: list[str] = Field(default_factory=list)
    exploration: ExplorationView | None = None


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
    estimate: PlanEstimate | None = Field(
        default=None, description="the numbers behind the proposal, if any"
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
    retry_after: datetime | None = None
    """Not confirmed: the same check would pass at any time after this one if nothing
    new happens (a failure streak leaves its window); None when no such time is known."""


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
    attempts: int | None = None
    """Requests sent to a model for this call (retries included); None for the built-in."""
    error_kind: str | None = None
    """timeout, connection, http, invalid_json, schema, refusal, truncated, ..."""
    status_code: int | None = None


class TraceEntry(_Strict):
    stage: str
    state: str
    summary: str
    detail: dict[str, Any] = Field(default_factory=dict)


class OutcomeRecord(_Strict):
    result: Result
    notes: str | None = None
    recorded_at: datetime


class OverrideView(_Strict):
    """A human's override of a decision, as the record shows it: the latest one (the
    ``overrides`` table keeps every one, see ``release-agent override``)."""

    by: str
    reason: str
    at: datetime
    agent_decision: Decision
    """What the agent decided."""
    decision: Decision
    """What the human decided: the record's decision now."""
    break_glass: bool = False
    """A GO inside a freeze, allowed by the policy's ``allow_freeze_override``."""
    agent_next_window: datetime | None = None
    """The window the agent gave, when it decided DELAY."""


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
    knowledge_version: int | None = None
    """The knowledge snapshot the decision read (0: the priors alone; None: recorded
    before snapshots existed)."""
    warnings: list[str] = Field(default_factory=list)
    """What the caller should look at, though it did not decide: an environment the
    policy does not name, a freeze calendar read from an old copy."""
    shadow: bool = False
    """Advice only (``decide --shadow`` or the policy's ``[decision] shadow`` patterns):
    recorded and answered, but it blocks nothing."""
    override: OverrideView | None = None
    """The latest human override; ``decision`` is then the human's, and
    ``override.agent_decision`` the agent's."""
    superseded_by: str | None = None
    """The decision that replaced this one (a re-ask of the same ref at a DELAY's
    window)."""

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
