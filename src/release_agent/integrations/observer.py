"""What the API tells the world about its work: metrics, webhooks and log lines.

    observer = Observer.for_policy(agent.policy)     # webhooks from the policy's file
    record = observer.decide(agent, request)         # decides, then counts, notifies, logs
    observer.recorded(agent.get(release_id))         # after an outcome is recorded
    observer.overridden(record)                      # after a human override
    report = observer.learn(agent)                   # learns, timing and counting the run
    app.include_router(observer.router())            # GET /metrics
    observer.close()                                 # at shutdown: flush the webhooks

Observing never changes what the agent does or answers: webhooks go out from a background
thread, and a decision's log line carries its ``release_id``.
"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Response

from ..agent import Agent
from ..domain.idempotency import Answer
from ..domain.models import DecisionRecord, ReleaseRequest
from ..domain.policy import Policy
from ..learn.loop import LearnReport
from ..memory.lease import LearnerBusy
from .metrics import CONTENT_TYPE, Metrics
from .notify import NotifyTarget, load_targets
from .sender import BACKOFF, Sender

log = logging.getLogger("release_agent.decisions")


class Observer:
    """The app's metrics and webhook sender, and the calls that feed them."""

    def __init__(self, targets: tuple[NotifyTarget, ...] = (), *, backoff: float = BACKOFF):
        self.metrics = Metrics()
        self.sender = Sender(targets, backoff=backoff, settled=self.metrics.notified)

    @classmethod
    def for_policy(cls, policy: Policy, *, backoff: float = BACKOFF) -> Observer:
        """An observer sending to the webhooks of ``policy``'s file. Raises PolicyError
        when its ``[[notify]]`` tables are malformed."""
        return cls(load_targets(policy.source), backoff=backoff)

    def decide(self, agent: Agent, request: ReleaseRequest) -> DecisionRecord:
        """``agent.decide(request)``, then counted, logged and queued for the webhooks
        (which the caller never waits for). A failed decision raises as it would."""
        return self.answer(agent, request).record

    def answer(self, agent: Agent, request: ReleaseRequest) -> Answer:
        """:meth:`decide`, saying whether the record is the stored decision of the
        request's ref (then nothing is counted or sent again: it was when decided)."""
        started = time.perf_counter()
        answer = agent.answer(request)
        if answer.replayed:
            log.info(
                "ref answered by a stored decision",
                extra={"release_id": answer.record.release_id},
            )
            return answer
        record = answer.record
        seconds = time.perf_counter() - started
        self.metrics.decided(record, seconds)
        log.info(
            "%s for %s to %s in %.0f ms",
            record.decision.value,
            record.request.service,
            record.request.env,
            seconds * 1000.0,
            extra={"release_id": record.release_id},
        )
        self.sender.decided(record)
        return answer

    def overridden(self, record: DecisionRecord) -> None:
        """Log ``record``'s override, just recorded, and send the ``override`` event."""
        if record.override is None:
            return
        log.info(
            "override %s -> %s by a human%s",
            record.override.agent_decision.value,
            record.override.decision.value,
            " (break-glass)" if record.override.break_glass else "",
            extra={"release_id": record.release_id},
        )
        self.sender.overridden(record)

    def recorded(self, record: DecisionRecord) -> None:
        """Count and log ``record``'s outcome, just recorded, and send it if an incident."""
        if record.outcome is None:
            return
        self.metrics.outcome(record.outcome.result, record.request.env, record.request.team)
        log.info(
            "outcome %s recorded",
            record.outcome.result.value,
            extra={"release_id": record.release_id},
        )
        self.sender.outcome(record)

    def learn(self, agent: Agent) -> LearnReport:
        """``agent.learn()``, timed and counted as ok or failed (a run another learner kept
        from starting counts as neither). Raises what the run raises."""
        started = time.perf_counter()
        try:
            report = agent.learn()
        except LearnerBusy:
            raise
        except Exception:
            self.metrics.learned(time.perf_counter() - started, ok=False)
            raise
        self.metrics.learned(time.perf_counter() - started, ok=True)
        return report

    def router(self) -> APIRouter:
        """``GET /metrics``: every metric in the Prometheus text format (a read: no token
        needed)."""
        router = APIRouter()

        # Outside the OpenAPI document, which describes the JSON API: this answers
        # Prometheus's text format, for a scraper, not for API clients.
        @router.get("/metrics", response_class=Response, include_in_schema=False)
        def metrics() -> Response:
            """Decisions, outcomes, learning runs, reasoner calls, pending approvals and
            webhook deliveries, for Prometheus to scrape."""
            return Response(self.metrics.render(), media_type=CONTENT_TYPE)

        return router

    def close(self) -> None:
        """Deliver the queued webhook messages (for a few seconds at most), then stop."""
        self.sender.close()
