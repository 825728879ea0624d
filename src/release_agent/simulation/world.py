"""The world file: a JSON description of a stream of releases and of their true risks.

The format is public. Every key but ``arrival``, ``factors``, ``description``, ``seed``,
``clash_rate`` and ``max_failure_rate`` is required::

    {
      "name": "default",
      "description": "Fridays after lunch and clashes are risky",   # optional
      "seed": 1,                                                  # default 0
      "start": "2026-01-05T00:00:00+00:00",                       # with a UTC offset
      "timezone": "Europe/Berlin",                                # IANA name
      "services": [{"name": "payments", "criticality": "HIGH"}, ...],
      "feature_risk_mix": {"LOW": 0.6, "MEDIUM": 0.3, "HIGH": 0.1},
      "releases_per_day": 6,
      "arrival": {"hours": [24 weights], "days": [7 weights, Monday first]},
      "clash_rate": 0.1,                                          # default 0
      "base_failure_rate": 0.05,
      "max_failure_rate": 0.95,                                   # default 1
      "factors": [{"when": {"feature_risk": "HIGH"}, "times": 4.0}, ...],
      "costs": {"failure": {"LOW": 5, "MEDIUM": 15, "HIGH": 40},
                "delay_per_hour": 0.05, "no_go": 4}
    }

A factor's ``when`` is the condition language of heuristics (:mod:`release_agent.domain.conditions`)
restricted to the attributes a world knows: service, service_criticality, feature_risk,
day_of_week, hour_of_day (local, in ``timezone``), clash and env (always ``prod``). A
deployment fails with probability ``min(max_failure_rate, base_failure_rate × the product
of the matching factors' times)``.

Unknown keys and values are refused with :class:`~release_agent.domain.errors.InvalidInput`
naming the offending field (``services[1].criticality``, ``factors[0].when.day_of_week``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..domain.conditions import describe, matches, normalize
from ..domain.errors import InvalidInput
from ..domain.models import DAYS, NAME_PATTERN, Level
from ..domain.policy import Costs

LEVELS: tuple[Level, ...] = tuple(Level)
WORLD_ENV = "prod"
"""Every simulated release goes to production."""

WORLD_ATTRIBUTES: tuple[str, ...] = (
    "service",
    "service_criticality",
    "feature_risk",
    "day_of_week",
    "hour_of_day",
    "clash",
    "env",
)
_TOP_KEYS = (
    "name",
    "description",
    "seed",
    "start",
    "timezone",
    "services",
    "feature_risk_mix",
    "releases_per_day",
    "arrival",
    "clash_rate",
    "base_failure_rate",
    "max_failure_rate",
    "factors",
    "costs",
)
_REQUIRED = (
    "name",
    "start",
    "timezone",
    "services",
    "feature_risk_mix",
    "releases_per_day",
    "base_failure_rate",
    "costs",
)


@dataclass(frozen=True)
class Service:
    name: str
    criticality: Level


@dataclass(frozen=True)
class Factor:
    when: dict[str, Any]
    """A normalized condition (see :func:`release_agent.domain.conditions.normalize`)."""
    times: float


@dataclass(frozen=True, eq=False)
class World:
    """A validated world. Build it with :func:`parse_world` or :func:`load_world`."""

    name: str
    seed: int
    start: datetime
    timezone: ZoneInfo
    services: tuple[Service, ...]
    feature_risk_mix: dict[Level, float]
    """Probabilities that sum to 1."""
    releases_per_day: float
    arrival_hours: tuple[float, ...]
    arrival_days: tuple[float, ...]
    clash_rate: float
    base_failure_rate: float
    max_failure_rate: float
    factors: tuple[Factor, ...]
    costs: Costs
    description: str = ""
    source: str | None = field(default=None, compare=False)

    def attributes(
        self, service: int, feature_risk: Level, day: int, hour: int, clash: bool
    ) -> dict[str, Any]:
        """The attributes a factor's ``when`` is matched against (day 0 = Monday)."""
        svc = self.services[service]
        return {
            "service": svc.name,
            "service_criticality": svc.criticality.value,
            "feature_risk": feature_risk.value,
            "day_of_week": DAYS[day].value,
            "hour_of_day": hour,
            "clash": clash,
            "env": WORLD_ENV,
        }

    def failure_probability(
        self, service: int, feature_risk: Level, day: int, hour: int, clash: bool
    ) -> float:
        """The true chance that a deploy under these conditions fails, in [0, max rate]."""
        attributes = self.attributes(service, feature_risk, day, hour, clash)
        product = self.base_failure_rate
        for factor in self.factors:
            if matches(factor.when, attributes):
                product *= factor.times
        return min(self.max_failure_rate, product)

    @cached_property
    def probability_table(self) -> np.ndarray:
        """``table[service, risk, day, hour, clash]``: :meth:`failure_probability`, precomputed.

        Risk is indexed in :data:`LEVELS` order, clash as 0/1. Read-only.
        """
        table = np.empty((len(self.services), len(LEVELS), 7, 24, 2))
        for s in range(len(self.services)):
            for r, risk in enumerate(LEVELS):
                for d in range(7):
                    for h in range(24):
                        for c in (0, 1):
                            table[s, r, d, h, c] = self.failure_probability(s, risk, d, h, bool(c))
        table.flags.writeable = False
        return table

    @cached_property
    def failure_costs(self) -> np.ndarray:
        """The cost of a failure of each service, indexed like :attr:`services`."""
        return np.array([float(self.costs.failure[s.criticality]) for s in self.services])

    def describe_factors(self) -> list[str]:
        """Each factor in short human form: ``day_of_week=FRI & hour_of_day=14..23 ×2.5``."""
        return [f"{describe(f.when)} ×{f.times:g}" for f in self.factors]


