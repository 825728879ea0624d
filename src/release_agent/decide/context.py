"""Stage 2: context evaluation — the typed attributes of a release at one moment."""

from __future__ import annotations

from datetime import datetime

from ..domain.models import PRODUCTION_ENVS, Context, Day, ReleaseRequest
from ..domain.policy import DecisionSettings


def attributes_at(
    request: ReleaseRequest, settings: DecisionSettings, at: datetime, clash: bool
) -> dict[str, object]:
    """The conditionable attributes of ``request`` at ``at`` (as :meth:`Context.attributes`),
    without building a Context: the scheduler needs them for every window."""
    moment = at.astimezone(request.at.tzinfo)
    day = Day.of(moment)
    hour = moment.hour
    start, end = settings.business_hours
    return {
        "service": request.service,
        "env": request.env,
        "feature_risk": request.feature_risk.value,
        "service_criticality": request.service_criticality.value,
        "day_of_week": day.value,
        "hour_of_day": hour,
        "clash": clash,
        "weekend": day in (Day.SAT, Day.SUN),
        "friday_afternoon": day is Day.FRI and hour >= settings.friday_afternoon_from,
        "out_of_hours": not (start <= hour < end),
    }


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
    day = Day.of(moment)
    hour = moment.hour
    start, end = settings.business_hours
    names = list(request.clashes if clashes is None else clashes)
    return Context(
        service=request.service,
        env=request.env,
        feature_risk=request.feature_risk,
        service_criticality=request.service_criticality,
        at=moment,
        day_of_week=day,
        hour_of_day=hour,
        clash=bool(names),
        clashes=names,
        weekend=day in (Day.SAT, Day.SUN),
        friday_afternoon=day is Day.FRI and hour >= settings.friday_afternoon_from,
        out_of_hours=not (start <= hour < end),
        production=request.env in PRODUCTION_ENVS,
    )
