"""Shadow mode: decisions recorded and answered as advice, blocking nothing.

A team watches the gate before it trusts it: ``decide --shadow``, or the policy's
``[decision] shadow = ["staging", "prod-eu-*"]`` (glob patterns over environment names,
matched as the policy's ``production`` list is), records every decision as usual, marked
``shadow``, and the command line exits 0 whatever it says. ``release-agent shadow-report``
counts what the shadow decisions would have blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .environments import matches_any


def matches(env: str, patterns: Iterable[str]) -> bool:
    """Whether ``env`` matches one of the glob ``patterns``, as the policy's
    ``production`` list matches (case ignored; ``prod`` and ``production`` alike)."""
    return matches_any(env, patterns)


@dataclass(frozen=True)
class ShadowCounts:
    """Shadow decisions of one environment (or of all), by decision."""

    go: int = 0
    delay: int = 0
    no_go: int = 0

    @property
    def total(self) -> int:
        return self.go + self.delay + self.no_go

    @property
    def blocked(self) -> int:
        """What the gate would have held back: its DELAYs and NO_GOs."""
        return self.delay + self.no_go

    def to_json(self) -> dict[str, int]:
        return {
            "decisions": self.total,
            "would_block": self.blocked,
            "GO": self.go,
            "DELAY": self.delay,
            "NO_GO": self.no_go,
        }


@dataclass(frozen=True)
class ShadowReport:
    """What shadow decisions would have done: overall and per environment. Counts the
    agent's own decisions (a human override does not change what the gate said)."""

    total: ShadowCounts
    by_env: dict[str, ShadowCounts] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.total.to_json(),
            "by_env": {env: counts.to_json() for env, counts in sorted(self.by_env.items())},
        }
