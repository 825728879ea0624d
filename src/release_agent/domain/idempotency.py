"""Idempotent requests: a caller's ``ref`` names one release, and asking again about it
answers the stored decision instead of deciding (and booking) twice.

A re-ask is a new decision only when it is a release asking again at the window a DELAY
gave it: its ``delays`` is higher than the stored decision's. The new decision then
supersedes the old one. A ref asked about for another service or environment is a
caller's mistake, refused rather than answered with another release's decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Conflict
from .models import DecisionRecord, ReleaseRequest


@dataclass(frozen=True)
class Answer:
    """A decision as a caller receives it: new, or the stored one of its ref."""

    record: DecisionRecord
    replayed: bool = False
    """True when ``record`` was stored before (same ref): nothing was decided now."""


def decides_again(request: ReleaseRequest, stored: DecisionRecord) -> bool:
    """Whether ``request`` (with the ref of ``stored``) is a new decision: a re-ask at a
    DELAY's window (``delays`` higher). Raises Conflict when the ref was decided for
    another service or environment."""
    before = stored.request
    if (before.service, before.env) != (request.service, request.env):
        raise Conflict(
            f"ref {request.ref!r} was decided for {before.service} to {before.env} "
            f"(decision {stored.release_id}); a ref names one release: give this one its own",
            field="ref",
        )
    return request.delays > before.delays
