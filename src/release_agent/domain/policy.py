"""The team's policy: freeze windows, risk appetite (costs) and decision settings.

A policy is a TOML file, given by ``--policy``, ``RELEASE_AGENT_POLICY`` or found at
``<user config dir>/release-agent/policy.toml``. No file means no freezes and the
default settings below. Example::

    [decision]
    heuristic_threshold = 0.6   # heuristics below this confidence are not applied
    extract_every = 5           # learn from memory every N decisions
    max_reschedules = 3         # how often a DELAY may look for a later window
    horizon_hours = 72          # how far ahead a DELAY may look
    risk_quantile = 0.8         # decide on this quantile of the failure probability
                                # (omit: on its posterior mean, the default)
    explore = true              # a NO_GO on thin evidence may be tried anyway

    [costs]                     # the team's risk appetite, in any unit
    failure = { LOW = 10, MEDIUM = 25, HIGH = 60 }   # by service criticality
    delay_per_hour = 0.02
    no_go = 10
    non_production_factor = 0.1 # failures outside production cost this share

    [[freeze.once]]             # a one-off date range, local to its time zone
    name = "year-end"
    start = "2026-12-20T00:00"
    end = "2027-01-04T00:00"
    timezone = "Europe/Berlin"
    envs = ["prod"]             # omit to apply to every environment

    [[freeze.weekly]]           # a span of the week: from FRI 18:00 to MON 06:00
    name = "weekend"
    start = "FRI 18:00"
    end = "MON 06:00"
    timezone = "Europe/Berlin"

    [[freeze.weekly]]           # or the same hours on some days; may cross midnight
    name = "nightly"
    days = ["MON", "TUE", "WED", "THU", "FRI"]
    start = "22:00"
    end = "06:00"
    timezone = "UTC"

A freeze covers ``start <= t < end``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from .errors import PolicyError
from .models import DAYS, Level, canonical_env

WEEK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Costs:
    """What a failure, an hour of delay and a NO_GO are worth to the team."""

    failure: Mapping[Level, float] = field(
        default_factory=lambda: {Level.LOW: 10.0, Level.MEDIUM: 25.0, Level.HIGH: 60.0}
    )
    delay_per_hour: float = 0.02
    no_go: float = 10.0
    non_production_factor: float = 0.1

    def failure_cost(self, criticality: Level, production: bool = True) -> float:
        cost = float(self.failure[criticality])
        return cost if production else cost * self.non_production_factor


@dataclass(frozen=True)
class DecisionSettings:
    heuristic_threshold: float = 0.6
    extract_every: int = 5
    max_reschedules: int = 3
    horizon_hours: int = 72
    risk_quantile: float | None = None
    """None: decide on the posterior mean of the failure probability (risk-neutral; the
    team's aversion to failure is in its costs). A number: on that quantile (pessimistic)."""
    business_hours: tuple[int, int] = (8, 18)
    friday_afternoon_from: int = 12
    explore: bool = True
    """Whether a NO_GO on thin evidence may be tried anyway (reasoners/exploration.py)."""


@dataclass(frozen=True)
class Freeze:
    """A window in which nothing may go out (to the listed environments)."""

    name: str
    timezone: ZoneInfo
    envs: frozenset[str] | None
    once: tuple[datetime, datetime] | None = None
    weekly: tuple[tuple[int, int], ...] = ()
    """Occurrences as (start minute of the week, duration in minutes), local time."""

    def applies_to(self, env: str) -> bool:
        """True for every environment when none are listed; ``prod`` and ``production``
        name the same environment."""
        return self.envs is None or canonical_env(env) in self.envs

    def occurrence(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence of this freeze that contains ``moment``, or None."""
        # Compare instants in UTC: Python compares two times of the same zone by their
        # wall clocks, which is wrong in the hour a clock change repeats.
        instant = moment.astimezone(UTC)
        if self.once is not None:
            start, end = self.once
            return (start, end) if start.astimezone(UTC) <= instant < end.astimezone(UTC) else None
        local = moment.astimezone(self.timezone)
        monday = local.date() - timedelta(days=local.weekday())
        for start_minute, duration in self.weekly:
            for week in (0, -7):
                wall = datetime.combine(monday + timedelta(days=week), time()) + timedelta(
                    minutes=start_minute
                )
                start = wall.replace(tzinfo=self.timezone)
                end = (wall + timedelta(minutes=duration)).replace(tzinfo=self.timezone)
                if start.astimezone(UTC) <= instant < end.astimezone(UTC):
                    return start, end
        return None

    def describe(self) -> str:
        return self.name


@dataclass(frozen=True)
class Policy:
    freezes: tuple[Freeze, ...] = ()
    costs: Costs = field(default_factory=Costs)
    settings: DecisionSettings = field(default_factory=DecisionSettings)
    source: str | None = None

    def active_freezes(self, moment: datetime, env: str) -> list[tuple[Freeze, datetime]]:
        """Freezes covering ``moment`` for ``env``, each with the end of its occurrence."""
        hits = []
        for freeze in self.freezes:
            if not freeze.applies_to(env):
                continue
            occurrence = freeze.occurrence(moment)
            if occurrence is not None:
                hits.append((freeze, occurrence[1]))
        return hits

    def next_open(self, moment: datetime, env: str, limit: int = 1000) -> datetime | None:
        """The first moment at or after ``moment`` that no freeze covers (None if none soon)."""
        current = moment
        for _ in range(limit):
            hits = self.active_freezes(current, env)
            if not hits:
                return current
            current = max(end for _, end in hits)
        return None


def default_policy_path() -> Path:
    return Path(platformdirs.user_config_dir("release-agent")) / "policy.toml"


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy named by ``path``, ``RELEASE_AGENT_POLICY`` or the default location.

    A missing default file gives the default policy (no freezes); a missing file that was
    named explicitly, or a malformed one, raises PolicyError naming the key.
    """
    explicit = path or os.environ.get("RELEASE_AGENT_POLICY")
    target = Path(explicit) if explicit else default_policy_path()
    if not target.exists():
        if explicit:
            raise PolicyError(f"policy file {target} does not exist", field="policy")
        return Policy()
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(f"cannot read {target}: {error}", field="policy") from None
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"{target} is not valid TOML: {error}", field="policy") from None
    return parse_policy(data, source=str(target))


def parse_policy(data: Mapping[str, Any], source: str | None = None) -> Policy:
    _only(data, {"decision", "costs", "freeze"}, "policy")
    freezes: list[Freeze] = []
    freeze_table = data.get("freeze", {})
    _only(freeze_table, {"once", "weekly"}, "freeze")
    for i, entry in enumerate(_list(freeze_table.get("once", []), "freeze.once")):
        freezes.append(_once(entry, f"freeze.once[{i}]"))
    for i, entry in enumerate(_list(freeze_table.get("weekly", []), "freeze.weekly")):
        freezes.append(_weekly(entry, f"freeze.weekly[{i}]"))
    return Policy(
        freezes=tuple(freezes),
        costs=_costs(data.get("costs", {})),
        settings=_settings(data.get("decision", {})),
        source=source,
    )


def _only(table: Any, allowed: set[str], where: str) -> None:
    if not isinstance(table, Mapping):
        raise PolicyError("must be a table", field=where)
    for key in table:
        if key not in allowed:
            raise PolicyError(
                f"unknown key {key!r}", field=f"{where}.{key}", allowed=sorted(allowed)
            )


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError("must be an array of tables", field=where)
    return value


def _zone(entry: Mapping[str, Any], where: str) -> ZoneInfo:
    name = entry.get("timezone", "UTC")
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin",
            field=f"{where}.timezone",
        ) from None


