"""The attribute registry: every context attribute of a release, declared once.

An attribute is something a heuristic, a world factor or the risk model may condition
on: the service, the environment, the feature risk, the day, the hour, a clash, whether
it is a weekend, ... Each is declared here with

- its **kind** (text, enum with its values, hour, flag), which gives its database column,
  how a condition on it is checked and how an LLM is asked about it;
- how it is **computed**: *observed* from the request and its local time
  (:func:`observe`), or *derived* from other attributes and the team's clock rules
  (:func:`derive`; the seed's memory file, which knows a day and an hour but no date,
  derives the same way);
- whether learning **mines** it, its weight when recalling **similar** episodes, and its
  **effect** in the risk model with the prior of that effect.

Everything else — the episodes table's columns, :class:`~.models.Context`, the
risk-model features, the mining dimensions, the similarity of episodes, the LLM's answer
schema and the extraction prompt, the drivers a reason names — is built from
:data:`ATTRIBUTES`. Adding an attribute means adding one :class:`Attribute` here with the
function that computes it (and a migration adding its column to stored databases).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from .models import DAYS, DEFAULT_TEAM, Day, Level

PART_OF_DAY_HOURS = 6
"""Mining and the risk model read the hour in parts of the day of this many hours."""
NO_EFFECT_SD = 0.7
TEAM_SD = 0.5
"""The starting scale of the teams' effects (as the services'), then learned."""
"""The prior of a main effect: centred on no effect, a standard deviation of 0.7 on the
log-odds to start with (see :mod:`release_agent.stats.priors`)."""


class Kind(StrEnum):
    text = "text"
    """Any name (service, env)."""
    enum = "enum"
    """One of ``values``."""
    hour = "hour"
    """An hour of the local day, 0 to 23; conditions may give a range."""
    flag = "flag"
    """True or false."""


class ClockRules(Protocol):
    """The team's clock, from the policy's decision settings."""

    @property
    def business_hours(self) -> tuple[int, int]: ...

    @property
    def friday_afternoon_from(self) -> int: ...

    def is_production(self, env: str) -> bool:
        """Whether ``env`` is a production environment (the policy's patterns)."""
        ...


@dataclass(frozen=True)
class Observation:
    """What an observed attribute is read from: the request's fields, the moment in the
    release's own time zone, the names of the releases it clashes with, and whether its
    environment is production by the team's policy."""

    service: str
    env: str
    feature_risk: Level
    service_criticality: Level
    local: datetime
    clashes: tuple[str, ...]
    production: bool
    team: str = DEFAULT_TEAM


Prior = tuple[float, float]
"""A Gaussian prior on a log-odds effect: (mean, standard deviation)."""


@dataclass(frozen=True)
class Effect:
    """How an attribute's value enters the risk model: the names of the effects present
    for a value, and the prior of each.

    - ``flag``: one effect, named after the attribute, when the value is true;
    - ``levels``: an effect ``name=value`` for each value listed in ``priors``;
    - ``each``: an effect ``name=value`` for every value but those in ``baseline``,
      centred on none with ``sd``;
    - ``unless``: one effect named ``feature`` when the value is none of ``values``.
    """

    form: str
    priors: Mapping[str, Prior] = field(default_factory=dict)
    sd: float = 0.0
    feature: str = ""
    values: tuple[Any, ...] = ()
    """``unless``: the values with no effect (a flag's ``True``, or names)."""
    baseline: tuple[str, ...] = ()
    """``each``: values with no effect of their own, which the intercept stands for."""

    def features(self, name: str, value: Any) -> list[str]:
        if value is None:
            return []
        if self.form == "flag":
            return [name] if value else []
        if self.form == "levels":
            return [f"{name}={value}"] if str(value) in self.priors else []
        if self.form == "each":
            return [] if str(value) in self.baseline else [f"{name}={value}"]
        if self.form == "unless":
            return [] if value in self.values else [self.feature]
        raise ValueError(f"unknown effect form {self.form!r}")

    def prior(self, name: str, feature: str) -> Prior | None:
        """The prior of ``feature`` if this effect makes it, else None."""
        if self.form == "flag" and feature == name:
            return self.priors[name]
        if self.form == "unless" and feature == self.feature:
            return self.priors[self.feature]
        prefix = f"{name}="
        if not feature.startswith(prefix) or "/" in feature:
            return None
        value = feature[len(prefix) :]
        if self.form == "levels":
            return self.priors.get(value)
        if self.form == "each":
            return None if value in self.baseline else (0.0, self.sd)
        return None

    def known(self, name: str, values: tuple[str, ...]) -> list[str]:
        """The effects declared in advance (so that a fit has them even without
        evidence): every listed level or value."""
        if self.form == "flag":
            return [name]
        if self.form == "unless":
            return [self.feature]
        if self.form == "levels":
            return [f"{name}={v}" for v in self.priors]
        return [f"{name}={v}" for v in values if v not in self.baseline]


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind
    label: str
    """How a reason names it when it drives the risk (a flag) — or the attribute itself."""
    meaning: str
    """One line for prompts and documentation."""
    values: tuple[str, ...] = ()
    observe: Callable[[Observation], Any] | None = None
    derive: Callable[[Mapping[str, Any], ClockRules], Any] | None = None
    """From other attributes: None when an input is missing."""
    mined: bool = True
    transient: bool = False
    """Waiting changes it (the day, the hour, a clash): a risk found in it calls for a
    DELAY, where a risk in the change itself calls for NO_GO."""
    similarity: float = 0.0
    effect: Effect | None = None

    @property
    def all_values(self) -> tuple[Any, ...]:
        """Every value of a closed kind (enum values, hours, true/false); () for text."""
        if self.kind is Kind.enum:
            return self.values
        if self.kind is Kind.hour:
            return tuple(range(24))
        if self.kind is Kind.flag:
            return (True, False)
        return ()


@dataclass(frozen=True)
class Interaction:
    """A risk-model effect of two attributes together, centred on none."""

    name: str
    sd: float
    prefix: str
    """Every effect of this interaction is named ``prefix.../...``: the slash sets it
    apart from the attributes' own effects."""
    make: Callable[[Mapping[str, Any]], str | None]
    """The effect's name for a context, or None when it does not apply."""
    known: tuple[str, ...] = ()
    """Names declared in advance."""


def _weekend(a: Mapping[str, Any], _rules: ClockRules) -> bool | None:
    day = a.get("day_of_week")
    return None if day is None else day in (Day.SAT.value, Day.SUN.value)


def _production(a: Mapping[str, Any], rules: ClockRules) -> bool | None:
    env = a.get("env")
    return None if env is None else rules.is_production(str(env))


def _friday_afternoon(a: Mapping[str, Any], rules: ClockRules) -> bool | None:
    day, hour = a.get("day_of_week"), a.get("hour_of_day")
    if day is None or hour is None:
        return None
    return bool(day == Day.FRI.value and hour >= rules.friday_afternoon_from)


def _out_of_hours(a: Mapping[str, Any], rules: ClockRules) -> bool | None:
    hour = a.get("hour_of_day")
    if hour is None:
        return None
    start, end = rules.business_hours
    return not (start <= hour < end)


_LEVELS = tuple(level.value for level in Level)

ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "service",
        Kind.text,
        "service",
        "the service released",
        observe=lambda o: o.service,
        similarity=3.0,
        effect=Effect("each", sd=0.5),
    ),
    Attribute(
        "team",
        Kind.text,
        "team",
        "the team that owns the release",
        observe=lambda o: o.team,
        # Not mined: a pattern of one team is found through its services. In the risk
        # model each team but the default one has an effect, pooled in one group: a new
        # team starts from the organisation's evidence, and its own takes over.
        mined=False,
        effect=Effect("each", sd=TEAM_SD, baseline=(DEFAULT_TEAM,)),
    ),
    Attribute(
        "env",
        Kind.text,
        "environment",
        "the environment deployed to",
        observe=lambda o: o.env,
    ),
    Attribute(
        "production",
        Kind.flag,
        "production",
        "the environment is a production one, by the policy's production patterns",
        # Observed with the team's patterns at decision time (settings.is_production, as
        # Context.production), stored with the episode and its cell, so that learning
        # and every later decision read the classification the decision was made with.
        # Derived from env for a memory file that does not give it.
        observe=lambda o: o.production,
        derive=_production,
        # Not mined: a pattern of production is found through its environments.
        mined=False,
        effect=Effect(
            "unless",
            {"non_production": (0.0, NO_EFFECT_SD)},
            feature="non_production",
            values=(True,),
        ),
    ),
    Attribute(
        "feature_risk",
        Kind.enum,
        "feature risk",
        "how risky the change itself is",
        values=_LEVELS,
        observe=lambda o: o.feature_risk.value,
        similarity=2.0,
        effect=Effect("levels", {"MEDIUM": (0.0, NO_EFFECT_SD), "HIGH": (0.0, NO_EFFECT_SD)}),
    ),
    Attribute(
        "service_criticality",
        Kind.enum,
        "criticality",
        "how critical the service is",
        values=_LEVELS,
        observe=lambda o: o.service_criticality.value,
        similarity=1.0,
        effect=Effect("levels", {"MEDIUM": (0.0, NO_EFFECT_SD), "HIGH": (0.0, NO_EFFECT_SD)}),
    ),
    Attribute(
        "day_of_week",
        Kind.enum,
        "day",
        "the local day of the deploy",
        values=tuple(d.value for d in DAYS),
        observe=lambda o: Day.of(o.local).value,
        transient=True,
        similarity=1.0,
        effect=Effect("each", sd=0.3),
    ),
    Attribute(
        "hour_of_day",
        Kind.hour,
        "hour",
        "the local hour of the deploy, 0-23",
        observe=lambda o: o.local.hour,
        transient=True,
        similarity=1.0,
        effect=Effect("each", sd=0.2),
    ),
    Attribute(
        "clash",
        Kind.flag,
        "clash",
        "another release clashes with it",
        observe=lambda o: bool(o.clashes),
        transient=True,
        similarity=1.0,
        effect=Effect("flag", {"clash": (0.0, NO_EFFECT_SD)}),
    ),
    Attribute(
        "weekend",
        Kind.flag,
        "weekend",
        "Saturday or Sunday, local time",
        derive=_weekend,
        transient=True,
        similarity=1.0,
        effect=Effect("flag", {"weekend": (0.0, NO_EFFECT_SD)}),
    ),
    Attribute(
        "friday_afternoon",
        Kind.flag,
        "Friday afternoon",
        "Friday from the policy's friday_afternoon_from hour, local time",
        derive=_friday_afternoon,
        transient=True,
        similarity=1.0,
        effect=Effect("flag", {"friday_afternoon": (0.0, NO_EFFECT_SD)}),
    ),
    Attribute(
        "out_of_hours",
        Kind.flag,
        "out of hours",
        "outside the policy's business hours, local time",
        derive=_out_of_hours,
        transient=True,
        similarity=1.0,
        effect=Effect("flag", {"out_of_hours": (0.0, NO_EFFECT_SD)}),
    ),
)

