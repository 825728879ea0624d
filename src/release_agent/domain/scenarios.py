"""The seed's five built-in scenarios, in the week of Friday 2026-11-27 (UTC+01:00)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .errors import NotFound
from .models import Level, ReleaseRequest


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    request: ReleaseRequest


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "monday-low",
        "Low risk, Monday 08:00, LOW criticality",
        ReleaseRequest(
            service="blog",
            env="prod",
            feature_risk=Level.LOW,
            service_criticality=Level.LOW,
            at=_at("2026-11-23T08:00:00+01:00"),
        ),
    ),
    Scenario(
        "tuesday-low",
        "Low risk, Tuesday 10:00, MEDIUM criticality",
        ReleaseRequest(
            service="search",
            env="prod",
            feature_risk=Level.LOW,
            service_criticality=Level.MEDIUM,
            at=_at("2026-11-24T10:00:00+01:00"),
        ),
    ),
    Scenario(
        "friday-low",
        "Low risk, Friday 16:00, MEDIUM criticality",
        ReleaseRequest(
            service="search",
            env="prod",
            feature_risk=Level.LOW,
            service_criticality=Level.MEDIUM,
            at=_at("2026-11-27T16:00:00+01:00"),
        ),
    ),
    Scenario(
        "saturday-low",
        "Low risk, Saturday 16:00, MEDIUM criticality",
        ReleaseRequest(
            service="search",
            env="prod",
            feature_risk=Level.LOW,
            service_criticality=Level.MEDIUM,
            at=_at("2026-11-28T16:00:00+01:00"),
        ),
    ),
    Scenario(
        "friday-high-clash",
        "High risk, Friday 16:00, HIGH criticality, clash with PAYMENTS-SERVICE",
        ReleaseRequest(
            service="checkout",
            env="prod",
            feature_risk=Level.HIGH,
            service_criticality=Level.HIGH,
            at=_at("2026-11-27T16:00:00+01:00"),
            clashes=["PAYMENTS-SERVICE"],
        ),
    ),
)


def get(scenario_id: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.id == scenario_id:
            return scenario
    raise NotFound(
        f"no scenario {scenario_id!r}", field="scenario", allowed=[s.id for s in SCENARIOS]
    )


CAREFUL_TEAM_PRIORS: dict[str, object] = {
    "base_rate": 0.05,
    "effects": {
        "feature_risk=MEDIUM": {"times": 1.6, "sd": 0.5},
        "feature_risk=HIGH": {"times": 4.0, "sd": 0.7},
        "clash": {"times": 3.0, "sd": 0.7},
        "friday_afternoon": {"times": 2.5, "sd": 0.6},
        "weekend": {"times": 1.5, "sd": 0.5},
        "out_of_hours": {"times": 1.5, "sd": 0.5},
    },
}
"""The ``[priors]`` of a careful team, as the demo states them: a team that believes,
before any evidence, that high-risk changes, clashes, Friday afternoons, weekends and
nights are riskier. Without a policy saying so, release-agent believes none of it until
its own history shows it (see release_agent.stats.priors); the demo shows the scenarios
as such a team would see them on its first day."""
