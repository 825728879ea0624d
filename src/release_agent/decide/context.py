"""Stage 2: context evaluation — the typed attributes of a release at one moment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..domain.attributes import Observation, observe
from ..domain.models import Context, ReleaseRequest
from ..domain.policy import DecisionSettings, Policy
from .trace import Note


def attributes_at(
    request: ReleaseRequest, settings: DecisionSettings, at: datetime, clash: bool
) -> dict[str, Any]:
    """The conditionable attributes of ``request`` at ``at`` (as :meth:`Context.attributes`),
    without building a Context."""
    return attributes_over(request, settings, [(at, clash)])[0]


def attributes_over(
    request: ReleaseRequest, settings: DecisionSettings, moments: Sequence[tuple[datetime, bool]]
) -> list[dict[str, Any]]:
    """:func:`attributes_at` at each (moment, clash) of ``moments``, what the request
    itself says read once: the scheduler needs them for every window."""
    zone = settings.timezone or request.at.tzinfo
    production = settings.is_production(request.env)
    return [
        observe(
            _observation(request, at.astimezone(zone), ("clash",) if clash else (), production),
            settings,
        )
        for at, clash in moments
    ]


def _observation(
    request: ReleaseRequest, local: datetime, clashes: tuple[str, ...], production: bool
) -> Observation:
    """What the attributes are read from: the request's fields at the moment ``local``
    (in the team's time zone when the policy names one, else in the release's own
    offset)."""
    return Observation(
        service=request.service,
        env=request.env,
        feature_risk=request.feature_risk,
        service_criticality=request.service_criticality,
        local=local,
        clashes=clashes,
        production=production,
        team=request.team,
    )


def evaluate(
    request: ReleaseRequest,
    settings: DecisionSettings,
    at: datetime | None = None,
    clashes: list[str] | None = None,
) -> Context:
    """The context of ``request`` at ``at`` (default: the requested time).

    Day and hour are read in the team's time zone (the policy's ``timezone``), else in
    the release's own: the UTC offset of the requested time. ``clashes`` overrides the
    request's clashes; a later window is evaluated with none, since the clashes a caller
    names are those at the requested time.
    """
    moment = request.at if at is None else at.astimezone(request.at.tzinfo)
    names = list(request.clashes if clashes is None else clashes)
    local = moment.astimezone(settings.timezone or request.at.tzinfo)
    production = settings.is_production(request.env)
    values = observe(_observation(request, local, tuple(names), production), settings)
    return Context.model_validate(
        {
            **values,
            "at": moment,
            "clashes": names,
            "production": production,
        }
    )


def warnings(request: ReleaseRequest, policy: Policy) -> list[str]:
    """What the decision should warn about: an environment the policy does not name, a
    freeze calendar read from an old copy."""
    found = [policy.settings.env_warning(request.env)]
    return [w for w in found if w] + policy.calendar_warnings(request.env)


def warnings_note(found: list[str]) -> Note:
    """The trace entry of the warnings."""
    return Note("warnings", "; ".join(found) or "none", {"warnings": found})


def note(context: Context) -> Note:
    """The stage's trace entry."""
    return Note(
        "context",
        f"{context.day_of_week.value} {context.hour_of_day:02d}h local, "
        f"{context.feature_risk.value} risk, {context.service_criticality.value} criticality"
        + (", clash" if context.clash else ""),
        context.model_dump(mode="json"),
    )
