"""Environment names and the glob patterns a policy names them with.

The policy says which environments are production (``production = ["prod", "prod-*"]``)
and which it knows not to be (``non_production = ["staging", "dev*"]``); a freeze's
``envs`` uses the same patterns. Patterns are shell-style globs (``*``, ``?``, ``[...]``),
matched against the lower-case name (environment names are lower case once read), and
``prod`` and ``production`` name the same environment on either side, as they always have.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from .models import canonical_env

DEFAULT_PRODUCTION: tuple[str, ...] = ("prod", "production", "prod-*", "live")
"""Which environments are production when the policy does not say."""
DEFAULT_NON_PRODUCTION: tuple[str, ...] = ("staging", "dev*", "test*", "qa*")
"""Which environments are known not to be production when the policy does not say."""
MAX_PATTERN = 100


def matches(env: str, pattern: str) -> bool:
    """Whether ``env`` matches the glob ``pattern`` (``prod`` and ``production`` alike)."""
    name, glob = env.strip().lower(), pattern.strip().lower()
    return fnmatchcase(name, glob) or fnmatchcase(canonical_env(name), canonical_env(glob))


def matches_any(env: str, patterns: Iterable[str]) -> bool:
    return any(matches(env, pattern) for pattern in patterns)


def pattern_fault(value: object) -> str | None:
    """Why ``value`` is not an environment pattern, or None when it is one."""
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty environment name or glob pattern"
    if len(value) > MAX_PATTERN:
        return f"must be at most {MAX_PATTERN} characters"
    if any(not char.isprintable() for char in value):
        return "must not contain control characters"
    return None


def unknown_env_warning(
    env: str, production: Iterable[str], non_production: Iterable[str]
) -> str | None:
    """The warning for an environment that neither list names, or None."""
    production, non_production = tuple(production), tuple(non_production)
    if matches_any(env, production) or matches_any(env, non_production):
        return None
    return (
        f"environment {env!r} matches no known name: neither production "
        f"({', '.join(production)}) nor non_production ({', '.join(non_production) or '-'}); "
        "it is treated as non-production. Add it to the policy's production or "
        "non_production list."
    )
