"""The bodies and choices the API accepts, and the JSON Schema that documents them.

The domain models in ``release_agent.domain.models`` still do the real validation, so the
CLI and the API agree; the schemas here say exactly what that validation accepts (a test
checks the patterns against the domain), so a client, or schemathesis, can rely on them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from functools import partial
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

from ..domain.models import (
    DEFAULT_TEAM,
    MAX_CLASHES,
    MAX_DELAYS,
    MAX_NOTES,
    MAX_YEAR,
    MIN_YEAR,
    NAME_PATTERN,
    REF_PATTERN,
    Decision,
    Level,
    ReleaseRequest,
    Result,
    parse_request,
    text_fault,
)
from ..domain.overrides import BY_PATTERN, MAX_BY, MAX_REASON, REASON_PATTERN

NAME_SCHEMA_PATTERN = r"^\s*" + NAME_PATTERN.pattern.removeprefix("^").removesuffix("$") + r"\s*$"
"""A service or environment name as the domain accepts it: surrounding white space is
trimmed, so the pattern allows it."""
NOTES_SCHEMA_PATTERN = r"^[^\u0000]*$"
"""Notes: any text without NUL (PostgreSQL cannot store it)."""


def year_pattern(low: int, high: int) -> str:
    """A regex alternation that matches exactly the four-digit years ``low`` to ``high``
    (``20[0-9]{2}|2100`` for 2000 to 2100)."""
    parts = []
    year = low
    while year <= high:
        if year % 100 == 0 and year + 99 <= high:
            parts.append(f"{year // 100}[0-9]{{2}}")
            year += 100
        elif year % 10 == 0 and year + 9 <= high:
            parts.append(f"{year // 10}[0-9]")
            year += 10
        else:
            parts.append(str(year))
            year += 1
    return "|".join(parts)


AT_SCHEMA_PATTERN = f"^({year_pattern(MIN_YEAR, MAX_YEAR)})-"
"""The years a release time may have (the domain refuses the others)."""


def enum_value(enum: type[StrEnum], value: object) -> object:
    """The canonical value of ``enum`` that ``value`` spells in any ASCII case (``high``
    gives ``HIGH``, ``SUCCESS`` gives ``success``); any other value unchanged, so that
    validation refuses it listing the allowed values."""
    if isinstance(value, str) and value.isascii():
        wanted = value.upper()
        for member in enum:
            if member.value.upper() == wanted:
                return member.value
    return value


def any_case_pattern(values: list[str]) -> str:
    """A JSON Schema pattern (ECMA 262 and Python alike) that matches exactly the
    ``values`` in any ASCII case."""
    words = [
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in value)
        for value in values
    ]
    return f"^({'|'.join(words)})$"


def _any_case_schema(enum: type[StrEnum], what: str) -> dict[str, Any]:
    values = [member.value for member in enum]
    return {
        "type": "string",
        "pattern": any_case_pattern(values),
        "description": f"{what}: {', '.join(values)}, in any case",
        "examples": values[:1],
    }


LevelChoice = Annotated[
    Level,
    BeforeValidator(partial(enum_value, Level)),
    WithJsonSchema(_any_case_schema(Level, "a level"), mode="validation"),
]
ResultChoice = Annotated[
    Result,
    BeforeValidator(partial(enum_value, Result)),
    WithJsonSchema(_any_case_schema(Result, "what happened"), mode="validation"),
]
DecisionChoice = Annotated[
    Decision,
    BeforeValidator(partial(enum_value, Decision)),
    WithJsonSchema(_any_case_schema(Decision, "a decision"), mode="validation"),
]


def _storable(value: str) -> str:
    fault = text_fault(value)
    if fault:
        raise ValueError(fault)
    return value


Notes = Annotated[
    str,
    AfterValidator(_storable),
    Field(
        max_length=MAX_NOTES,
        json_schema_extra={"pattern": NOTES_SCHEMA_PATTERN},
        description="free text, kept as data, never read as instructions",
    ),
]
Name = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": NAME_SCHEMA_PATTERN}, mode="validation")
]
Clashes = Annotated[
    list[str],
    WithJsonSchema(
        {
            "type": "array",
            "maxItems": MAX_CLASHES,
            "items": {"type": "string", "pattern": NAME_SCHEMA_PATTERN},
        },
        mode="validation",
    ),
]
At = Annotated[
    str | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time", "pattern": AT_SCHEMA_PATTERN},
                {"type": "null"},
            ]
        },
        mode="validation",
    ),
]


Ref = Annotated[
    str,
    WithJsonSchema(
        {"type": "string", "pattern": REF_PATTERN.pattern},
        mode="validation",
    ),
]


def _number_only(value: object) -> object:
    """A JSON number (70 or 70.0, as JSON Schema's integer allows), never text or a
    boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    return int(value) if isinstance(value, float) and value.is_integer() else value


class DecisionBody(BaseModel):
    """A release request; ``at`` defaults to now."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service": "checkout",
                    "env": "prod",
                    "feature_risk": "HIGH",
                    "service_criticality": "HIGH",
                    "at": "2026-11-27T16:00:00+01:00",
                    "clashes": ["payments"],
                    "notes": "new tax rules",
                }
            ]
        },
    )

    service: Name = Field(description="the service to release")
    env: Name = Field(default="prod", description="target environment")
    team: Name = Field(
        default=DEFAULT_TEAM,
        description="the team that owns the release: its policy and its tokens apply",
    )
    feature_risk: LevelChoice
    service_criticality: LevelChoice
    at: At = Field(
        default=None,
        description=f"planned time, RFC 3339 (ISO 8601 with a UTC offset), years {MIN_YEAR} "
        f"to {MAX_YEAR}; default now, in the policy's timezone (UTC when it names none)",
    )
    clashes: Clashes = Field(default_factory=list, description="services releasing at once")
    notes: Notes | None = None
    ref: Ref | None = Field(
        default=None,
        description="your key for this release, e.g. COMMIT_SHA:ENV: a ref already decided "
        "answers its stored decision (200) instead of deciding again, unless delays is higher",
    )
    shadow: StrictBool = Field(
        default=False, description="advice only: recorded and answered, blocking nothing"
    )
    delays: Annotated[int, BeforeValidator(_number_only)] = Field(
        default=0,
        ge=0,
        le=MAX_DELAYS,
        description="how many times this release was delayed already; at the policy's "
        "max_delays it may no longer be delayed",
    )

    @field_validator("at", mode="before")
    @classmethod
    def _text_only(cls, value: object) -> object:
        # A JSON number would be read as a Unix time; the domain refuses strings of digits.
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO 8601 time with a UTC offset, as a string")
        return value

    def to_request(self, zone: tzinfo = UTC) -> ReleaseRequest:
        """The domain request; without ``at``, for now in ``zone`` (the policy's time
        zone). Raises InvalidInput naming the field (e.g. ``at`` without an offset, or a
        number of seconds)."""
        data = self.model_dump(exclude={"at"})
        data["at"] = self.at if self.at is not None else datetime.now(zone)
        return parse_request(data)


class OutcomeBody(BaseModel):
    """What happened after the deploy."""

    model_config = ConfigDict(extra="forbid")

    result: ResultChoice
    notes: Notes | None = None
    replace: StrictBool = Field(
        default=False, description="overwrite an outcome already recorded (true or false only)"
    )


class OverrideBody(BaseModel):
    """A human's override of a decision: the final decision, who and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"decision": "GO", "by": "alice", "reason": "CAB approved the fix"}]
        },
    )

    decision: DecisionChoice
    by: str = Field(
        max_length=MAX_BY,
        json_schema_extra={"pattern": BY_PATTERN},
        description="who overrides (name or handle)",
    )
    reason: str = Field(
        max_length=MAX_REASON,
        json_schema_extra={"pattern": REASON_PATTERN},
        description="why, for the audit log",
    )