def _envs(entry: Mapping[str, Any], where: str) -> frozenset[str] | None:
    if "envs" not in entry:
        return None
    envs = entry["envs"]
    if not isinstance(envs, list) or not all(isinstance(e, str) and e for e in envs):
        raise PolicyError("must be a list of environment names", field=f"{where}.envs")
    return frozenset(canonical_env(e) for e in envs)


def _name(entry: Mapping[str, Any], where: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError("every freeze needs a name", field=f"{where}.name")
    return name.strip()


def _local(value: Any, zone: ZoneInfo, where: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise PolicyError(
                f"{value!r} is not a date-time such as 2026-12-20T00:00", field=where
            ) from None
    else:
        raise PolicyError("must be a date-time such as 2026-12-20T00:00", field=where)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _once(entry: Any, where: str) -> Freeze:
    _only(entry, {"name", "start", "end", "timezone", "envs"}, where)
    zone = _zone(entry, where)
    for key in ("start", "end"):
        if key not in entry:
            raise PolicyError("is required", field=f"{where}.{key}")
    start = _local(entry["start"], zone, f"{where}.start")
    end = _local(entry["end"], zone, f"{where}.end")
    if end <= start:
        raise PolicyError("must be after start", field=f"{where}.end")
    return Freeze(_name(entry, where), zone, _envs(entry, where), once=(start, end))


def _clock(value: Any, where: str) -> int:
    """Minutes after midnight of 'HH:MM'."""
    if isinstance(value, time):
        return value.hour * 60 + value.minute
    try:
        hours, minutes = str(value).split(":")
        h, m = int(hours), int(minutes)
    except ValueError:
        raise PolicyError(f"{value!r} is not a time such as 18:00", field=where) from None
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise PolicyError(f"{value!r} is not a time of day", field=where)
    return h * 60 + m


def _day_clock(value: Any, where: str) -> int:
    """Minutes after Monday 00:00 of 'DAY HH:MM'."""
    parts = str(value).split()
    if len(parts) != 2 or parts[0].upper() not in DAYS:
        raise PolicyError(
            f"{value!r} is not a weekday and time such as 'FRI 18:00'",
            field=where,
            allowed=[d.value for d in DAYS],
        )
    return DAYS.index(parts[0].upper()) * 1440 + _clock(parts[1], where)  # type: ignore[arg-type]


def _weekly(entry: Any, where: str) -> Freeze:
    _only(entry, {"name", "start", "end", "days", "timezone", "envs"}, where)
    zone = _zone(entry, where)
    for key in ("start", "end"):
        if key not in entry:
            raise PolicyError("is required", field=f"{where}.{key}")
    occurrences: list[tuple[int, int]] = []
    if "days" in entry:
        days = entry["days"]
        if not isinstance(days, list) or not days:
            raise PolicyError("must be a list of weekdays", field=f"{where}.days")
        start = _clock(entry["start"], f"{where}.start")
        end = _clock(entry["end"], f"{where}.end")
        duration = (end - start) % 1440 or 1440
        for j, day in enumerate(days):
            if not isinstance(day, str) or day.upper() not in DAYS:
                raise PolicyError(
                    f"{day!r} is not a weekday",
                    field=f"{where}.days[{j}]",
                    allowed=[d.value for d in DAYS],
                )
            occurrences.append((DAYS.index(day.upper()) * 1440 + start, duration))  # type: ignore[arg-type]
    else:
        start = _day_clock(entry["start"], f"{where}.start")
        end = _day_clock(entry["end"], f"{where}.end")
        duration = (end - start) % WEEK_MINUTES
        if duration == 0:
            raise PolicyError("start and end are the same moment", field=f"{where}.end")
        occurrences.append((start, duration))
    return Freeze(_name(entry, where), zone, _envs(entry, where), weekly=tuple(occurrences))


def _number(
    value: Any, where: str, *, low: float = 0.0, high: float | None = None, whole: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError("must be a number", field=where)
    if whole and not isinstance(value, int):
        raise PolicyError(f"{value} must be a whole number", field=where)
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise PolicyError(f"{value} is out of range; must be {bound}", field=where)
    return float(value)


def _costs(table: Any) -> Costs:
    _only(table, {"failure", "delay_per_hour", "no_go", "non_production_factor"}, "costs")
    defaults = Costs()
    failure = dict(defaults.failure)
    if "failure" in table:
        _only(table["failure"], {level.value for level in Level}, "costs.failure")
        for key, value in table["failure"].items():
            failure[Level(key)] = _number(value, f"costs.failure.{key}")
    return Costs(
        failure=failure,
        delay_per_hour=_number(
            table.get("delay_per_hour", defaults.delay_per_hour), "costs.delay_per_hour"
        ),
        no_go=_number(table.get("no_go", defaults.no_go), "costs.no_go"),
        non_production_factor=_number(
            table.get("non_production_factor", defaults.non_production_factor),
            "costs.non_production_factor",
            high=1.0,
        ),
    )


def _settings(table: Any) -> DecisionSettings:
    keys = {
        "heuristic_threshold",
        "extract_every",
        "max_reschedules",
        "horizon_hours",
        "risk_quantile",
        "business_hours",
        "friday_afternoon_from",
        "explore",
    }
    _only(table, keys, "decision")
    explore = table.get("explore", True)
    if not isinstance(explore, bool):
        raise PolicyError("must be true or false", field="decision.explore")
    d = DecisionSettings()
    hours = table.get("business_hours", list(d.business_hours))
    if (
        not isinstance(hours, list)
        or len(hours) != 2
        or not all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 24 for h in hours)
        or hours[0] >= hours[1]
    ):
        raise PolicyError(
            "must be [start, end] hours with start < end", field="decision.business_hours"
        )
    return DecisionSettings(
        heuristic_threshold=_number(
            table.get("heuristic_threshold", d.heuristic_threshold),
            "decision.heuristic_threshold",
            high=1.0,
        ),
        extract_every=int(
            _number(
                table.get("extract_every", d.extract_every),
                "decision.extract_every",
                whole=True,
                low=1,
            )
        ),
        max_reschedules=int(
            _number(
                table.get("max_reschedules", d.max_reschedules),
                "decision.max_reschedules",
                whole=True,
                high=20,
            )
        ),
        horizon_hours=int(
            _number(
                table.get("horizon_hours", d.horizon_hours),
                "decision.horizon_hours",
                whole=True,
                low=1,
                high=24 * 31,
            )
        ),
        risk_quantile=(
            _number(table["risk_quantile"], "decision.risk_quantile", low=0.5, high=0.99)
            if "risk_quantile" in table
            else None
        ),
        business_hours=(hours[0], hours[1]),
        explore=explore,
        friday_afternoon_from=int(
            _number(
                table.get("friday_afternoon_from", d.friday_afternoon_from),
                "decision.friday_afternoon_from",
                whole=True,
                high=23,
            )
        ),
    )
