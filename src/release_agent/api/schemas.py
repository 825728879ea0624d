"""The bodies the API accepts. They type the OpenAPI document; the domain models in
``release_agent.domain.models`` still do the real validation, so the CLI and the API agree."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..domain.models import MAX_NOTES, Level, ReleaseRequest, Result, parse_request


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

    service: str = Field(description="the service to release")
    env: str = Field(default="prod", description="target environment")
    feature_risk: Level
    service_criticality: Level
    at: datetime | None = Field(
        default=None, description="planned time, ISO 8601 with a UTC offset; default now"
    )
    clashes: list[str] = Field(default_factory=list, description="services releasing at once")
    notes: str | None = Field(default=None, description="free text, treated as data")

    @field_validator("at", mode="before")
    @classmethod
    def _text_only(cls, value: object) -> object:
        # JSON numbers would otherwise be read as Unix timestamps
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO 8601 string with a UTC offset")
        return value

    def to_request(self) -> ReleaseRequest:
        """The domain request. Raises InvalidInput naming the field (e.g. ``at`` without
        an offset)."""
        data = self.model_dump(exclude={"at"})
        data["at"] = self.at if self.at is not None else datetime.now().astimezone()
        return parse_request(data)


class OutcomeBody(BaseModel):
    """What happened after the deploy."""

    model_config = ConfigDict(extra="forbid")

    result: Result
    notes: str | None = Field(default=None, max_length=MAX_NOTES)
    replace: bool = Field(default=False, description="overwrite an outcome already recorded")
