"""Freeze calendars read for a decision: the policy's ``[[freeze.ics]]`` URLs, fetched
(or taken from their copy on disk, see :mod:`release_agent.memory.ics_cache`) before
the guardrails look at the policy's freezes.

Local calendar files are read when the policy is loaded; a URL is read here, once per
decision, so that a long-running server sees a calendar's new events within its
``max_age_minutes``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ..domain.policy import Policy
from ..memory.ics_cache import CalendarCache

_UTC = ZoneInfo("UTC")
_SHARED = CalendarCache()
"""The process's cache: parsed calendars are kept between decisions."""


def resolve(policy: Policy, cache: CalendarCache | None = None) -> Policy:
    """``policy`` with its URL calendars read (each a calendar, or unreadable with why)."""
    urls = [source for source in policy.ics if source.is_url]
    if not urls:
        return policy
    reader = cache or _SHARED
    zone = policy.timezone or _UTC
    local = tuple(c for c in policy.calendars if not c.source.is_url)
    fetched = tuple(reader.read(source, zone) for source in urls)
    return policy.model_copy(update={"calendars": local + fetched})
