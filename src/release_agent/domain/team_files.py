"""Team policies kept in files of their own, next to the organisation's policy file.

Two ways to point at them, in the organisation's file (paths relative to that file)::

    teams_dir = "teams"          # every teams/NAME.toml is the section of team NAME

    [teams.payments]
    file = "/etc/release-agent/payments.toml"    # or one team's file by name

A team file holds what a ``[teams.NAME]`` section holds, at its top level::

    # teams/payments.toml
    timezone = "Europe/Berlin"

    [costs.failure]
    HIGH = 400

    [[freeze.weekly]]
    name = "settlement run"
    days = ["MON"]
    start = "02:00"
    end = "04:00"

It is laid over the organisation's policy exactly as a section is (see :mod:`.teams`).
In ``teams_dir`` only ``*.toml`` files count, hidden ones (``.NAME.toml``) excepted; a
file stem that is not a valid team name is an error, so is a team defined twice (a
section and a file of the directory, say). A relative ``[[freeze.ics]] source`` in a
team file is read from the team file's directory. Errors name the key as
``teams.NAME.<key>`` (``teams_dir`` for the directory itself) and the file they are in.

The files are read with the organisation's policy, each time it is loaded: every
process that loads the policy (each ``serve`` worker) reads the team files too.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import teams
from .errors import PolicyError
from .ics import is_url

SUFFIX = ".toml"


@dataclass(frozen=True)
class TeamSection:
    """One team's section, with the file it was read from (None: inline)."""

    data: Mapping[str, Any]
    file: Path | None = None


def read(
    data: Mapping[str, Any], sections: Mapping[str, Mapping[str, Any]], base: Path | None
) -> dict[str, TeamSection]:
    """Every team's section: inline ones as they are, those naming a ``file`` read from
    it, then one per file of ``teams_dir``. ``data`` is the organisation's parsed file,
    ``sections`` its ``[teams.NAME]`` tables (see :func:`.teams.split`), ``base`` the
    directory relative paths are read from (the policy file's; None: the working
    directory). Raises PolicyError naming the key and the file at fault."""
    out: dict[str, TeamSection] = {}
    for name, section in sections.items():
        if teams.FILE_KEY in section:
            field = f"{teams.TEAMS_KEY}.{name}.{teams.FILE_KEY}"
            path = _path(section[teams.FILE_KEY], base, field, "file")
            out[name] = _read_file(path, name, field)
        else:
            out[name] = TeamSection(section)
    directory = data.get(teams.TEAMS_DIR_KEY)
    if directory is None:
        return out
    for name, path in _directory(_path(directory, base, teams.TEAMS_DIR_KEY, "directory")):
        if name in out:
            earlier = out[name].file
            by = f"the file {earlier}" if earlier is not None else f"[teams.{name}]"
            raise PolicyError(
                f"team {name!r} is defined twice: by {path} and by {by}; keep one",
                field=teams.TEAMS_DIR_KEY,
            )
        out[name] = _read_file(path, name, teams.TEAMS_DIR_KEY)
    return out


def _path(value: object, base: Path | None, field: str, what: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(
            f"must be the path of a {what} (a string, relative to the policy file)", field=field
        )
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def _directory(path: Path) -> list[tuple[str, Path]]:
    """The teams of a ``teams_dir``: (name, file), by name."""
    if not path.is_dir():
        why = "is not a directory" if path.exists() else "does not exist"
        raise PolicyError(f"the teams directory {path} {why}", field=teams.TEAMS_DIR_KEY)
    try:
        files = sorted(
            entry
            for entry in path.iterdir()
            if entry.suffix == SUFFIX and not entry.name.startswith(".") and entry.is_file()
        )
    except OSError as error:
        why = error.strerror or type(error).__name__
        raise PolicyError(
            f"cannot read the teams directory {path}: {why}", field=teams.TEAMS_DIR_KEY
        ) from None
    found = []
    for file in files:
        name = file.name[: -len(SUFFIX)]
        try:
            teams.check_name(name, teams.TEAMS_DIR_KEY)
        except PolicyError as error:
            raise PolicyError(
                f"{error.message.removeprefix(f'{teams.TEAMS_DIR_KEY}: ')} (the file {file} "
                "names a team by its stem: rename it)",
                field=teams.TEAMS_DIR_KEY,
            ) from None
        found.append((name, file))
    return found


def _read_file(path: Path, name: str, field: str) -> TeamSection:
    """The section of team ``name`` in the file ``path``, checked."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"the team file {path} does not exist", field=field) from None
    except (OSError, UnicodeDecodeError) as error:
        why = getattr(error, "strerror", None) or type(error).__name__
        raise PolicyError(f"cannot read the team file {path}: {why}", field=field) from None
    try:
        section = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"the team file {path} is not valid TOML: {error}", field=field) from None
    where = f"{teams.TEAMS_KEY}.{name}"
    if teams.FILE_KEY in section:
        raise PolicyError(
            f"a team file cannot name another file (in {path})",
            field=f"{where}.{teams.FILE_KEY}",
            allowed=teams.TEAM_KEYS_ALLOWED,
        )
    try:
        teams.check_section(section, where)
    except PolicyError as error:
        raise teams.in_section(_relative(error, where), name, str(path)) from None
    return TeamSection(_rebased(section, path.parent), path)


def _relative(error: PolicyError, where: str) -> PolicyError:
    """An error of :func:`.teams.check_section`, its field made relative to the section
    again (so that :func:`.teams.in_section` can name it and the file)."""
    field = (error.field or "").removeprefix(f"{where}.")
    message = error.message.removeprefix(f"{error.field}: ")
    if error.allowed:
        message = message.removesuffix(f" (allowed: {', '.join(error.allowed)})")
    return PolicyError(message, field=field or None, allowed=error.allowed)


def _rebased(section: Mapping[str, Any], directory: Path) -> Mapping[str, Any]:
    """``section`` with each relative ``[[freeze.ics]] source`` made a path in
    ``directory`` (the team file's), as a source in the organisation's file is read
    from the organisation file's directory."""
    freeze = section.get("freeze")
    if not isinstance(freeze, Mapping) or not isinstance(freeze.get("ics"), list):
        return section
    sources = []
    for entry in freeze["ics"]:
        source = entry.get("source") if isinstance(entry, Mapping) else None
        if isinstance(source, str) and source and not is_url(source) and "://" not in source:
            path = Path(source).expanduser()
            if not path.is_absolute():
                entry = {**entry, "source": str(directory / path)}
        sources.append(entry)
    return {**section, "freeze": {**freeze, "ics": sources}}
