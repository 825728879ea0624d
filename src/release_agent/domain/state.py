"""Release states and the transitions allowed between them.

START -> RISK_EVAL -> SCHEDULING -> DECISION -> REFLECT -> DONE
                          ^            |          |
                          +-- DELAY ---+----------+       any state -> ABORTED
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ReleaseState(StrEnum):
    START = "START"
    RISK_EVAL = "RISK_EVAL"
    SCHEDULING = "SCHEDULING"
    DECISION = "DECISION"
    REFLECT = "REFLECT"
    DONE = "DONE"
    ABORTED = "ABORTED"


_NEXT: dict[ReleaseState, frozenset[ReleaseState]] = {
    ReleaseState.START: frozenset({ReleaseState.RISK_EVAL}),
    ReleaseState.RISK_EVAL: frozenset({ReleaseState.SCHEDULING}),
    ReleaseState.SCHEDULING: frozenset({ReleaseState.DECISION}),
    ReleaseState.DECISION: frozenset(
        {ReleaseState.REFLECT, ReleaseState.SCHEDULING, ReleaseState.DONE}
    ),
    ReleaseState.REFLECT: frozenset({ReleaseState.DONE, ReleaseState.SCHEDULING}),
    ReleaseState.DONE: frozenset(),
    ReleaseState.ABORTED: frozenset(),
}


class InvalidTransition(RuntimeError):
    """A stage tried to move the release along an edge that does not exist."""


@dataclass
class ReleaseStateMachine:
    """The current state and the history of (state, action) pairs that led to it."""

    state: ReleaseState = ReleaseState.START
    history: list[tuple[ReleaseState, str]] = field(
        default_factory=lambda: [(ReleaseState.START, "request received")]
    )

    def move(self, target: ReleaseState, action: str) -> None:
        """Go to ``target`` (any unfinished release may be ABORTED); raises
        InvalidTransition for an edge that does not exist."""
        aborting = target is ReleaseState.ABORTED and not self.finished
        if not aborting and target not in _NEXT[self.state]:
            raise InvalidTransition(f"{self.state} -> {target} is not allowed")
        self.state = target
        self.history.append((target, action))

    @property
    def finished(self) -> bool:
        return self.state in (ReleaseState.DONE, ReleaseState.ABORTED)

    def states(self) -> list[str]:
        return [f"{state.value}: {action}" for state, action in self.history]
