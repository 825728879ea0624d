"""Stage 2: context evaluation — the typed attributes of a release at one moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.attributes import Observation, observe
from ..domain.models import Context, ReleaseRequest, is_production
from ..domain.policy import DecisionSettings
from .trace import Note


def attributes_at(
    request: ReleaseRequest, settings: DecisionSettings, at: datetime, clash: bool
) -> dict[str, Any]:
    """The conditionable attributes of ``request`` at ``at`` (as :meth:`Context.attributes`),
    without building a Context: the scheduler needs them for every window."""
    return observe(_observation(request, at, ("clash",) if clash else ()), settings)


def _observation(request: ReleaseRequest, at: datetime, clashes: tuple[str, ...]) -> Observation:
    return Observation(
        service=request.service,
        env=request.env,
        feature_risk=request.feature_risk,
        service_criticality=request.service_criticality,
        local=at.astimezone(request.at.tzinfo),
        clashes=clashes,
    )


def evaluate(
    request: ReleaseRequest,
    settings: DecisionSettings,
    at: datetime | None = None,
    clashes: list[str] | None = None,
) -> Context:
    """The context of ``request`` at ``at`` (default: the requested time).

    Day and hour are read in the release's own time zone: the UTC offset of the requested
    time. ``clashes`` overrides the request's clashes; a later window is evaluated with
    none, since the clashes a caller names are those at the requested time.
    """
    moment = request.at if at is None else at.astimezone(request.at.tzinfo)
    names = list(request.clashes if clashes is None else clashes)
    values = observe(_observation(request, moment, tuple(names)), settings)
    return Context.model_validate(
        {**values, "at": moment, "clashes": names, "production": is_production(request.env)}
    )


def note(context: Context) -> Note:
    """The stage's trace entry."""
    return Note(
        "context",
        f"{context.day_of_week.value} {context.hour_of_day:02d}h local, "
        f"{context.feature_risk.value} risk, {context.service_criticality.value} criticality"
        + (", clash" if context.clash else ""),
        context.model_dump(mode="json"),
    )