BY_NAME: dict[str, Attribute] = {a.name: a for a in ATTRIBUTES}
NAMES: tuple[str, ...] = tuple(a.name for a in ATTRIBUTES)


def names_of(kind: Kind) -> tuple[str, ...]:
    return tuple(a.name for a in ATTRIBUTES if a.kind is kind)


def _slot(a: Mapping[str, Any]) -> str | None:
    day, hour = a.get("day_of_week"), a.get("hour_of_day")
    if day is None or hour is None:
        return None
    return f"slot={day}/{int(hour) // PART_OF_DAY_HOURS}"


def _service_risk(a: Mapping[str, Any]) -> str | None:
    service, risk = a.get("service"), a.get("feature_risk")
    if service is None or risk is None:
        return None
    return f"service={service}/feature_risk={risk}"


INTERACTIONS: tuple[Interaction, ...] = (
    Interaction(
        "slot",
        0.3,
        "slot=",
        _slot,
        known=tuple(f"slot={d.value}/{b}" for d in DAYS for b in range(24 // PART_OF_DAY_HOURS)),
    ),
    Interaction("service_x_feature_risk", 0.5, "service=", _service_risk),
)


def observe(observation: Observation, rules: ClockRules) -> dict[str, Any]:
    """Every attribute of a release at a moment, in registry order."""
    return complete({name: read(observation) for name, read in _OBSERVED}, rules)


def complete(values: Mapping[str, Any], rules: ClockRules) -> dict[str, Any]:
    """``values`` with every derived attribute it lacks and can be derived, in registry
    order; attributes given stay as given."""
    out = dict(values)
    for name, derive in _DERIVED:
        if name not in out:
            derived = derive(out, rules)
            if derived is not None:
                out[name] = derived
    return {name: out[name] for name in NAMES if name in out}


_OBSERVED = tuple((a.name, a.observe) for a in ATTRIBUTES if a.observe is not None)
_DERIVED = tuple((a.name, a.derive) for a in ATTRIBUTES if a.derive is not None)
"""The registry's readers, in its order: a scheduler observes every window of a decision."""


def drivers(values: Mapping[str, Any]) -> list[str]:
    """The labels of the flags that hold for a context (``weekend``, ``Friday afternoon``,
    ...), in registry order: what a reason names as raising the risk."""
    return [
        a.label
        for a in ATTRIBUTES
        if a.kind is Kind.flag
        and a.name != "clash"
        # a flag that raises the risk when it holds (production is the baseline)
        and a.effect is not None
        and a.effect.form == "flag"
        and values.get(a.name)
    ]
