"""The team's policy: freeze windows, risk appetite (costs) and decision settings.

A policy is a TOML file, given by ``--policy``, ``RELEASE_AGENT_POLICY`` or found at
``<user config dir>/release-agent/policy.toml``. No file means no freezes and the
default settings below. Example (every key is optional)::

    timezone = "Europe/Berlin"  # the team's IANA zone (default: none, see below)
    production = ["prod", "production", "prod-*", "live"]   # glob patterns (the default)
    non_production = ["staging", "dev*", "test*", "qa*"]    # (the default); any other
                                # environment gets a warning in the decision

    [decision]
    heuristic_threshold = 0.6   # heuristics below this confidence are not applied
    extract_every = 5           # learn from memory every N decisions
    max_reschedules = 3         # how often a DELAY may look for a later window
    max_delays = 2              # a release delayed this often is then GO or NO_GO
    horizon_hours = 72          # how far ahead a DELAY may look
    risk_quantile = 0.8         # decide on this quantile of the failure probability
                                # (omit: on its posterior mean, the default)
    business_hours = [8, 18]    # local hours; outside them a release is out of hours
    friday_afternoon_from = 12  # the hour a Friday afternoon begins
    explore = true              # a NO_GO on thin evidence may be tried anyway
    llm_floor = "evidence"      # an LLM may not go below the evidence: strict, off
    allow_freeze_override = false   # a human override to GO may open a freeze
    shadow = ["staging"]        # environments (glob patterns) decided as advice only

    [costs]                     # the team's risk appetite, in any unit
    failure = { LOW = 10, MEDIUM = 25, HIGH = 60 }   # by service criticality
    delay_per_hour = 0.02
    no_go = 10
    non_production_factor = 0.1 # failures outside production cost this share

    [priors]                    # what the team believes before its evidence
    base_rate = 0.05            # how often a deploy fails
    effects = { "feature_risk=HIGH" = { times = 4.0, sd = 0.7 } }
    scales = { service = 0.3 }  # fix a pooled group's scale instead of learning it

    [[freeze.once]] / [[freeze.weekly]] / [[freeze.ics]]   # see :mod:`.freezes`, :mod:`.ics`

The team's ``timezone`` is the clock its business hours, Friday afternoon and freezes
without a zone of their own are read on, and the zone of "now" when a decision names no
time. Without it a requested time is read in its own UTC offset and now is in UTC. The
top-level keys are carried by :class:`DecisionSettings` (:data:`TEAM_KEYS`).

Every table is a pydantic model that refuses unknown keys. Every number is finite and in
the range its field states (see the ``*_MAX`` bounds below: far beyond any real team,
near enough to keep the arithmetic of costs and schedules finite); whole numbers must be
TOML integers and flags TOML booleans. A malformed file raises :class:`PolicyError` with
the key at fault as a dotted path (``costs.failure.HIGH``, ``freeze.weekly[1].start``)
and, for a closed set, the values allowed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from . import team_files, teams
from .attributes import ATTRIBUTES, INTERACTIONS
from .calendar import CalendarSettings, ServiceSettings, check_services
from .environments import (
    DEFAULT_NON_PRODUCTION,
    DEFAULT_PRODUCTION,
    matches_any,
    pattern_fault,
    unknown_env_warning,
)
from .errors import PolicyError
from .freezes import TABLE_CONFIG, Freeze, FreezeTable, OnceFreeze, WeeklyFreeze, refusal
from .ics import (
    CalendarFreeze,
    IcsCalendar,
    IcsError,
    IcsSource,
    UnreadableCalendar,
    parse_ics,
)
from .models import FLOORS, Level

__all__ = [
    "COST_MAX",
    "EXTRACT_EVERY_MAX",
    "HORIZON_HOURS_MAX",
    "MAX_RESCHEDULES_MAX",
    "Costs",
    "DecisionSettings",
    "Freeze",
    "Policy",
    "default_policy_path",
    "load_policy",
    "parse_policy",
]

COST_MAX = 1e12
"""The largest cost: sums of many costs stay finite."""
EXTRACT_EVERY_MAX = 1_000_000
MAX_RESCHEDULES_MAX = 20
MAX_DELAYS_MAX = 100
HORIZON_HOURS_MAX = 24 * 31
"""A DELAY looks at most a month ahead."""
MAX_ENV_PATTERNS = 100

_N = TypeVar("_N", int, float)


def _within(low: _N, high: _N) -> AfterValidator:
    """Refuse a number outside ``[low, high]``, stating the range."""

    def check(value: _N) -> _N:
        # Written so that nan fails too, should a float ever get past allow_inf_nan.
        if not low <= value <= high:
            raise refusal(
                f"{_toml(value)} is out of range; must be from {_show(low)} to {_show(high)}"
            )
        return value

    return AfterValidator(check)


def _show(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _floor(value: object) -> str:
    if isinstance(value, str) and value in FLOORS:
        return value
    raise refusal(f"{_toml(value)} is not a floor", allowed=list(FLOORS))


def _env_patterns(value: object) -> tuple[str, ...]:
    """An array of environment glob patterns, each 1-100 characters."""
    if not isinstance(value, list | tuple):
        raise refusal('must be an array of environment patterns, e.g. ["staging", "prod-eu-*"]')
    if len(value) > MAX_ENV_PATTERNS:
        raise refusal(f"must list at most {MAX_ENV_PATTERNS} patterns")
    for item in value:
        fault = pattern_fault(item)
        if fault is not None:
            raise refusal(f"{_toml(item)}: {fault}")
    return tuple(item.strip().lower() for item in value)


def _level(value: object) -> Level:
    levels = sorted(level.value for level in Level)
    if isinstance(value, str) and value in levels:
        return Level(value)
    raise refusal(f"unknown key {_toml(value)}", allowed=levels)


Cost = Annotated[StrictFloat, _within(0.0, COST_MAX)]
Share = Annotated[StrictFloat, _within(0.0, 1.0)]
_DEFAULT_FAILURE = {Level.LOW: 10.0, Level.MEDIUM: 25.0, Level.HIGH: 60.0}


class Costs(BaseModel):
    """What a failure, an hour of delay and a NO_GO are worth to the team (any unit;
    each from 0 to :data:`COST_MAX`)."""

    model_config = TABLE_CONFIG

    failure: Mapping[Annotated[Level, BeforeValidator(_level)], Cost] = Field(
        default_factory=lambda: dict(_DEFAULT_FAILURE)
    )
    """By service criticality; a level not given keeps its default."""
    delay_per_hour: Cost = 0.02
    no_go: Cost = 10.0
    non_production_factor: Share = 0.1
    """The share of a failure's cost that a failure outside production costs."""

    @field_validator("failure", mode="before")
    @classmethod
    def _every_level(cls, value: object) -> object:
        # Level is a StrEnum: "HIGH" and Level.HIGH are one key, so a table's entries
        # replace the defaults they name.
        return {**_DEFAULT_FAILURE, **value} if isinstance(value, Mapping) else value

    def failure_cost(self, criticality: Level, production: bool = True) -> float:
        cost = float(self.failure[criticality])
        return cost if production else cost * self.non_production_factor


