"""The background reviewer: decides the deployments GitHub waits on and tells GitHub.

    reviewer = Reviewer(store, decide, client)   # decide: ReleaseRequest -> DecisionRecord
    reviewer.start()           # one daemon thread; a first pass at once (after a restart
                               # it takes up every review still pending in the database)
    reviewer.wake()            # a new review is due now
    reviewer.run_due()         # one pass, in the caller's thread (what the thread runs)
    reviewer.stop()

Each pending review (``pending_approvals``) is claimed with a lease, decided with its
ref (``<sha>:<environment>``; asking again for a ref answers the stored decision, so a
retry never decides twice), and answered:

- GO: ``approved``, the reason and the release id in the comment;
- NO_GO: ``rejected``, with the reason;
- DELAY: a comment alone naming the window (GitHub keeps the deployment waiting), and
  the review is due again at the window, asked with one more delay; then approved or
  rejected, or delayed again until the policy's ``max_delays`` allows no more;
- a shadow decision (advice only): ``approved``, the comment saying what it advised;
- a request that cannot be made (a repository or environment name the agent does not
  take) or a decision that keeps failing: ``rejected``, saying why. Nothing that fails
  approves a deployment.

A failed attempt (GitHub or the database not answering) is tried again later, waiting
twice as long each time, up to ``max_attempts``; then the row is marked failed and
logged. GitHub refusing the review (a 4xx: the run was cancelled or reviewed already)
ends it at once. Times come from ``clock``, so tests move time instead of waiting.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ...domain.errors import InvalidInput, UserError
from ...domain.models import Decision, DecisionRecord, ReleaseRequest, parse_request
from ...memory import approvals
from ...memory.approvals import PendingApproval
from ...memory.store import Store
from .client import CallbackRefused, ReviewClient
from .http import Retryable

log = logging.getLogger("release_agent.github")

POLL = 30.0
"""Seconds between passes when nothing is due sooner (a safety net: new rows wake it)."""
LEASE = timedelta(minutes=5)
RETRY_FIRST = timedelta(seconds=30)
MAX_ATTEMPTS = 8
"""Failed attempts before a review is given up (the waits add up to about two hours)."""
MAX_REASON = 600
MIN_SLEEP = 0.5


def _now() -> datetime:
    return datetime.now(UTC)


class Reviewer:
    """See the module."""

    def __init__(
        self,
        store: Store,
        decide: Callable[[ReleaseRequest], DecisionRecord],
        client: ReviewClient,
        *,
        clock: Callable[[], datetime] = _now,
        poll: float = POLL,
        lease: timedelta = LEASE,
        retry_first: timedelta = RETRY_FIRST,
        max_attempts: int = MAX_ATTEMPTS,
        counted: Callable[[int], None] | None = None,
    ) -> None:
        """``counted`` is told how many reviews are pending after each pass (the
        ``release_agent_pending_approvals`` gauge)."""
        self.store = store
        self.decide = decide
        self.client = client
        self.clock = clock
        self.poll = poll
        self.lease = lease
        self.retry_first = retry_first
        self.max_attempts = max_attempts
        self._counted = counted
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._begun = 0
        self._finished = 0
        self._done = threading.Condition()

    # -- the thread -------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="github-reviewer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the review in hand (a row half done is taken up again later: its
        lease runs out)."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def settle(self, timeout: float = 10.0) -> bool:
        """Wake the thread and wait until a whole pass has run that began after this
        call; True when one did within ``timeout`` seconds (for tests)."""
        with self._done:
            target = self._begun + 1
            self._wake.set()
            return self._done.wait_for(lambda: self._finished >= target, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            # Under the condition, so that a settle() sees either this pass begin or
            # its wake survive until the next one.
            with self._done:
                self._wake.clear()
                self._begun += 1
            try:
                self.run_due()
            except Exception as error:  # the thread must outlive any one failure
                log.error("GitHub reviews: pass failed: %s", _brief(error))
            with self._done:
                self._finished += 1
                self._done.notify_all()
            self._wake.wait(self._sleep_for())

    def _sleep_for(self) -> float:
        now = self.clock()
        try:
            due = approvals.next_due(self.store, now)
        except Exception:
            return self.poll
        if due is None:
            return self.poll
        # At least a moment: a row due now that this pass could not take (its claim
        # failed) must not make the thread spin.
        return max(MIN_SLEEP, min(self.poll, (due - now).total_seconds()))

    # -- one pass ---------------------------------------------------------------------

    def run_due(self) -> int:
        """Handle every review due now; returns how many were handled. A DELAY a human
        has overridden since (to GO or NO_GO) is due at once."""
        handled = 0
        self._bring_forward_overrides()
        while not self._stop.is_set():
            rows = approvals.claim_due(self.store, self.clock(), self.lease)
            if not rows:
                break
            for row in rows:
                self._handle(row)
                handled += 1
        if self._counted is not None:
            self._counted(approvals.count_pending(self.store))
        return handled

    def _bring_forward_overrides(self) -> None:
        now = self.clock()
        for row in approvals.waiting(self.store, now):
            if row.release_id is not None and _overridden(self._stored(row.release_id)):
                approvals.retry_later(self.store, row.id, now, row.attempts, "overridden", now)

    def _stored(self, release_id: str) -> DecisionRecord | None:
        try:
            return self.store.get_decision(release_id)
        except UserError:
            return None

    def _handle(self, row: PendingApproval) -> None:
        now = self.clock()
        stored = self._stored(row.release_id) if row.release_id is not None else None
        if stored is not None and _overridden(stored):
            # A human decided the DELAY: their decision is GitHub's answer, now.
            assert stored.override is not None
            state = "approved" if stored.decision is Decision.GO else "rejected"
            comment = (
                f"{stored.decision.value} by {stored.override.by} (overriding the agent's "
                f"{stored.override.agent_decision.value}): {stored.override.reason} "
                f"(release {stored.release_id})"
            )
            self._final(row, stored, state, comment)
            return
        try:
            request = self._request(row, now)
        except UserError as error:
            self._final(row, None, "rejected", f"release-agent cannot decide: {error}")
            return
        try:
            record = self.decide(request)
        except UserError as error:
            self._final(row, None, "rejected", f"release-agent cannot decide: {error}")
            return
        except Exception as error:
            self._failed(row, f"deciding failed: {_brief(error)}", reject=True)
            return
        extra = {"release_id": record.release_id}
        if record.decision is Decision.DELAY and not record.shadow:
            self._delay(row, record, now)
            return
        state, comment = _verdict(record, row.delays)
        log.info(
            "GitHub review of %s to %s: %s", row.repository, row.environment, state, extra=extra
        )
        self._final(row, record, state, comment)

    def _request(self, row: PendingApproval, now: datetime) -> ReleaseRequest:
        fields = json.loads(row.request_json)
        if "invalid" in fields:  # the event named what no request can hold (events.py)
            raise InvalidInput(str(fields["invalid"]))
        return parse_request({**fields, "at": now.isoformat(), "delays": row.delays})

    def _final(
        self, row: PendingApproval, record: DecisionRecord | None, state: str, comment: str
    ) -> None:
        release_id = record.release_id if record is not None else None
        try:
            self.client.review(
                row.callback_url, row.installation_id, row.environment, state, comment
            )
        except CallbackRefused as error:
            approvals.give_up(self.store, row.id, row.attempts + 1, str(error), self.clock())
            log.error(
                "GitHub review of %s to %s not sent: %s",
                row.repository,
                row.environment,
                error,
                extra={"release_id": release_id},
            )
            return
        except Retryable as error:
            self._failed(row, f"GitHub did not take the review: {error}", reject=False)
            return
        approvals.finish(self.store, row.id, release_id, self.clock())

    def _delay(self, row: PendingApproval, record: DecisionRecord, now: datetime) -> None:
        window = record.next_window or now + timedelta(hours=1)
        delays = record.request.delays + 1
        # The row first: once it is stored, the approval is sent at the window even if
        # the comment below, or this process, fails.
        approvals.reschedule(self.store, row.id, window, delays, record.release_id, now)
        comment = (
            f"DELAY: release-agent will answer at {window.isoformat()} (delay {delays}). "
            f"{_reason(record)} (release {record.release_id})"
        )
        extra = {"release_id": record.release_id}
        log.info(
            "GitHub review of %s to %s delayed until %s",
            row.repository,
            row.environment,
            window.isoformat(),
            extra=extra,
        )
        try:
            self.client.review(
                row.callback_url, row.installation_id, row.environment, None, comment
            )
        except (CallbackRefused, Retryable) as error:
            log.warning("GitHub comment on the DELAY not sent: %s", error, extra=extra)

    def _failed(self, row: PendingApproval, error: str, *, reject: bool) -> None:
        attempts = row.attempts + 1
        now = self.clock()
        if attempts < self.max_attempts:
            wait = self.retry_first * (2 ** (attempts - 1))
            approvals.retry_later(self.store, row.id, now + wait, attempts, error, now)
            log.warning(
                "GitHub review of %s to %s: %s (attempt %d of %d; again at %s)",
                row.repository,
                row.environment,
                error,
                attempts,
                self.max_attempts,
                (now + wait).isoformat(),
            )
            return
        log.error(
            "GitHub review of %s to %s given up after %d attempts: %s",
            row.repository,
            row.environment,
            attempts,
            error,
        )
        if reject:
            # Deciding kept failing: the deployment must not wait forever, nor go.
            try:
                self.client.review(
                    row.callback_url,
                    row.installation_id,
                    row.environment,
                    "rejected",
                    f"release-agent could not decide ({error}); rejected to be safe",
                )
            except (CallbackRefused, Retryable) as failure:
                log.error("GitHub rejection not sent either: %s", failure)
        approvals.give_up(self.store, row.id, attempts, error, now)


def _overridden(record: DecisionRecord | None) -> bool:
    """Whether a human overrode ``record`` to a final answer (GO or NO_GO)."""
    return (
        record is not None
        and record.override is not None
        and record.decision in (Decision.GO, Decision.NO_GO)
    )


def _reason(record: DecisionRecord) -> str:
    reason = record.reason.strip()
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def _verdict(record: DecisionRecord, delays: int) -> tuple[str, str]:
    """The review state and comment for a final decision."""
    after = f" at the window, after {delays} delay{'s' if delays != 1 else ''}" if delays else ""
    tail = f"{_reason(record)} (release {record.release_id})"
    if record.shadow:
        return "approved", f"Advice only (shadow): {record.decision.value}{after}. {tail}"
    if record.decision is Decision.GO:
        return "approved", f"GO{after}: {tail}"
    return "rejected", f"NO_GO{after}: {tail}"


def _brief(error: BaseException) -> str:
    """An error's class and first line, cut short (messages here quote no secret: the
    store scrubs its URL, the client never puts a token in one)."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
