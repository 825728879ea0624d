"""Random worlds: a population of truths that no one tuned the agent for.

:func:`generate` turns a seed into a world document (what a world file holds, see
:mod:`release_agent.simulation.world`) that :func:`~release_agent.simulation.world.parse_world`
accepts. The same seed gives the same world on every machine and Python version: every
draw comes from :meth:`random.Random.random`, the one method whose sequence Python keeps
stable for a given seed.

The ranges are those real teams report (DORA's change failure rates run from a few
percent for the best teams to 20–30% for struggling ones; the riskiest conditions make a
deploy a few times likelier to fail, and some conditions make it safer):

=========================  ===================================================================
what                       drawn from
=========================  ===================================================================
services                   3 to 30 (or ``services``), names from a list of usual ones
criticality                LOW 40%, MEDIUM 40%, HIGH 20%
release shares             half the worlds equal; half a long tail, weight ``1 / rank^a``,
                           ``a`` uniform in 0.5–1.5
base failure rate          log-uniform, 1% to 20%
factors                    2 to 6, each on one attribute (60%) or a pair (40%) among service,
                           service criticality, feature risk, weekday, an hour range and
                           clash; ``times`` log-uniform in 0.3–6 (about 40% below 1)
drift                      30% of worlds: one factor begins (``from``), ends (``until``) or
                           both, 200 to 1,000 releases into the run
max failure rate           0.95
feature risk mix           LOW 30–80, MEDIUM 15–40, HIGH 5–30 (relative weights)
releases per day           log-uniform, 2 to 40
arrival                    80%: office hours (start 7–10 h, end 16–19 h, nights 5–50%,
                           weekends 5–60% of a weekday); 20%: around the clock
clash rate                 0 to 25%
costs                      failure LOW 2–10, MEDIUM 1.5–4× LOW, HIGH 1.5–4× MEDIUM;
                           delay 0.01–0.2 an hour; NO_GO 1–15 (all log-uniform)
time zone, start           one of eight zones; a day of 2026 at midnight UTC
=========================  ===================================================================
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from .world import MAX_SEED, MAX_SERVICES, WORLD_ATTRIBUTES, parse_world

T = TypeVar("T")

SERVICE_NAMES = (
    "payments", "search", "checkout", "auth", "billing", "catalog", "cart", "inventory",
    "notifications", "email", "gateway", "profile", "recommendations", "reviews",
    "shipping", "orders", "pricing", "ledger", "reporting", "analytics", "admin", "cms",
    "media", "uploads", "thumbnails", "geo", "chat", "feed", "ads", "fraud", "identity",
    "sessions", "webhooks", "scheduler", "exports", "invoices", "tax", "loyalty", "status",
    "blog",
)  # fmt: skip
TIMEZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
)
SERVICES = (3, 30)
BASE_RATE = (0.01, 0.20)
FACTORS = (2, 6)
TIMES = (0.3, 6.0)
DRIFT_SHARE = 0.3
DRIFT_RELEASES = (200, 1000)
RELEASES_PER_DAY = (2.0, 40.0)
_LEVELS = ("LOW", "MEDIUM", "HIGH")
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_ATTRIBUTES = tuple(a for a in WORLD_ATTRIBUTES if a != "env")
"""What a factor may be on: every attribute of a world but env, which is always prod."""
_YEAR = datetime(2026, 1, 1, tzinfo=UTC)


class _Draws:
    """Every draw a world needs, from :meth:`random.Random.random` alone."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self._random.random()

    def log_uniform(self, low: float, high: float) -> float:
        return math.exp(self.uniform(math.log(low), math.log(high)))

    def integer(self, low: int, high: int) -> int:
        """Uniform over ``low .. high``, both included."""
        return low + min(high - low, int(self._random.random() * (high - low + 1)))

    def chance(self, probability: float) -> bool:
        return self._random.random() < probability

    def choice(self, items: Sequence[T]) -> T:
        return items[self.integer(0, len(items) - 1)]

    def weighted(self, items: Sequence[T], weights: Sequence[float]) -> T:
        mark = self._random.random() * sum(weights)
        for item, weight in zip(items, weights, strict=True):
            mark -= weight
            if mark < 0:
                return item
        return items[-1]

    def sample(self, items: Sequence[T], count: int) -> list[T]:
        """``count`` distinct items in random order (a partial Fisher–Yates shuffle)."""
        pool = list(items)
        for i in range(min(count, len(pool))):
            j = self.integer(i, len(pool) - 1)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:count]


def _round(value: float, digits: int = 4) -> float:
    return round(value, digits)


def _services(draw: _Draws, count: int) -> list[dict[str, Any]]:
    names = draw.sample(SERVICE_NAMES, min(count, len(SERVICE_NAMES)))
    # Beyond the list, numbered shards of the usual names ("search-2").
    names += [
        f"{SERVICE_NAMES[i % len(SERVICE_NAMES)]}-{2 + i // len(SERVICE_NAMES)}"
        for i in range(count - len(names))
    ]
    services: list[dict[str, Any]] = [
        {"name": name, "criticality": draw.weighted(_LEVELS, (0.4, 0.4, 0.2))} for name in names
    ]
    if draw.chance(0.5):
        exponent = draw.uniform(0.5, 1.5)
        ranks = draw.sample(range(1, count + 1), count)
        for service, rank in zip(services, ranks, strict=True):
            service["weight"] = _round(1.0 / rank**exponent)
    return services