def _zone(value: object) -> ZoneInfo | None:
    if value is None or isinstance(value, ZoneInfo):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise refusal(f"unknown time zone {_toml(value)}; use an IANA name such as Europe/Berlin")


def _production_patterns(value: object) -> tuple[str, ...]:
    patterns = _env_patterns(value)
    if not patterns:
        raise refusal('must name at least one environment, e.g. ["prod"]')
    return patterns


TEAM_KEYS = ("timezone", "production", "non_production")
"""Top-level keys of the policy file that :class:`DecisionSettings` carries."""


class DecisionSettings(BaseModel):
    """How the agent decides: the ``[decision]`` table, with the team's time zone and
    environment patterns (:data:`TEAM_KEYS`, top-level keys of the file)."""

    model_config = TABLE_CONFIG

    heuristic_threshold: Share = 0.6
    """Heuristics below this confidence are not applied."""
    extract_every: Annotated[StrictInt, _within(1, EXTRACT_EVERY_MAX)] = 5
    """Learn from memory every N decisions."""
    max_reschedules: Annotated[StrictInt, _within(0, MAX_RESCHEDULES_MAX)] = 3
    max_delays: Annotated[StrictInt, _within(0, MAX_DELAYS_MAX)] = 2
    """A release already delayed this many times is not delayed again: GO or NO_GO."""
    horizon_hours: Annotated[StrictInt, _within(1, HORIZON_HOURS_MAX)] = 72
    risk_quantile: Annotated[StrictFloat, _within(0.5, 0.99)] | None = None
    """None: decide on the posterior mean of the failure probability (risk-neutral; the
    team's aversion to failure is in its costs). A number: on that quantile (pessimistic);
    below the median would be optimistic, and 1 would assume the worst of every release."""
    business_hours: tuple[int, int] = (8, 18)
    """Local [start, end) hours, whole hours from 0 to 24."""
    friday_afternoon_from: Annotated[StrictInt, _within(0, 23)] = 12
    explore: StrictBool = True
    """Whether a NO_GO on thin evidence may be tried for what its outcome teaches
    (reasoners/exploration.py)."""
    llm_floor: Annotated[str, BeforeValidator(_floor)] = "evidence"
    """How far an LLM's plan may go below the built-in evidence (decide/floor.py)."""
    allow_freeze_override: StrictBool = False
    """Whether a human override to GO may open a freeze (then marked break_glass)."""
    shadow: Annotated[tuple[str, ...], BeforeValidator(_env_patterns)] = ()
    """Environments (glob patterns, e.g. "prod-eu-*") whose decisions are advice only:
    recorded, answered, blocking nothing (domain/shadow.py)."""
    # The team's clock and environments: top-level keys of the file (timezone,
    # production, non_production), carried here so that every stage reading the
    # settings reads them too (see TEAM_KEYS).
    timezone: Annotated[ZoneInfo | None, BeforeValidator(_zone)] = None
    """The team's time zone: business hours, Friday afternoon and freezes without a zone
    of their own are read in it, and a decision without a time is for now in it. None:
    a requested time is read in its own UTC offset, and now is in UTC."""
    production: Annotated[tuple[str, ...], BeforeValidator(_production_patterns)] = (
        DEFAULT_PRODUCTION
    )
    """Glob patterns of the production environments."""
    non_production: Annotated[tuple[str, ...], BeforeValidator(_env_patterns)] = (
        DEFAULT_NON_PRODUCTION
    )
    """Glob patterns of environments known not to be production (any other name that
    is not production gets a warning in the decision)."""

    @property
    def zone(self) -> tzinfo:
        """The zone of "now": the team's, else UTC."""
        return self.timezone or UTC

    def is_production(self, env: str) -> bool:
        return matches_any(env, self.production)

    def env_warning(self, env: str) -> str | None:
        """The warning for an environment neither list names, or None."""
        return unknown_env_warning(env, self.production, self.non_production)

    @field_validator("business_hours", mode="before")
    @classmethod
    def _hours(cls, value: object) -> tuple[int, int]:
        if (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(type(hour) is int and 0 <= hour <= 24 for hour in value)
            and value[0] < value[1]
        ):
            return (value[0], value[1])
        raise refusal(
            "must be [start, end] whole hours from 0 to 24 with start < end, e.g. [8, 18]"
        )


