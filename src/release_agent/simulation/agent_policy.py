"""The agent under test: release-agent's full pipeline, learning from simulated outcomes.

The agent is told only what a real team would configure: the world's ``costs`` (its risk
appetite) go into the agent's :class:`~release_agent.domain.policy.Policy`. Nothing of the
failure model — base rate, factors, risk mix, clash rate — reaches it; it learns from the
outcomes of its own GOs, recorded as ``success`` or ``incident``.

Its memory is a fresh SQLite file in a temporary directory, removed when the run ends,
unless a database URL is given.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..domain.calendar import CalendarSettings
from ..domain.models import Decision, DecisionRecord, ReleaseRequest, Result
from ..domain.policy import Policy
from .decisions import Action, DecisionPoint, PolicyFactory, Setting
from .world import WORLD_ENV


class AgentPolicy:
    """Adapts :class:`release_agent.agent.Agent` to the simulator's policy protocol."""

    name = "agent"

    def __init__(
        self,
        setting: Setting,
        *,
        db_url: str | None = None,
        reasoner: Any = None,
        policy: Policy | None = None,
        on_llm_failure: str = "delay",
    ) -> None:
        """Open the agent's memory and build the agent.

        ``reasoner`` None is the built-in reasoner. ``policy`` supplies the decision
        settings and freezes; its costs are always replaced by the world's. Raises what
        opening the store raises (StoreError for a bad URL).
        """
        # Imported here: the simulator's baselines work without the pipeline installed.
        from ..agent import Agent
        from ..memory.store import Store

        self.setting = setting
        self._tmpdir: Path | None = None
        if db_url is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="release-agent-sim-"))
            db_url = f"sqlite:///{self._tmpdir / 'memory.db'}"
        # A temporary memory need not survive a crash: skip waiting for the disk.
        self.store = Store.open(db_url, durable=self._tmpdir is None)
        world = setting.world
        # The world draws each release's clashes itself (the caller's --clash): the
        # agent's own change calendar would see clashes the world does not have.
        calendar = CalendarSettings(enabled=False)
        policy = (policy or Policy()).model_copy(
            update={"costs": world.costs, "calendar": calendar}
        )
        self.agent = Agent(
            store=self.store, policy=policy, reasoner=reasoner, on_llm_failure=on_llm_failure
        )
        self._names = [service.name for service in world.services]
        self._learn_every = policy.settings.extract_every
        self._pending: str | None = None
        self.decisions = 0

    def _clashes(self, point: DecisionPoint) -> list[str]:
        """What a caller would report: the name of another service changing at that time."""
        if not point.clash:
            return []
        others = [n for i, n in enumerate(self._names) if i != point.release.service]
        if not others:
            return ["shared-infrastructure"]
        return [others[self.setting.draws.partner(point.release.index, point.slot, len(others))]]

    def request(self, point: DecisionPoint) -> ReleaseRequest:
        """The request a release manager would send at ``point``."""
        world = self.setting.world
        release = point.release
        return ReleaseRequest(
            service=self._names[release.service],
            env=WORLD_ENV,
            feature_risk=release.feature_risk,
            service_criticality=world.services[release.service].criticality,
            at=self.setting.clock.moment(point.slot),
            clashes=self._clashes(point),
            delays=point.delays,
        )

    def decide(self, point: DecisionPoint) -> Action:
        """Ask the agent; a DELAY's window is rounded up to the next slot boundary."""
        record = self.agent.decide(self.request(point))
        self.decisions += 1
        # Learning is off the decision path (a worker or cron in production); here it
        # runs at a fixed cadence, every extract_every decisions, so runs are comparable.
        if self.decisions % self._learn_every == 0:
            self.agent.learn()
        self._pending = None
        if record.decision is Decision.GO:
            self._pending = record.release_id
            return Action(Decision.GO, risk=stated_risk(record))
        if record.decision is Decision.DELAY:
            window = point.slot + 1
            if record.next_window is not None:
                window = max(window, self.setting.clock.slot_at_or_after(record.next_window))
            return Action(Decision.DELAY, window)
        return Action(Decision.NO_GO)

    def observe(self, point: DecisionPoint, failed: bool) -> None:
        """Record the outcome of the GO just decided: the agent's only ground truth."""
        if self._pending is None:
            raise RuntimeError("an outcome without a GO to attach it to")
        self.agent.record_outcome(self._pending, Result.incident if failed else Result.success)
        self._pending = None

    def close(self) -> None:
        """Close the memory; a temporary one is deleted."""
        close = getattr(self.store, "close", None)
        if callable(close):
            close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def stated_risk(record: DecisionRecord) -> float | None:
    """The failure probability the agent stated for the deploy a GO decided: the risk
    model's mean estimate for GO now, from the first scheduling entry of the trace (a GO
    is always decided at the moment first considered). None when the trace has none."""
    for entry in record.trace:
        if entry.stage != "scheduling":
            continue
        risk = (entry.detail.get("go_now") or {}).get("risk") or {}
        mean = risk.get("mean")
        return float(mean) if isinstance(mean, int | float) else None
    return None


def agent_factory(
    *,
    db_url: str | None = None,
    reasoner: Any = None,
    policy: Policy | None = None,
    on_llm_failure: str = "delay",
) -> PolicyFactory:
    """A factory for :func:`release_agent.simulation.runner.simulate`'s ``policies``."""
    build: Callable[[Setting], AgentPolicy] = lambda setting: AgentPolicy(  # noqa: E731
        setting, db_url=db_url, reasoner=reasoner, policy=policy, on_llm_failure=on_llm_failure
    )
    return build
