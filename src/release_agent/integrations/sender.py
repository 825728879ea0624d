"""Webhook delivery in the background: a decision never waits for a webhook.

    sender = Sender(targets)        # starts one daemon thread
    sender.decided(record)          # queues what the targets listen for; returns at once
    sender.outcome(record)          # an incident, if the outcome is one
    sender.overridden(record)       # a human override
    sender.close()                  # delivers what is queued (up to a limit), then stops

The queue is bounded (:data:`QUEUE_SIZE`): when it is full a message is dropped and
counted, rather than holding up a decision. Each message is POSTed with its target's
timeout; a timeout, a refused connection, a 5xx or a 429 answer is tried again up to the
target's ``retries`` times, waiting :data:`BACKOFF` seconds and then twice as long each
time. Logs name a target by its index and host, never its URL (a webhook's URL is its
key), and carry the release id.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..domain.models import DecisionRecord, Result
from .notify import NotifyTarget, event_of, payload

log = logging.getLogger("release_agent.notify")

QUEUE_SIZE = 1000
BACKOFF = 0.5
"""Seconds before the first retry; each further retry waits twice as long."""
CLOSE_SECONDS = 10.0
USER_AGENT = "release-agent-notify"


@dataclass(frozen=True)
class _Message:
    index: int
    target: NotifyTarget
    event: str
    release_id: str
    body: bytes


class _Retry(Exception):
    """An attempt failed in a way that another attempt may fix."""


class Sender:
    """Sends the targets' events from one background thread (see the module)."""

    def __init__(
        self,
        targets: tuple[NotifyTarget, ...],
        *,
        backoff: float = BACKOFF,
        queue_size: int = QUEUE_SIZE,
        settled: Callable[[str], None] | None = None,
    ) -> None:
        """``settled`` is called with each message's fate (sent, failed, dropped)."""
        self.targets = targets
        self._settled = settled
        self.backoff = backoff
        self.counts: Counter[str] = Counter()
        """Messages by what became of them: sent, failed, dropped."""
        self._counting = threading.Lock()
        self._queue: queue.Queue[_Message | None] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if targets:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()

    def decided(self, record: DecisionRecord) -> None:
        """Queue the new decision for the targets that listen for its result."""
        self._send(event_of(record), record)

    def overridden(self, record: DecisionRecord) -> None:
        """Queue the ``override`` event for the targets that listen for it."""
        if record.override is not None:
            self._send("override", record)

    def outcome(self, record: DecisionRecord) -> None:
        """Queue an incident for the targets that listen for one, if ``record``'s outcome
        is an incident; other outcomes are not sent."""
        if record.outcome is not None and record.outcome.result is Result.incident:
            self._send("incident", record)

    def _send(self, event: str, record: DecisionRecord) -> None:
        for index, target in enumerate(self.targets):
            if event not in target.on:
                continue
            body = json.dumps(payload(event, record, target.format)).encode()
            message = _Message(index, target, event, record.release_id, body)
            try:
                self._queue.put_nowait(message)
            except queue.Full:
                self._count("dropped")
                log.warning(
                    "notify[%d] (%s): queue full, %s not sent",
                    index,
                    target.host,
                    event,
                    extra={"release_id": record.release_id},
                )

    def _count(self, fate: str) -> None:
        with self._counting:
            self.counts[fate] += 1
        if self._settled is not None:
            self._settled(fate)

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued message to be settled (sent or
        given up); True when they were."""
        done = threading.Event()

        def join() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=join, daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float = CLOSE_SECONDS) -> None:
        """Deliver what is queued for up to ``timeout`` seconds, then stop the thread
        (retries still pending are given up)."""
        if self._thread is None:
            return
        self.drain(timeout)
        self._stop.set()
        # When the queue is full, the thread sees the stop flag after its current message.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                self._queue.task_done()
                return
            try:
                self._deliver(message)
            except Exception as error:  # a bug here must not end delivery for later messages
                self._count("failed")
                # Not the traceback: an error from urllib may quote the URL, the webhook's key.
                log.error(
                    "notify[%d] (%s): %s not sent: %s",
                    message.index,
                    message.target.host,
                    message.event,
                    type(error).__name__,
                    extra={"release_id": message.release_id},
                )
            finally:
                self._queue.task_done()
            if self._stop.is_set():
                return

    def _deliver(self, message: _Message) -> None:
        target, wait = message.target, self.backoff
        where = f"notify[{message.index}] ({target.host})"
        extra = {"release_id": message.release_id}
        for attempt in range(target.retries + 1):
            try:
                _post(target, message.body)
            except _Retry as error:
                last = attempt == target.retries
                log.warning(
                    "%s: %s %s (attempt %d of %d)%s",
                    where,
                    message.event,
                    error,
                    attempt + 1,
                    target.retries + 1,
                    "; giving up" if last else "",
                    extra=extra,
                )
                if last or self._stop.wait(wait):
                    break
                wait *= 2
            except _Refused as error:
                log.warning("%s: %s %s; not retried", where, message.event, error, extra=extra)
                break
            else:
                self._count("sent")
                log.info("%s: sent %s", where, message.event, extra=extra)
                return
        self._count("failed")


class _Refused(Exception):
    """The webhook answered that the request itself is wrong (a 4xx): retrying won't help."""


def _post(target: NotifyTarget, body: bytes) -> None:
    """POST ``body`` as JSON to the target. Raises _Retry or _Refused with a reason that
    does not quote the URL."""
    request = urllib.request.Request(
        target.url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=target.timeout) as answer:
            answer.read()
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
        if status >= 500 or status in (408, 429):
            raise _Retry(f"answered {status}") from None
        raise _Refused(f"answered {status}") from None
    except TimeoutError:
        raise _Retry(f"timed out after {target.timeout:g}s") from None
    except (urllib.error.URLError, OSError) as error:
        reason: Any = getattr(error, "reason", error)
        # A reason names the failure (refused, timed out), never the URL.
        if isinstance(reason, TimeoutError):
            raise _Retry(f"timed out after {target.timeout:g}s") from None
        raise _Retry(f"could not connect: {type(reason).__name__}") from None