def _main_effects() -> list[str]:
    names = []
    for a in ATTRIBUTES:
        if a.effect is not None and a.effect.form != "each":
            names += a.effect.known(a.name, tuple(str(v) for v in a.all_values))
    return names


MAIN_EFFECTS = tuple(_main_effects())
"""The risk model's main effects a team may state a prior for."""
POOLED_GROUPS = (
    *(a.name for a in ATTRIBUTES if a.effect is not None and a.effect.form == "each"),
    *(i.name for i in INTERACTIONS),
    "pattern",
    "main",
)
"""The risk model's pooled groups a team may fix the scale of."""
Scale = Annotated[StrictFloat, _within(0.01, 5.0)]


HALF_LIFE_DAYS = 90.0
"""The default half-life of evidence: a quarter, the span over which what a deploy
teaches is priced (release_agent.reasoners.exploration.TEACHING_DAYS)."""


class StatedEffect(BaseModel):
    """A main effect as a factor on the odds of failure, with how sure the team is."""

    model_config = TABLE_CONFIG

    times: Annotated[StrictFloat, _within(0.01, 100.0)]
    sd: Scale = 1.0
    """On the log-odds: 1 lets the evidence move the factor about ×3 either way soon."""


class PriorSettings(BaseModel):
    """The ``[priors]`` table: what the team believes before its evidence (see
    ``release_agent.stats.priors``; every key is optional)."""

    model_config = TABLE_CONFIG

    base_rate: Annotated[StrictFloat, _within(0.001, 0.9)] | None = None
    """How often a deploy fails, before any evidence."""
    effects: dict[str, StatedEffect] = Field(default_factory=dict)
    """Main effect name -> factor and sd, e.g. ``"feature_risk=HIGH" = { times = 4.0 }``."""
    scales: dict[str, Scale] = Field(default_factory=dict)
    """Pooled group -> its scale, fixed instead of learned, e.g. ``service = 0.3``."""
    half_life_days: Annotated[StrictFloat | StrictInt, _within(0, 3650)] = HALF_LIFE_DAYS
    """How fast evidence ages: an outcome counts half as much this many days after its
    deploy (0: every outcome counts fully forever). See release_agent.memory.ageing."""

    def half_life(self) -> float:
        return float(self.half_life_days)

    @field_validator("effects", mode="before")
    @classmethod
    def _known_effects(cls, value: object) -> object:
        return _known_keys(value, MAIN_EFFECTS)

    @field_validator("scales", mode="before")
    @classmethod
    def _known_groups(cls, value: object) -> object:
        return _known_keys(value, POOLED_GROUPS)


