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

Optional keys for worlds that change:

- on a factor, ``"from"`` and ``"until"`` (ISO 8601 date-times with a UTC offset): the
  factor applies to releases deployed at ``from <= t < until``; either may be left out
  (from the beginning, for ever). ``from`` must be before ``until``.
- on a service, ``"weight"``: its relative share of the releases (default 1 each), for
  worlds where some services are released far more often than others.

Every number must be finite and in its range, or the world is refused:

==========================================  ==========================
key                                         range
==========================================  ==========================
``seed``                                    integer, 0 .. 2**63 − 1
``releases_per_day``                        0.1 .. 1000
``arrival.hours[i]``, ``arrival.days[i]``   0 .. 1e6, one positive
``feature_risk_mix.*``                      0 .. 1e6, one positive
``services[i].weight``                      0 .. 1e6, one positive
``clash_rate``, ``base_failure_rate``,      0 .. 1
``max_failure_rate``
``factors[i].times``                        0.001 .. 1000
``costs.failure.*``, ``costs.no_go``,       0 .. 1e9
``costs.delay_per_hour``
==========================================  ==========================

and a world has 1 to 500 services and at most 100 factors.

Unknown keys and values are refused with :class:`~release_agent.domain.errors.InvalidInput`
naming the offending field (``services[1].criticality``, ``factors[0].when.day_of_week``,
``factors[2].until``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.conditions import normalize
from ..domain.errors import InvalidInput
from ..domain.models import NAME_PATTERN, Level
from ..domain.policy import Costs
from .world_model import LEVELS, WORLD_ATTRIBUTES, WORLD_ENV, Factor, Service, World

__all__ = [
    "LEVELS",
    "WORLD_ATTRIBUTES",
    "WORLD_ENV",
    "Factor",
    "Service",
    "World",
    "load_world",
    "parse_world",
    "shipped_worlds",
]

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
MAX_SEED = 2**63 - 1
RELEASES_PER_DAY = (0.1, 1000.0)
"""A slower stream would need years of simulated hours for a run; a faster one is no
longer a team's release train."""
MAX_WEIGHT = 1e6
"""Weights are relative; the cap keeps their sums finite."""
FACTOR_TIMES = (0.001, 1000.0)
"""A factor multiplies a probability: zero or less has no meaning, and beyond a
thousandfold the factor is a typo rather than a risk."""
MAX_COST = 1e9
MAX_SERVICES = 500
MAX_FACTORS = 100
MAX_NAME = 100


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


def _require(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in data:
            raise InvalidInput("is required", field=f"{where}.{key}" if where else key)


def _number(value: Any, where: str, *, low: float = 0.0, high: float) -> float:
    """``value`` as a float, or InvalidInput naming ``where``: NaN, infinities, integers
    too large for a float, booleans and anything outside ``low .. high`` are refused."""
    finite = False
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer beyond any float
            finite = False
    if not finite:
        raise InvalidInput(f"{value!r} is not a finite number", field=where)
    if not low <= value <= high:
        raise InvalidInput(
            f"{value!r} is out of range; must be from {low:g} to {high:g}", field=where
        )
    return float(value)


def _level(value: Any, where: str) -> Level:
    allowed = [level.value for level in Level]
    if isinstance(value, str) and value.upper() in allowed:
        return Level(value.upper())
    raise InvalidInput(f"{value!r} is not a valid level", field=where, allowed=allowed)


def _weights(value: Any, length: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != length:
        raise InvalidInput(f"must be a list of {length} non-negative numbers", field=where)
    weights = tuple(_number(v, f"{where}[{i}]", high=MAX_WEIGHT) for i, v in enumerate(value))
    if sum(weights) <= 0:
        raise InvalidInput("needs at least one positive weight", field=where)
    return weights


def _services(value: Any) -> tuple[Service, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("must be a non-empty list of services", field="services")
    if len(value) > MAX_SERVICES:
        raise InvalidInput(f"lists {len(value)} services; at most {MAX_SERVICES}", field="services")
    services: list[Service] = []
    for i, entry in enumerate(value):
        where = f"services[{i}]"
        _only(entry, ("name", "criticality", "weight"), where)
        _require(entry, ("name", "criticality"), where)
        name = entry["name"]
        if not isinstance(name, str) or not NAME_PATTERN.match(name.strip()):
            raise InvalidInput(
                f"{name!r} is not a service name (letters, digits, '.', '_', '-', '/')",
                field=f"{where}.name",
            )
        name = name.strip()
        if any(s.name == name for s in services):
            raise InvalidInput(f"service {name!r} is listed twice", field=f"{where}.name")
        weight = _number(entry.get("weight", 1.0), f"{where}.weight", high=MAX_WEIGHT)
        services.append(Service(name, _level(entry["criticality"], f"{where}.criticality"), weight))
    if sum(s.weight for s in services) <= 0:
        raise InvalidInput("needs at least one service with a positive weight", field="services")
    return tuple(services)


def _mix(value: Any) -> dict[Level, float]:
    _only(value, tuple(level.value for level in Level), "feature_risk_mix")
    raw = {Level(k): _number(v, f"feature_risk_mix.{k}", high=MAX_WEIGHT) for k, v in value.items()}
    total = sum(raw.values())
    if total <= 0:
        raise InvalidInput("needs at least one positive weight", field="feature_risk_mix")
    return {level: raw.get(level, 0.0) / total for level in LEVELS}


def _moment(value: Any, where: str) -> datetime:
    """An ISO 8601 date-time with a UTC offset, or InvalidInput naming ``where``."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise InvalidInput(
            f"{value!r} is not a date-time with a UTC offset, e.g. 2026-01-05T00:00:00+00:00",
            field=where,
        )
    return moment


def _factor(entry: Any, where: str, names: list[str]) -> Factor:
    _only(entry, ("when", "times", "from", "until"), where)
    _require(entry, ("when", "times"), where)
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
    low, high = FACTOR_TIMES
    times = _number(entry["times"], f"{where}.times", low=low, high=high)
    since = _moment(entry["from"], f"{where}.from") if "from" in entry else None
    until = _moment(entry["until"], f"{where}.until") if "until" in entry else None
    if since is not None and until is not None and not since < until:
        raise InvalidInput(
            f"{entry['until']!r} is not after from ({entry['from']!r}); the factor applies "
            "at from <= t < until",
            field=f"{where}.until",
        )
    return Factor(when, times, since, until)


def _factors(value: Any, services: tuple[Service, ...]) -> tuple[Factor, ...]:
    if not isinstance(value, list):
        raise InvalidInput("must be a list of {when, times[, from, until]}", field="factors")
    if len(value) > MAX_FACTORS:
        raise InvalidInput(f"lists {len(value)} factors; at most {MAX_FACTORS}", field="factors")
    names = [s.name for s in services]
    return tuple(_factor(entry, f"factors[{i}]", names) for i, entry in enumerate(value))


def _costs(value: Any) -> Costs:
    _only(value, ("failure", "delay_per_hour", "no_go"), "costs")
    _require(value, ("failure", "delay_per_hour", "no_go"), "costs")
    levels = tuple(level.value for level in Level)
    _only(value["failure"], levels, "costs.failure")
    _require(value["failure"], levels, "costs.failure")
    failure = {
        Level(level): _number(value["failure"][level], f"costs.failure.{level}", high=MAX_COST)
        for level in levels
    }
    return Costs(
        failure=failure,
        delay_per_hour=_number(value["delay_per_hour"], "costs.delay_per_hour", high=MAX_COST),
        no_go=_number(value["no_go"], "costs.no_go", high=MAX_COST),
    )


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{value!r} is not a time zone; use an IANA name such as Europe/Berlin",
            field="timezone",
        ) from None


def _text(data: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise InvalidInput(
            "must be a non-empty string" if default is None else "must be a string", field=key
        )
    if key == "name" and len(value.strip()) > MAX_NAME:
        raise InvalidInput(f"must be at most {MAX_NAME} characters", field=key)
    return value.strip()


def parse_world(data: Any, source: str | None = None) -> World:
    """Validate world data (already decoded from JSON) and build a :class:`World`.

    Raises InvalidInput naming the first unknown key, missing key or bad value.
    """
    _only(data, _TOP_KEYS, "")
    _require(data, _REQUIRED, "")
    name = _text(data, "name")
    description = _text(data, "description", "")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"{seed!r} is not an integer from 0 to 2**63 - 1", field="seed")
    services = _services(data["services"])
    arrival = _only(data.get("arrival", {}), ("hours", "days"), "arrival")
    hours = _weights(arrival["hours"], 24, "arrival.hours") if "hours" in arrival else (1.0,) * 24
    days = _weights(arrival["days"], 7, "arrival.days") if "days" in arrival else (1.0,) * 7
    low, high = RELEASES_PER_DAY
    rate = _number(data["releases_per_day"], "releases_per_day", low=low, high=high)
    return World(
        name=name,
        seed=seed,
        start=_moment(data["start"], "start"),
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
        description=description,
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
