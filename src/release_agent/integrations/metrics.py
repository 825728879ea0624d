"""Prometheus metrics of one app, in a registry of its own (two apps in one process, or
two tests, never share counts).

    release_agent_decisions_total{decision,team,env}       decisions made
    release_agent_decision_seconds                         how long a decision took
    release_agent_outcomes_total{result,team,env}          outcomes recorded (a
                                                           replacement counts again)
    release_agent_learning_runs_total{result}              learning runs: ok or failed
    release_agent_learning_seconds                         how long a run took
    release_agent_reasoner_calls_total{reasoner,task,result}  reasoner calls (builtin and
                                                           LLMs), ok or failed
    release_agent_reasoner_latency_seconds{reasoner}       their latency
    release_agent_pending_approvals{team}                  GitHub deployment reviews
                                                           still to send (due now or
                                                           waiting for a DELAY's window)
    release_agent_notifications_total{result}              webhook messages: sent,
                                                           failed, dropped

``team`` is the record's team (``default`` unless the request named one). The reasoner
figures come from each decision record's ``reasoner_calls``, so they count exactly what
the record shows.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..domain.models import DecisionRecord, Result

PREFIX = "release_agent_"
TEAM = "default"
"""The team of a figure that has none of its own."""
CONTENT_TYPE = CONTENT_TYPE_LATEST

# A decision takes milliseconds with the built-in reasoner and seconds with an LLM.
_DECISION = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LEARNING = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_CALL = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The app's metrics and the registry that holds them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        count, histogram = self._counter, self._histogram
        self.decisions = count(
            "decisions",
            "Decisions made, by result, team and environment.",
            "decision",
            "team",
            "env",
        )
        self.decision_seconds = histogram("decision_seconds", "Seconds a decision took.", _DECISION)
        self.outcomes = count(
            "outcomes",
            "Outcomes recorded, by result, team and environment.",
            "result",
            "team",
            "env",
        )
        self.learning_runs = count(
            "learning_runs", "Learning runs, by result (ok, failed).", "result"
        )
        self.learning_seconds = histogram(
            "learning_seconds", "Seconds a learning run took.", _LEARNING
        )
        self.reasoner_calls = count(
            "reasoner_calls",
            "Reasoner calls (built-in and LLM), by reasoner, task and result (ok, failed).",
            "reasoner",
            "task",
            "result",
        )
        self.reasoner_latency = histogram(
            "reasoner_latency_seconds",
            "Seconds a reasoner call took, by reasoner.",
            _CALL,
            "reasoner",
        )
        self.notifications = count(
            "notifications",
            "Webhook messages by what became of them (sent, failed, dropped).",
            "result",
        )
        self.pending_approvals = Gauge(
            f"{PREFIX}pending_approvals",
            "GitHub deployment reviews still to send (due now or at a DELAY's window), by team.",
            ["team"],
            registry=self.registry,
        )
        self.pending_approvals.labels(team=TEAM).set(0)

    def _counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(f"{PREFIX}{name}", doc, labels, registry=self.registry)

    def _histogram(
        self, name: str, doc: str, buckets: tuple[float, ...], *labels: str
    ) -> Histogram:
        return Histogram(f"{PREFIX}{name}", doc, labels, buckets=buckets, registry=self.registry)

    def decided(self, record: DecisionRecord, seconds: float) -> None:
        """Count ``record``, which took ``seconds``, and its reasoner calls."""
        self.decisions.labels(record.decision.value, record.request.team, record.request.env).inc()
        self.decision_seconds.observe(seconds)
        for call in record.reasoner_calls:
            result = "ok" if call.ok else "failed"
            self.reasoner_calls.labels(call.reasoner, call.task, result).inc()
            self.reasoner_latency.labels(call.reasoner).observe(call.latency_ms / 1000.0)

    def outcome(self, result: Result, env: str, team: str = TEAM) -> None:
        self.outcomes.labels(result.value, team, env).inc()

    def learned(self, seconds: float, ok: bool) -> None:
        self.learning_runs.labels("ok" if ok else "failed").inc()
        self.learning_seconds.observe(seconds)

    def pending(self, count: int) -> None:
        """The number of deployment reviews still to send, as the database holds them
        (every server over one database reports the same figure)."""
        self.pending_approvals.labels(team=TEAM).set(count)

    def notified(self, fate: str) -> None:
        self.notifications.labels(fate).inc()

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