def _known_keys(value: object, allowed: Sequence[str]) -> object:
    if isinstance(value, Mapping):
        for key in value:
            if key not in allowed:
                raise refusal(f"unknown key {_toml(key)}", allowed=list(allowed))
    return value


class Policy(BaseModel):
    """Freezes, costs and settings; :func:`load_policy` reads one from a file."""

    model_config = ConfigDict(**TABLE_CONFIG, arbitrary_types_allowed=True)

    freezes: tuple[OnceFreeze | WeeklyFreeze, ...] = ()
    ics: tuple[IcsSource, ...] = ()
    """``[[freeze.ics]]``: calendars whose events are freezes (paths made absolute)."""
    calendars: tuple[IcsCalendar | UnreadableCalendar, ...] = ()
    """The calendars of ``ics`` as read: local files when the policy is loaded, URLs
    before each decision (release_agent.decide.ics). A URL not read yet counts as
    unreadable."""
    costs: Costs = Field(default_factory=Costs)
    settings: DecisionSettings = Field(default_factory=DecisionSettings)
    priors: PriorSettings = Field(default_factory=PriorSettings)
    source: str | None = None
    """The file the policy was read from, if any."""
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    services: dict[str, ServiceSettings] = Field(default_factory=dict)
    """``[services.NAME]``: what each service depends on (see :mod:`.calendar`)."""
    teams: dict[str, Policy] = Field(default_factory=dict)
    """``[teams.NAME]``: the policy of each team with a section of its own (see
    :mod:`.teams`)."""

    def for_team(self, team: str) -> Policy:
        """The policy a request of ``team`` is decided under: its section's, else this."""
        return self.teams.get(team, self)

    def active_freezes(self, moment: datetime, env: str) -> list[tuple[Freeze, datetime]]:
        """Freezes covering ``moment`` for ``env``, each with the end of its occurrence."""
        hits: list[tuple[Freeze, datetime]] = []
        for freeze in self.freezes:
            if not freeze.applies_to(env):
                continue
            occurrence = freeze.occurrence(moment)
            if occurrence is not None:
                hits.append((freeze, occurrence[1]))
        for calendar in self.calendars:
            if isinstance(calendar, IcsCalendar) and calendar.source.applies_to(env):
                for event in calendar.covering(moment):
                    frozen = CalendarFreeze(
                        name=event.summary,
                        start=event.start,
                        end=event.end,
                        calendar=calendar.source.label,
                    )
                    hits.append((frozen, event.end))
        return hits

    @property
    def timezone(self) -> ZoneInfo | None:
        """The team's time zone (the file's top-level ``timezone``), if set."""
        return self.settings.timezone

    def unreadable_calendars(self, env: str) -> list[UnreadableCalendar]:
        """The calendars of ``env`` that could not be read: nothing is GO while any is."""
        read = {calendar.source: calendar for calendar in self.calendars}
        out = []
        for source in self.ics:
            if not source.applies_to(env):
                continue
            calendar = read.get(source)
            if calendar is None:
                out.append(UnreadableCalendar(source, "not fetched"))
            elif isinstance(calendar, UnreadableCalendar):
                out.append(calendar)
        return out

    def calendar_warnings(self, env: str) -> list[str]:
        """What the calendars of ``env`` ask the decision to say (an old copy used)."""
        return [
            calendar.warning
            for calendar in self.calendars
            if isinstance(calendar, IcsCalendar)
            and calendar.warning
            and calendar.source.applies_to(env)
        ]

    def next_open(self, moment: datetime, env: str, limit: int = 1000) -> datetime | None:
        """The first moment at or after ``moment`` that no freeze covers (None if none soon)."""
        current = moment
        for _ in range(limit):
            hits = self.active_freezes(current, env)
            if not hits:
                return current
            current = max(end for _, end in hits)
        return None


