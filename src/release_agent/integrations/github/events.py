"""The GitHub webhook payloads this integration reads, and what they mean to the agent.

``deployment_protection_rule`` (action ``requested``) is sent when a job reaches an
environment guarded by the App's rule; the fields read are ``environment``,
``deployment_callback_url``, ``deployment`` (``id``, ``sha``, ``environment``,
``payload``), ``pull_requests`` (their ``labels``), ``repository.full_name`` and
``installation.id``. ``deployment_status`` is sent as a deployment moves on; the fields
read are ``deployment_status.state`` and ``deployment`` (``sha``, ``environment``).

Every other field is ignored, and every value read is data: it is validated and bounded
before it reaches a request.

The mapping to a release request:

- service: the policy's ``[github] repositories`` entry for the repository, else the
  repository's name;
- env: the event's ``environment``; ref: ``<deployment sha>:<environment>`` (white space
  in the environment's name becomes ``_``), the key a later ``deployment_status`` or
  ``POST /api/v1/outcomes`` names the decision by;
- feature risk: the highest ``risk:LOW|MEDIUM|HIGH`` label of the pull requests (a
  ``risk:`` label with another value counts as HIGH), else the deployment payload's
  ``feature_risk``, else the policy's ``[github] feature_risk`` (default HIGH);
- criticality: the policy's ``[github] service_criticality`` for the service, else its
  ``[github] criticality`` (default HIGH).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...domain.models import MAX_REF, Level, ReleaseRequest, Result, invalid_from
from .config import GitHubPolicy

RISK_LABEL = re.compile(r"^\s*(?:feature[-_ ]?)?risk\s*[:=/]\s*(\S+)\s*$", re.IGNORECASE)
MAX_LABELS = 100
MAX_PULLS = 50
MAX_URL = 2000


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Label(_Loose):
    name: str = Field(max_length=200)


class PullRequest(_Loose):
    number: int | None = None
    labels: list[Label] = Field(default_factory=list, max_length=MAX_LABELS)


class Deployment(_Loose):
    id: int | None = None
    sha: str = Field(min_length=1, max_length=100)
    environment: str | None = Field(default=None, max_length=255)
    payload: Any = None


class Repository(_Loose):
    full_name: str = Field(min_length=3, max_length=200)

    @field_validator("full_name")
    @classmethod
    def _owner_name(cls, value: str) -> str:
        if value.count("/") != 1 or value.startswith("/") or value.endswith("/"):
            raise ValueError("must be owner/name")
        return value


class Installation(_Loose):
    id: int


class ProtectionRuleEvent(_Loose):
    """A ``deployment_protection_rule`` delivery: GitHub asks for a review."""

    action: str | None = None
    environment: str = Field(min_length=1, max_length=255)
    deployment_callback_url: str = Field(min_length=1, max_length=MAX_URL)
    deployment: Deployment
    pull_requests: list[PullRequest] = Field(default_factory=list, max_length=MAX_PULLS)
    repository: Repository
    installation: Installation | None = None

    @property
    def ref(self) -> str:
        return ref_of(self.deployment.sha, self.environment)


class DeploymentStatus(_Loose):
    state: str = Field(max_length=32)
    environment: str | None = Field(default=None, max_length=255)


class DeploymentStatusEvent(_Loose):
    """A ``deployment_status`` delivery: how a deployment went."""

    deployment_status: DeploymentStatus
    deployment: Deployment
    repository: Repository

    @property
    def environment(self) -> str:
        return self.deployment.environment or self.deployment_status.environment or ""

    @property
    def ref(self) -> str:
        return ref_of(self.deployment.sha, self.environment)


def ref_of(sha: str, environment: str) -> str:
    """The ref of a deployment of ``sha`` to ``environment``: ``sha:environment``, white
    space as ``_``, at most MAX_REF characters."""
    text = f"{sha.strip()}:{environment.strip()}"
    return re.sub(r"\s", "_", text)[:MAX_REF]


def parse(model: type[_Loose], body: Any) -> Any:
    """``body`` read as ``model``; raises InvalidInput naming the field at fault."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise invalid_from(error, "payload.") from None


def _level_of(text: object) -> Level | None:
    if not isinstance(text, str):
        return None
    upper = text.strip().upper()
    if upper in ("MED", "MID", "MODERATE"):
        upper = "MEDIUM"
    return Level(upper) if upper in Level.__members__ else None


def label_risk(pulls: list[PullRequest]) -> Level | None:
    """The highest risk the pull requests' labels state (an unreadable ``risk:`` label
    counts as HIGH); None when no label states one."""
    found: list[Level] = []
    for pull in pulls:
        for label in pull.labels:
            match = RISK_LABEL.match(label.name)
            if match is not None:
                found.append(_level_of(match.group(1)) or Level.HIGH)
    if not found:
        return None
    order = [Level.LOW, Level.MEDIUM, Level.HIGH]
    return max(found, key=order.index)


def payload_risk(payload: Any) -> Level | None:
    """The ``feature_risk`` a deployment's payload states (an object, or its JSON text);
    HIGH when it states one that is not a level."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except (ValueError, RecursionError):
            return None
    if not isinstance(payload, dict) or "feature_risk" not in payload:
        return None
    return _level_of(payload["feature_risk"]) or Level.HIGH


def request_fields(event: ProtectionRuleEvent, policy: GitHubPolicy) -> dict[str, Any]:
    """The release request an event asks about, without its time (taken when it is
    decided). Raises InvalidInput when the event names a service or environment the agent
    cannot take."""
    service = policy.service_of(event.repository.full_name)
    risk = (
        label_risk(event.pull_requests)
        or payload_risk(event.deployment.payload)
        or Level(policy.feature_risk)
    )
    where = f"deployment {event.deployment.id}" if event.deployment.id else "a deployment"
    fields: dict[str, Any] = {
        "service": service,
        "team": policy.team_of(event.repository.full_name),
        "env": event.environment,
        "feature_risk": risk.value,
        "service_criticality": policy.criticality_of(service).value,
        "ref": event.ref,
        "notes": f"GitHub {where} of {event.repository.full_name} to {event.environment}",
    }
    _check(fields)
    return fields


def _check(fields: dict[str, Any]) -> None:
    try:
        ReleaseRequest.model_validate({**fields, "at": datetime.now(UTC)})
    except ValidationError as error:
        raise invalid_from(error) from None


def status_result(state: str, policy: GitHubPolicy) -> Result | None:
    """The outcome a deployment status means: ``success`` a success, ``failure`` and
    ``error`` the policy's ``failure_result``; None for a state that is no outcome yet
    (queued, pending, in_progress, inactive, ...)."""
    if state == "success":
        return Result.success
    if state in ("failure", "error"):
        return Result(policy.failure_result)
    return None


__all__ = [
    "DeploymentStatusEvent",
    "ProtectionRuleEvent",
    "label_risk",
    "parse",
    "payload_risk",
    "ref_of",
    "request_fields",
    "status_result",
]
