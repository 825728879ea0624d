"""What the API hands a GitHub webhook to: checked, taken once, and acted on.

    hub = GitHubHub.build(settings, github_policy, store, decide, record, recorded)
    receipt = hub.receive(event, delivery, body, signature)   # the route's whole work
    hub.start() / hub.stop()                                   # the reviewer thread

- The signature is checked first (401 otherwise); without a configured secret nothing
  is accepted at all (the route answers 404).
- ``ping`` and events this integration does not read are answered and ignored.
- ``deployment_protection_rule``: the delivery id is taken and the review stored as due
  now, in one transaction; the reviewer thread is woken and the route answers 202 at
  once. A delivery id taken before does nothing (200, ``duplicate``).
- ``deployment_status``: success, failure or error records the outcome of the decision
  with the ref ``<sha>:<environment>``; other states, unknown refs and decisions with an
  outcome already are answered 200 and ignored, saying so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ...domain.errors import Conflict, InvalidInput, NotFound, UserError
from ...domain.models import DecisionRecord, ReleaseRequest, Result
from ...memory import approvals
from ...memory.approvals import NewApproval
from ...memory.store import Store
from ..outcomes import record_by_ref
from . import events, signature
from .auth import credentials_for
from .client import ReviewClient
from .config import SECRET_ENV, GitHubPolicy, GitHubSettings
from .reviewer import Reviewer

log = logging.getLogger("release_agent.github")

PROTECTION = "deployment_protection_rule"
STATUS = "deployment_status"
MAX_DELIVERY = 100


class BadSignature(UserError):
    """The webhook's signature is missing or wrong (HTTP 401)."""


class Disabled(UserError):
    """No webhook secret is configured: the endpoint accepts nothing (HTTP 404)."""


@dataclass(frozen=True)
class Receipt:
    """What the route answers: an HTTP status and a short account."""

    status_code: int
    status: str
    """accepted, duplicate, recorded, ignored or pong."""
    detail: str
    release_id: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class GitHubHub:
    """See the module."""

    def __init__(
        self,
        settings: GitHubSettings,
        policy: GitHubPolicy,
        store: Store,
        reviewer: Reviewer | None,
        record: Callable[[str, Result, str | None], object],
        recorded: Callable[[DecisionRecord], None],
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.store = store
        self.reviewer = reviewer
        self._record = record
        self._recorded = recorded
        self.clock = clock

    @classmethod
    def build(
        cls,
        settings: GitHubSettings,
        policy: GitHubPolicy,
        store: Store,
        decide: Callable[[ReleaseRequest], DecisionRecord],
        record: Callable[[str, Result, str | None], object],
        recorded: Callable[[DecisionRecord], None],
        *,
        clock: Callable[[], datetime] = _now,
        counted: Callable[[int], None] | None = None,
        client: ReviewClient | None = None,
    ) -> GitHubHub:
        """A hub with its reviewer (only when webhooks are enabled). Raises InvalidInput
        for an App private key that cannot be read."""
        reviewer = None
        if settings.enabled:
            if client is None:
                # Tokens and JWTs live in GitHub's time, the real one, whatever ``clock``.
                client = ReviewClient(settings, credentials_for(settings, _now))
            reviewer = Reviewer(store, decide, client, clock=clock, counted=counted)
        return cls(settings, policy, store, reviewer, record, recorded, clock=clock)

    def start(self) -> None:
        if self.reviewer is not None:
            self.reviewer.start()

    def stop(self) -> None:
        if self.reviewer is not None:
            self.reviewer.stop()

    def receive(
        self, event: str | None, delivery: str | None, body: bytes, signed: str | None
    ) -> Receipt:
        """Check and act on one delivery (see the module). Raises Disabled, BadSignature,
        or InvalidInput naming the header or payload field at fault (nothing stored)."""
        secret = self.settings.webhook_secret
        if secret is None:
            raise Disabled(
                f"the GitHub integration is off: set {SECRET_ENV} to the webhook secret",
                field="github",
            )
        if not signature.verify(secret, body, signed):
            raise BadSignature(
                "the X-Hub-Signature-256 header is missing or does not match the body "
                "(is the webhook secret the same on both sides?)",
                field="x-hub-signature-256",
            )
        if event is None or not event.strip():
            raise InvalidInput("is required", field="x-github-event")
        if event == "ping":
            return Receipt(200, "pong", "the webhook reaches release-agent")
        if event not in (PROTECTION, STATUS):
            return Receipt(200, "ignored", f"release-agent does not act on {event[:60]} events")
        if delivery is None or not 1 <= len(delivery.strip()) <= MAX_DELIVERY:
            raise InvalidInput(
                f"is required: 1-{MAX_DELIVERY} characters, as GitHub sends",
                field="x-github-delivery",
            )
        delivery = delivery.strip()
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidInput("is not JSON", field="payload") from None
        if event == PROTECTION:
            return self._protection(delivery, payload)
        return self._status(delivery, payload)

    def _protection(self, delivery: str, payload: object) -> Receipt:
        found = events.parse(events.ProtectionRuleEvent, payload)
        if found.action not in (None, "requested"):
            return Receipt(200, "ignored", f"action {found.action[:40]!r} asks for no review")
        try:
            fields = events.request_fields(found, self.policy)
        except InvalidInput as error:
            # Still reviewed (rejected, saying why): the deployment must not wait forever.
            fields = {"invalid": str(error)}
        new = NewApproval(
            delivery_id=delivery,
            ref=found.ref,
            repository=found.repository.full_name,
            environment=found.environment,
            installation_id=found.installation.id if found.installation else None,
            callback_url=found.deployment_callback_url,
            request_json=json.dumps(fields, sort_keys=True),
        )
        now = self.clock()
        with self.store.transaction() as conn:
            fresh = approvals.take_delivery(conn, delivery, PROTECTION, now)
            if fresh:
                approvals.add_pending(conn, new, now)
        if not fresh:
            return Receipt(200, "duplicate", f"delivery {delivery} was taken already")
        if self.reviewer is not None:
            self.reviewer.wake()
        log.info("GitHub asks for a review of %s to %s", new.repository, new.environment)
        return Receipt(202, "accepted", f"deciding {new.ref} in the background")

    def _status(self, delivery: str, payload: object) -> Receipt:
        found = events.parse(events.DeploymentStatusEvent, payload)
        if approvals.delivery_taken(self.store, delivery):
            return Receipt(200, "duplicate", f"delivery {delivery} was taken already")
        state = found.deployment_status.state
        result = events.status_result(state, self.policy)
        receipt: Receipt
        if result is None:
            receipt = Receipt(200, "ignored", f"state {state[:32]!r} is no outcome yet")
        else:
            try:
                record = record_by_ref(self.store, found.ref, result, None, self._record)
            except (NotFound, Conflict) as error:
                receipt = Receipt(200, "ignored", str(error))
            else:
                self._recorded(record)
                receipt = Receipt(
                    200, "recorded", f"{result.value} for {found.ref}", record.release_id
                )
        with self.store.transaction() as conn:
            approvals.take_delivery(conn, delivery, STATUS, self.clock())
        return receipt
