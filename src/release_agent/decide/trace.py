"""The decision's trace: one entry per stage, in the state the release was in, and
every reasoner call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain.models import ReasonerCall, TraceEntry
from ..domain.state import ReleaseState, ReleaseStateMachine


@dataclass(frozen=True)
class Note:
    """What a stage says about its own result: its name, one line, and the details."""

    stage: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


class Trace:
    """The state machine of one decision with the entries and calls recorded so far."""

    def __init__(self) -> None:
        self.machine = ReleaseStateMachine()
        self.entries: list[TraceEntry] = []
        self.calls: list[ReasonerCall] = []

    def move(self, state: ReleaseState, why: str) -> None:
        self.machine.move(state, why)

    def add(self, note: Note) -> None:
        self.entries.append(
            TraceEntry(
                stage=note.stage,
                state=self.machine.state.value,
                summary=note.summary,
                detail=note.detail,
            )
        )