class _FreezeFile(FreezeTable):
    """The ``[freeze]`` table: ``once``, ``weekly`` and ``ics`` (:mod:`.ics`) arrays."""

    ics: tuple[IcsSource, ...] = ()


class _TeamZone(BaseModel):
    """The file's ``timezone`` alone, read first: freezes without a zone read theirs."""

    timezone: Annotated[ZoneInfo | None, BeforeValidator(_zone)] = None


class _PolicyFile(BaseModel):
    """The file as TOML gives it."""

    model_config = TABLE_CONFIG

    @field_validator("decision", mode="before")
    @classmethod
    def _no_team_keys(cls, value: object) -> object:
        for key in TEAM_KEYS:
            if isinstance(value, Mapping) and key in value:
                raise refusal(
                    f"unknown key {key!r}: timezone, production and non_production are "
                    "top-level keys of the policy file, before any table"
                )
        return value

    timezone: Annotated[ZoneInfo | None, BeforeValidator(_zone)] = None
    production: Annotated[tuple[str, ...], BeforeValidator(_production_patterns)] = (
        DEFAULT_PRODUCTION
    )
    non_production: Annotated[tuple[str, ...], BeforeValidator(_env_patterns)] = (
        DEFAULT_NON_PRODUCTION
    )
    decision: DecisionSettings = Field(default_factory=DecisionSettings)
    costs: Costs = Field(default_factory=Costs)
    priors: PriorSettings = Field(default_factory=PriorSettings)
    freeze: _FreezeFile = Field(default_factory=lambda: _FreezeFile())
    notify: tuple[dict[str, Any], ...] = ()
    """Webhooks: validated by release_agent.integrations.notify when serve starts."""
    github: dict[str, Any] = Field(default_factory=dict)
    """The GitHub integration's table: validated by release_agent.integrations.github
    when serve starts."""
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    services: Annotated[dict[str, ServiceSettings], AfterValidator(check_services)] = Field(
        default_factory=dict
    )


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
    """The policy that the parsed TOML ``data`` describes, with the policy of each team
    that has a ``[teams.NAME]`` section or a team file (see :mod:`.teams`,
    :mod:`.team_files`; relative paths are read from ``source``'s directory).

    Raises PolicyError naming the first key at fault (and the values allowed, if a closed
    set); nothing of a malformed policy is used.
    """
    organisation, sections = teams.split(data)
    policy = _parse_one(organisation, source)
    found = team_files.read(data, sections, Path(source).parent if source else None)
    if not found:
        return policy
    by_team = {}
    for name, section in found.items():
        try:
            by_team[name] = _parse_one(teams.overlay(organisation, section.data), source)
        except PolicyError as error:
            file = str(section.file) if section.file is not None else None
            raise teams.in_section(error, name, file) from None
    return policy.model_copy(update={"teams": by_team})