# ---------------------------------------------------------------------------------------
# Parsing


def _only(data: Any, allowed: tuple[str, ...], where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput("must be an object", field=where or "world")
    for key in data:
        if key not in allowed:
            path = f"{where}.{key}" if where else str(key)
            raise InvalidInput("is not a known key", field=path, allowed=allowed)
    return data


def _number(value: Any, where: str, *, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{value!r} is not a number", field=where)
    if value < low or (high is not None and value > high):
        bound = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        raise InvalidInput(f"{value!r} is out of range; must be {bound}", field=where)
    return float(value)


def _level(value: Any, where: str) -> Level:
    allowed = [level.value for level in Level]
    if isinstance(value, str) and value.upper() in allowed:
        return Level(value.upper())
    raise InvalidInput(f"{value!r} is not a valid level", field=where, allowed=allowed)


def _weights(value: Any, length: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != length:
        raise InvalidInput(f"must be a list of {length} non-negative numbers", field=where)
    weights = tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(value))
    if sum(weights) <= 0:
        raise InvalidInput("needs at least one positive weight", field=where)
    return weights


def _services(value: Any) -> tuple[Service, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("must be a non-empty list of services", field="services")
    services: list[Service] = []
    for i, entry in enumerate(value):
        where = f"services[{i}]"
        _only(entry, ("name", "criticality"), where)
        for key in ("name", "criticality"):
            if key not in entry:
                raise InvalidInput("is required", field=f"{where}.{key}")
        name = entry["name"]
        if not isinstance(name, str) or not NAME_PATTERN.match(name.strip()):
            raise InvalidInput(
                f"{name!r} is not a service name (letters, digits, '.', '_', '-', '/')",
                field=f"{where}.name",
            )
        name = name.strip()
        if any(s.name == name for s in services):
            raise InvalidInput(f"service {name!r} is listed twice", field=f"{where}.name")
        services.append(Service(name, _level(entry["criticality"], f"{where}.criticality")))
    return tuple(services)


def _mix(value: Any) -> dict[Level, float]:
    _only(value, tuple(level.value for level in Level), "feature_risk_mix")
    raw = {Level(k): _number(v, f"feature_risk_mix.{k}") for k, v in value.items()}
    total = sum(raw.values())
    if total <= 0:
        raise InvalidInput("needs at least one positive weight", field="feature_risk_mix")
    return {level: raw.get(level, 0.0) / total for level in LEVELS}


def _factors(value: Any, services: tuple[Service, ...]) -> tuple[Factor, ...]:
    if not isinstance(value, list):
        raise InvalidInput("must be a list of {when, times}", field="factors")
    names = [s.name for s in services]
    factors = []
    for i, entry in enumerate(value):
        where = f"factors[{i}]"
        _only(entry, ("when", "times"), where)
        for key in ("when", "times"):
            if key not in entry:
                raise InvalidInput("is required", field=f"{where}.{key}")
        raw_when = entry["when"]
        if isinstance(raw_when, Mapping):
            # Heuristics may also speak of weekend or out_of_hours; a world states its
            # risks in the primary attributes only, so that they have one meaning.
            _only(raw_when, WORLD_ATTRIBUTES, f"{where}.when")
        when = normalize(raw_when, where=f"{where}.when")
        wanted = when.get("service")
        for j, name in enumerate(wanted if isinstance(wanted, list) else [wanted]):
            if name is not None and name not in names:
                suffix = f"[{j}]" if isinstance(wanted, list) else ""
                raise InvalidInput(
                    f"{name!r} is not a service of this world",
                    field=f"{where}.when.service{suffix}",
                    allowed=names,
                )
        factors.append(Factor(when, _number(entry["times"], f"{where}.times")))
    return tuple(factors)


def _costs(value: Any) -> Costs:
    _only(value, ("failure", "delay_per_hour", "no_go"), "costs")
    for key in ("failure", "delay_per_hour", "no_go"):
        if key not in value:
            raise InvalidInput("is required", field=f"costs.{key}")
    levels = tuple(level.value for level in Level)
    _only(value["failure"], levels, "costs.failure")
    failure = {}
    for level in levels:
        if level not in value["failure"]:
            raise InvalidInput("is required", field=f"costs.failure.{level}")
        failure[Level(level)] = _number(value["failure"][level], f"costs.failure.{level}")
    return Costs(
        failure=failure,
        delay_per_hour=_number(value["delay_per_hour"], "costs.delay_per_hour"),
        no_go=_number(value["no_go"], "costs.no_go"),
    )


def _start(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            f"{value!r} is not a date-time with a UTC offset, e.g. 2026-01-05T00:00:00+00:00",
            field="start",
        )
    return moment


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{value!r} is not a time zone; use an IANA name such as Europe/Berlin",
            field="timezone",
        ) from None


def parse_world(data: Any, source: str | None = None) -> World:
    """Validate world data (already decoded from JSON) and build a :class:`World`.

    Raises InvalidInput naming the first unknown key, missing key or bad value.
    """
    _only(data, _TOP_KEYS, "")
    for key in _REQUIRED:
        if key not in data:
            raise InvalidInput("is required", field=key)
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("must be a non-empty string", field="name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise InvalidInput("must be a string", field="description")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput(f"{seed!r} is not a non-negative integer", field="seed")
    services = _services(data["services"])
    arrival = _only(data.get("arrival", {}), ("hours", "days"), "arrival")
    hours = _weights(arrival["hours"], 24, "arrival.hours") if "hours" in arrival else (1.0,) * 24
    days = _weights(arrival["days"], 7, "arrival.days") if "days" in arrival else (1.0,) * 7
    if sum(h * d for h in hours for d in days) <= 0:
        raise InvalidInput("no hour of the week can receive a release", field="arrival")
    rate = _number(data["releases_per_day"], "releases_per_day")
    if rate <= 0:
        raise InvalidInput("must be positive", field="releases_per_day")
    return World(
        name=name.strip(),
        seed=seed,
        start=_start(data["start"]),
        timezone=_zone(data["timezone"]),
        services=services,
        feature_risk_mix=_mix(data["feature_risk_mix"]),
        releases_per_day=rate,
        arrival_hours=hours,
        arrival_days=days,
        clash_rate=_number(data.get("clash_rate", 0.0), "clash_rate", high=1.0),
        base_failure_rate=_number(data["base_failure_rate"], "base_failure_rate", high=1.0),
        max_failure_rate=_number(data.get("max_failure_rate", 1.0), "max_failure_rate", high=1.0),
        factors=_factors(data.get("factors", []), services),
        costs=_costs(data["costs"]),
        description=description.strip(),
        source=source,
    )


# ---------------------------------------------------------------------------------------
# Shipped worlds and files


def _shipped_dir() -> Any:
    return resources.files("release_agent") / "data" / "worlds"


def shipped_worlds() -> list[str]:
    """Names of the worlds shipped with the package, sorted (``default`` among them)."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in _shipped_dir().iterdir()
        if entry.name.endswith(".json")
    )


def _decode(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{where} is not valid JSON: {error.msg} at line {error.lineno}", field="world"
        ) from None


def load_world(spec: str | Path | None = None) -> World:
    """Load a world from a file path or a shipped name (``None`` is the default world).

    An existing file wins over a shipped name. Raises InvalidInput when the file is
    missing, is not JSON or is not a valid world.
    """
    if spec is None:
        spec = "default"
    path = Path(spec)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInput(f"cannot read {path}: {error}", field="world") from None
        return parse_world(_decode(text, str(path)), source=str(path))
    name = str(spec)
    if name in shipped_worlds():
        text = (_shipped_dir() / f"{name}.json").read_text(encoding="utf-8")
        return parse_world(_decode(text, name), source=f"shipped:{name}")
    raise InvalidInput(
        f"{name!r} is neither a world file nor a shipped world",
        field="world",
        allowed=shipped_worlds(),
    )
