"""``--team NAME`` on the listing commands: only that team's decisions, bookings or
overrides. A name that is no team name stops the command with exit 2, naming
``--team``. Imports only click (see options.py for why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .options import TEXT

F = TypeVar("F", bound=Callable[..., Any])


def checked_team(value: str | None) -> str | None:
    """``value`` as a team is stored (stripped), or None; InvalidInput naming
    ``--team`` for one that is no team name."""
    if value is None:
        return None
    from ..domain.errors import InvalidInput
    from ..domain.teams import name_fault

    name = value.strip()
    fault = name_fault(name)
    if fault is not None:
        raise InvalidInput(fault, field="--team")
    return name


def team_filter_option(what: str) -> Callable[[F], F]:
    """The ``--team`` option of a listing of ``what``; the command gets ``team``."""
    return click.option(
        "--team",
        metavar="NAME",
        type=TEXT,
        help=f"Only this team's {what}.",
    )