def _parse_one(data: Mapping[str, Any], source: str | None = None) -> Policy:
    """The policy of one document without teams (see :func:`parse_policy`)."""
    try:
        zone = _TeamZone.model_validate({"timezone": data.get("timezone")}).timezone
        file = _PolicyFile.model_validate(data, context={"timezone": zone})
    except ValidationError as error:
        raise _policy_error(error.errors(include_url=False)[0]) from None
    base = Path(source).parent if source else None
    sources = tuple(ics.resolved(base) for ics in file.freeze.ics)
    return Policy(
        freezes=(*file.freeze.once, *file.freeze.weekly),
        ics=sources,
        calendars=tuple(
            _read_calendar(ics, index, file.timezone or ZoneInfo("UTC"))
            for index, ics in enumerate(sources)
            if not ics.is_url
        ),
        costs=file.costs,
        settings=file.decision.model_copy(update={key: getattr(file, key) for key in TEAM_KEYS}),
        priors=file.priors,
        source=source,
        calendar=file.calendar,
        services=file.services,
    )


def _read_calendar(source: IcsSource, index: int, zone: ZoneInfo) -> IcsCalendar:
    """A local calendar of ``[[freeze.ics]]``, read when the policy is loaded; a file
    that cannot be read or parsed is an error of the policy."""
    field = f"freeze.ics[{index}].source"
    try:
        data = Path(source.source).read_bytes()
    except OSError as error:
        why = error.strerror or type(error).__name__
        message = f"cannot read freeze calendar {source.label}: {why}"
        raise PolicyError(message, field=field) from None
    try:
        return parse_ics(data, source, zone)
    except IcsError as error:
        raise PolicyError(f"freeze calendar {source.label} {error}", field=field) from None


def _toml(value: object) -> str:
    """A value as the file spelled it (roughly), cut short if long."""
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


_MESSAGES: dict[str, Callable[[Any], str]] = {
    "missing": lambda _: "is required",
    "finite_number": lambda value: f"{_toml(value)} is not a finite number",
    "float_type": lambda value: f"{_toml(value)} is not a number",
    "int_type": lambda value: f"{_toml(value)} is not a whole number",
    "bool_type": lambda value: f"{_toml(value)} is not true or false",
    "string_type": lambda value: f"{_toml(value)} is not a string",
    "model_type": lambda _: "must be a table",
    "dict_type": lambda _: "must be a table",
    "tuple_type": lambda _: "must be an array",
}


def _policy_error(error: ErrorDetails) -> PolicyError:
    """The PolicyError for one pydantic error, with its location as a dotted key."""
    # A dictionary key's own error is located at the key, marked by "[key]".
    loc = [part for part in error["loc"] if part != "[key]"]
    field = _dotted(loc)
    allowed = (error.get("ctx") or {}).get("allowed")
    if error["type"] == "extra_forbidden":
        table = _table_at(loc[:-1])
        allowed = sorted(table.model_fields) if table is not None else None
        if table is _PolicyFile and allowed is not None:
            allowed = sorted([*allowed, teams.TEAMS_KEY, teams.TEAMS_DIR_KEY])  # read apart
        if table is DecisionSettings and allowed is not None:
            allowed = [key for key in allowed if key not in TEAM_KEYS]
        # A top-level key has no table to name it: call the file "policy".
        return PolicyError(
            f"unknown key {loc[-1]!r}",
            field=field if len(loc) > 1 else f"policy.{field}",
            allowed=allowed,
        )
    describe = _MESSAGES.get(error["type"])
    message = describe(error["input"]) if describe is not None else error["msg"]
    return PolicyError(message, field=field, allowed=allowed)


def _dotted(loc: Sequence[int | str]) -> str:
    """``("freeze", "weekly", 1, "start")`` as ``freeze.weekly[1].start``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "policy"


def _table_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model of the table at ``loc`` in the file, to list the keys it allows."""
    current: Any = _PolicyFile
    for part in loc:
        if isinstance(part, str) and _is_table(current) and part in current.model_fields:
            current = current.model_fields[part].annotation
        elif isinstance(part, int):
            # The element type of an array: tuple[X, ...]
            current = next((arg for arg in get_args(current) if arg is not Ellipsis), None)
        else:
            return None
    return current if _is_table(current) else None


def _is_table(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
