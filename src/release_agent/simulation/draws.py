"""Common random numbers: every policy faces the same draws.

A draw is a pure function of (seed, stream, release, slot): a counter-based generator
(SplitMix64 finalizer over the four numbers) rather than a sequential one, so the value
does not depend on how many draws were taken before it or on the order in which the
policies run. Two policies that deploy the same release in the same hour therefore see
the same clash and the same failure draw, and a failure depends only on the conditions
of the deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

_MASK = (1 << 64) - 1
_TO_UNIT = 1.0 / (1 << 53)

FAILURE = 1
"""Stream of the uniform compared with the failure probability of a deploy."""
CLASH = 2
"""Stream deciding whether another change clashes with a release in an hour."""
PARTNER = 3
"""Stream naming the other service a clash is with (what a caller would report)."""


def _mix(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def uniform(seed: int, stream: int, release: int, slot: int) -> float:
    """A uniform number in [0, 1) determined only by its four arguments."""
    value = _mix(seed & _MASK)
    value = _mix(value ^ (stream & _MASK))
    value = _mix(value ^ (release & _MASK))
    value = _mix(value ^ (slot & _MASK))
    return (value >> 11) * _TO_UNIT


@dataclass(frozen=True)
class Draws:
    """The draws of one run: ``seed`` and the world's clash rate fix them all."""

    seed: int
    clash_rate: float

    def clash(self, release: int, slot: int) -> bool:
        """Whether another change clashes with ``release`` if it goes out in ``slot``."""
        return uniform(self.seed, CLASH, release, slot) < self.clash_rate

    def failure_uniform(self, release: int, slot: int) -> float:
        """The uniform a deploy of ``release`` in ``slot`` fails below (its probability)."""
        return uniform(self.seed, FAILURE, release, slot)

    def fails(self, release: int, slot: int, probability: float) -> bool:
        """Whether a deploy of ``release`` in ``slot`` with this failure probability fails.

        Monotone in ``probability``: a riskier deploy of the same release in the same hour
        fails whenever a safer one does.
        """
        return self.failure_uniform(release, slot) < probability

    def partner(self, release: int, slot: int, choices: int) -> int:
        """An index in ``range(choices)``: which other change the clash is with."""
        return int(uniform(self.seed, PARTNER, release, slot) * choices)
