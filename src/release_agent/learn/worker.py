"""The background learner: a learning run whenever enough new evidence is in.

    worker = LearningWorker(agent, Cadence(every_outcomes=50, every_seconds=600))
    worker.start()          # a daemon thread; decisions never wait for it
    ...
    worker.stop()           # lets a run in progress finish

A run is due when :attr:`Cadence.every_outcomes` outcomes were recorded since the
knowledge in force was fitted, or when :attr:`Cadence.every_seconds` have passed since it
was published and any outcome is new. Outcomes recorded by other processes count too:
the worker reads them from the database. It checks every ``poll_seconds``, and at once
after :meth:`LearningWorker.nudge` (say, after an outcome is recorded in this process).

One learner runs at a time per database: a run that finds another learner at work (in
this process, another ``serve``, or a ``release-agent learn`` from cron) is skipped, and
the next check finds out whether one is still due. A failing run is logged (without the
database's password: store errors never carry it) and retried at the next check.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ..domain.errors import InvalidInput, ReleaseAgentError
from ..memory.lease import LearnerBusy
from ..memory.store import Store
from ..stats.knowledge import Knowledge
from .loop import LearnReport

log = logging.getLogger("release_agent.learner")

EVERY_OUTCOMES = 50
EVERY_SECONDS = 600.0
POLL_SECONDS = 5.0


class Learner(Protocol):
    """What the worker drives: the agent (:class:`release_agent.agent.Agent`)."""

    @property
    def store(self) -> Store: ...

    def knowledge(self) -> Knowledge: ...

    def learn(self, *, wait: float = 0.0) -> LearnReport: ...


@dataclass(frozen=True)
class Cadence:
    """When a learning run is due."""

    every_outcomes: int = EVERY_OUTCOMES
    """New outcomes since the knowledge in force that call for a run (at least 1)."""
    every_seconds: float = EVERY_SECONDS
    """Seconds since the knowledge in force after which any new outcome calls for one."""

    def __post_init__(self) -> None:
        count = self.every_outcomes
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1_000_000:
            raise InvalidInput(
                f"{self.every_outcomes!r} is not a whole number from 1 to 1000000",
                field="learn_every",
            )
        if not 1.0 <= self.every_seconds <= 7 * 86_400.0:  # also refuses NaN
            raise InvalidInput(
                f"{self.every_seconds!r} is not a number of seconds from 1 to 604800 (a week)",
                field="learn_interval",
            )

    def due(self, new_outcomes: int, seconds_since: float) -> bool:
        """Whether a run is due, ``new_outcomes`` after the knowledge in force, published
        ``seconds_since`` ago. A count that went down (outcomes deleted by hand) is new
        evidence as well."""
        if new_outcomes < 0:
            return True
        if new_outcomes >= self.every_outcomes:
            return True
        return new_outcomes > 0 and seconds_since >= self.every_seconds


@dataclass(frozen=True)
class LearnSettings:
    """What ``serve`` asks of its background learner, before the policy is read."""

    every_outcomes: int | None = None
    """New outcomes that call for a run; None: the policy's ``extract_every``."""
    every_seconds: float = EVERY_SECONDS
    """Seconds after which any new outcome calls for a run."""
    poll_seconds: float = POLL_SECONDS
    """How often the worker reads the database for outcomes other processes recorded."""

    def cadence(self, extract_every: int) -> Cadence:
        """The cadence with ``extract_every`` (the policy's) standing in for a count not
        given. Raises InvalidInput naming ``learn_every`` or ``learn_interval``."""
        every = extract_every if self.every_outcomes is None else self.every_outcomes
        return Cadence(every_outcomes=every, every_seconds=self.every_seconds)


class LearningWorker:
    """Runs learning in a background thread at a :class:`Cadence`."""

    def __init__(
        self,
        agent: Learner,
        cadence: Cadence | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.agent = agent
        self.cadence = cadence or Cadence()
        self.poll_seconds = poll_seconds
        self.runs = 0
        """Learning runs completed by this worker."""
        self.last_report: LearnReport | None = None
        self.last_error: str | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._loop, name="release-agent-learner", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end and wait for it (a run in progress finishes first)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def nudge(self) -> None:
        """Check now whether a run is due, instead of at the next poll."""
        self._wake.set()

    def due(self) -> bool:
        """Whether a run is due now (reads the outcome count and the newest snapshot)."""
        knowledge = self.agent.knowledge()
        new = self.agent.store.count_outcomes() - knowledge.outcomes
        if knowledge.created_at is not None:
            since = (datetime.now(UTC) - knowledge.created_at).total_seconds()
        else:
            since = time.monotonic() - self._started
        return self.cadence.due(new, since)

    def run_once(self) -> LearnReport | None:
        """One check: learn if a run is due; returns its report, None when none ran
        (not due, or another learner at work). Raises what the run raises."""
        if not self.due():
            return None
        try:
            report = self.agent.learn()
        except LearnerBusy:
            return None
        self.runs += 1
        self.last_report = report
        self.last_error = None
        log.info(
            "learned from %d outcomes: knowledge version %s, %d added, %d re-checked",
            report.outcomes,
            report.knowledge_version,
            report.added,
            report.checked,
        )
        return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except ReleaseAgentError as error:
                self.last_error = str(error)
                log.warning("learning run failed; retrying at the next check: %s", error)
            except Exception as error:  # the thread must outlive any one run
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("learning run failed unexpectedly; retrying at the next check")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
