"""Teams in the policy file: ``[teams.NAME]`` sections over the organisation's policy.

A request names its team (``team``, default ``default``). The policy it is decided under
is the file's top level with the team's section laid over it:

    [costs.failure]
    HIGH = 100

    [teams.payments.costs.failure]      # payments: HIGH failures cost more, the rest
    HIGH = 400                          # as the organisation's

    [[teams.payments.freeze.weekly]]    # a freeze of payments' own, on top of every
    name = "settlement run"             # freeze of the organisation
    days = ["MON"]
    start = "02:00"
    end = "04:00"

- A table of the section (``costs``, ``decision``, ``calendar``, ...) overrides the
  organisation's key by key; a value replaces the organisation's value.
- Freezes (``freeze.once``, ``freeze.weekly``, ``freeze.ics``) add to the
  organisation's: a team cannot lift a freeze the organisation declared.
- ``priors``, ``notify`` and ``github`` are the organisation's alone: the risk model is
  one for every team (it pools their evidence, each team with an effect of its own), and
  webhooks and the GitHub integration are configured once.

A team's section may instead live in a file of its own (read by :mod:`.team_files`):
``[teams.payments] file = "teams/payments.toml"`` names it, and a top-level
``teams_dir = "teams"`` makes every ``*.toml`` of that directory the section of the
team its file stem names. A team file holds exactly what a section holds, at its top
level (``[costs.failure]``, ``[[freeze.weekly]]``, ...), and is laid over the
organisation's policy the same way.

A team with no section decides under the organisation's policy. The section is
validated when the file is loaded, its errors named ``teams.NAME.<key>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import PolicyError
from .models import NAME_PATTERN

TEAMS_KEY = "teams"
TEAMS_DIR_KEY = "teams_dir"
"""The top-level key naming a directory of team files (see :mod:`.team_files`)."""
FILE_KEY = "file"
"""The key of a ``[teams.NAME]`` section naming the team's file instead."""
TEAM_KEYS_ALLOWED = (
    "timezone",
    "production",
    "non_production",
    "decision",
    "costs",
    "freeze",
    "calendar",
    "services",
)
"""What a team's section may set."""
ORGANISATION_ONLY = ("priors", "notify", "github", TEAMS_KEY, TEAMS_DIR_KEY)
ADDED_ARRAYS = ("once", "weekly", "ics")
"""The arrays of ``freeze`` that a team's section adds to instead of replacing."""


def split(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]]]:
    """The file without its ``teams`` table (and ``teams_dir``), and each team's section
    by name: a section naming a ``file`` is kept as it is, for :mod:`.team_files` to
    read. Raises PolicyError naming the key for a malformed ``teams`` table."""
    rest = {key: value for key, value in data.items() if key not in (TEAMS_KEY, TEAMS_DIR_KEY)}
    teams = data.get(TEAMS_KEY, {})
    if not isinstance(teams, Mapping):
        raise PolicyError(
            "must be a table of teams, e.g. [teams.payments] with the team's own costs",
            field=TEAMS_KEY,
        )
    sections: dict[str, Mapping[str, Any]] = {}
    for name, section in teams.items():
        where = f"{TEAMS_KEY}.{name}"
        check_name(name, where)
        if not isinstance(section, Mapping):
            raise PolicyError("must be a table ([teams.NAME])", field=where)
        if FILE_KEY in section:
            others = sorted(key for key in section if key != FILE_KEY)
            if others:
                raise PolicyError(
                    f"a team whose policy is in a file takes all of it from there: move "
                    f"{', '.join(repr(key) for key in others)} into the file, or drop "
                    f"{FILE_KEY!r}",
                    field=f"{where}.{others[0]}",
                )
        else:
            check_section(section, where)
        sections[name] = section
    return rest, sections


def name_fault(name: str) -> str | None:
    """Why ``name`` is no team name, or None when it is one."""
    if NAME_PATTERN.match(name):
        return None
    return (
        f"{name[:60]!r} is not a team name: 1-100 letters, digits, '.', '_', '-', '/' "
        "or spaces, starting with a letter or digit"
    )


def check_name(name: str, where: str) -> None:
    """Raises PolicyError at ``where`` unless ``name`` is a valid team name."""
    fault = name_fault(name)
    if fault is not None:
        raise PolicyError(fault, field=where)


def check_section(section: Mapping[str, Any], where: str) -> None:
    """Raises PolicyError naming ``where.<key>`` for a key a team may not set."""
    for key in section:
        if key in ORGANISATION_ONLY:
            raise PolicyError(
                f"{key!r} is the organisation's alone: set it at the top level of the "
                "organisation's policy file (the risk model, webhooks, GitHub and the "
                "teams are shared by every team)",
                field=f"{where}.{key}",
                allowed=TEAM_KEYS_ALLOWED,
            )
        if key not in TEAM_KEYS_ALLOWED:
            raise PolicyError(
                f"unknown key {key!r}", field=f"{where}.{key}", allowed=TEAM_KEYS_ALLOWED
            )


def overlay(organisation: Mapping[str, Any], section: Mapping[str, Any]) -> dict[str, Any]:
    """The organisation's document with a team's section laid over it (see the module's
    docstring): tables merged key by key, freezes added (the team's first, so that an
    error in one is located at its own index), any other value replaced."""
    out = dict(organisation)
    for key, value in section.items():
        base = out.get(key)
        if key == "freeze" and isinstance(base, Mapping) and isinstance(value, Mapping):
            out[key] = _freezes(base, value)
        elif isinstance(base, Mapping) and isinstance(value, Mapping):
            out[key] = _merged(base, value)
        else:
            out[key] = value
    return out


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(out.get(key), Mapping) and isinstance(value, Mapping):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _freezes(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = _merged(base, {k: v for k, v in over.items() if k not in ADDED_ARRAYS})
    for key in ADDED_ARRAYS:
        if key in over:
            theirs, ours = over[key], base.get(key, [])
            if isinstance(theirs, list) and isinstance(ours, list):
                out[key] = [*theirs, *ours]
            else:
                out[key] = theirs  # malformed: validation names it
    return out


def in_section(error: PolicyError, team: str, file: str | None = None) -> PolicyError:
    """``error``, found in the policy of ``team``, named as a key of its section; when the
    section was read from ``file``, the message says so."""
    field = error.field or "policy"
    message = error.message
    if message.startswith(f"{field}: "):
        message = message[len(field) + 2 :]
    if error.allowed:
        message = message.removesuffix(f" (allowed: {', '.join(error.allowed)})")
    if file is not None:
        message = f"{message} (in {file})"
    field = field.removeprefix("policy.") if field != "policy" else ""
    where = f"{TEAMS_KEY}.{team}" + (f".{field}" if field else "")
    return PolicyError(message, field=where, allowed=error.allowed)