def _condition(draw: _Draws, attribute: str, services: list[dict[str, Any]]) -> Any:
    if attribute == "service":
        names = [s["name"] for s in services]
        chosen = draw.sample(names, draw.integer(1, min(3, len(names))))
        return chosen[0] if len(chosen) == 1 else chosen
    if attribute == "service_criticality":
        return draw.choice(_LEVELS)
    if attribute == "feature_risk":
        chosen = draw.sample(_LEVELS, draw.integer(1, 2))
        return chosen[0] if len(chosen) == 1 else chosen
    if attribute == "day_of_week":
        if draw.chance(0.25):
            return ["SAT", "SUN"]
        return draw.sample(_DAYS, draw.integer(1, 3))
    if attribute == "hour_of_day":
        first = draw.integer(0, 23)
        return {"from": first, "to": (first + draw.integer(1, 9)) % 24}
    return draw.chance(0.85)  # clash: mostly the risk of clashing, sometimes of not


def _factors(draw: _Draws, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    factors = []
    for _ in range(draw.integer(*FACTORS)):
        attributes = draw.sample(_ATTRIBUTES, 2 if draw.chance(0.4) else 1)
        if set(attributes) == {"service", "service_criticality"}:
            # A service has one criticality: the pair would match one service or none.
            attributes = ["service", "feature_risk"]
        when = {a: _condition(draw, a, services) for a in attributes}
        factors.append({"when": when, "times": _round(draw.log_uniform(*TIMES), 3)})
    return factors


def _drift(draw: _Draws, factor: dict[str, Any], start: datetime, per_day: float) -> None:
    """Limit ``factor`` in time: it begins, ends, or comes and goes within the run."""

    def after(releases: float, since: datetime) -> datetime:
        moment = since + timedelta(days=releases / per_day)
        return moment.replace(minute=0, second=0, microsecond=0)

    begin = after(draw.uniform(*DRIFT_RELEASES), start)
    kind = draw.choice(("begins", "ends", "comes and goes"))
    if kind == "ends":
        factor["until"] = begin.isoformat()
        return
    factor["from"] = begin.isoformat()
    if kind == "comes and goes":
        factor["until"] = after(
            draw.uniform(*DRIFT_RELEASES), begin + timedelta(hours=1)
        ).isoformat()


def _arrival(draw: _Draws) -> dict[str, list[float]]:
    if draw.chance(0.2):
        return {"hours": [1.0] * 24, "days": [1.0] * 7}
    opening, closing = draw.integer(7, 10), draw.integer(16, 19)
    night, evening = draw.uniform(0.05, 0.5), draw.uniform(0.3, 0.8)
    hours = [
        1.0 if opening <= h < closing else evening if closing <= h < 22 else night
        for h in range(24)
    ]
    weekend = draw.uniform(0.05, 0.6)
    days = [1.0, 1.0, 1.0, 1.0, draw.uniform(0.6, 1.0), weekend, weekend]
    return {"hours": [_round(h, 3) for h in hours], "days": [_round(d, 3) for d in days]}


def _costs(draw: _Draws) -> dict[str, Any]:
    low = draw.log_uniform(2.0, 10.0)
    medium = low * draw.log_uniform(1.5, 4.0)
    high = medium * draw.log_uniform(1.5, 4.0)
    return {
        "failure": {"LOW": _round(low, 2), "MEDIUM": _round(medium, 2), "HIGH": _round(high, 2)},
        "delay_per_hour": _round(draw.log_uniform(0.01, 0.2)),
        "no_go": _round(draw.log_uniform(1.0, 15.0), 2),
    }


def generate(seed: int, services: int | None = None) -> dict[str, Any]:
    """A random, valid world document for ``seed`` (see the module docstring for what is
    drawn), named ``generated-<seed>``, with ``services`` services if given.

    Deterministic: the same arguments give an equal document. Raises ValueError for a
    seed outside 0 .. 2**63 − 1 (the world's own seed is the same number) or a number of
    services outside 1 .. the format's maximum (500).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer from 0 to 2**63 - 1, not {seed!r}")
    if services is not None and not 1 <= services <= MAX_SERVICES:
        raise ValueError(f"services must be from 1 to {MAX_SERVICES}, not {services!r}")
    draw = _Draws(seed)
    count = draw.integer(*SERVICES) if services is None else services
    start = _YEAR + timedelta(days=draw.integer(0, 364))
    per_day = _round(draw.log_uniform(*RELEASES_PER_DAY), 2)
    service_list = _services(draw, count)
    factors = _factors(draw, service_list)
    if draw.chance(DRIFT_SHARE):
        _drift(draw, draw.choice(factors), start, per_day)
    mix = {
        "LOW": _round(draw.uniform(30, 80), 1),
        "MEDIUM": _round(draw.uniform(15, 40), 1),
        "HIGH": _round(draw.uniform(5, 30), 1),
    }
    document: dict[str, Any] = {
        "name": f"generated-{seed}",
        "description": "",
        "seed": seed,
        "start": start.isoformat(),
        "timezone": draw.choice(TIMEZONES),
        "services": service_list,
        "feature_risk_mix": mix,
        "releases_per_day": per_day,
        "arrival": _arrival(draw),
        "clash_rate": _round(draw.uniform(0.0, 0.25), 3),
        "base_failure_rate": _round(draw.log_uniform(*BASE_RATE)),
        "max_failure_rate": 0.95,
        "factors": factors,
        "costs": _costs(draw),
    }
    world = parse_world(document)
    document["description"] = (
        f"Generated from seed {seed}: {count} services, base failure rate "
        f"{world.base_failure_rate:.1%}; " + "; ".join(world.describe_factors()) + "."
    )
    return document
