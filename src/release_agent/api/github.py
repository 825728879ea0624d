"""``POST /integrations/github/webhook``: GitHub's deployment protection rule and
deployment statuses (see :mod:`release_agent.integrations.github`).

The route reads the raw body (the signature is over its exact bytes), hands it to the
hub and answers at once: 202 when a review is to be decided in the background, 200 for a
ping, a duplicate, a recorded or an ignored event; 401 for a missing or wrong signature;
404 while no webhook secret is configured (nothing is accepted then); 422 for a payload
that lacks what the event needs. It needs no bearer token: its signature is its
authentication (the guard lets it through, see :data:`WEBHOOK`). It is left out of the
OpenAPI document, which describes the JSON API for its clients, not GitHub's deliveries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..agent import Agent
from ..domain.models import DecisionRecord, ReleaseRequest, Result
from ..integrations.github.config import GitHubSettings, load_github_policy
from ..integrations.github.hub import BadSignature, Disabled, GitHubHub
from ..integrations.observer import Observer
from .auth import Unauthorized
from .errors import problem

WEBHOOK = "/integrations/github/webhook"


class WebhookReceipt(BaseModel):
    status: str
    detail: str
    release_id: str | None = None


def hub_for(
    agent: Agent,
    observer: Observer,
    write_lock: threading.Lock,
    settings: GitHubSettings | None,
    clock: Callable[[], datetime] | None,
    recorded: Callable[[DecisionRecord], None],
) -> GitHubHub:
    """The app's GitHub hub: ``settings`` (default: the environment), the policy file's
    ``[github]`` table, decisions through the observer under the app's write lock."""

    def decide(request: ReleaseRequest) -> DecisionRecord:
        with write_lock:
            return observer.decide(agent, request)

    def record(release_id: str, result: Result, notes: str | None) -> object:
        with write_lock:
            return agent.record_outcome(release_id, result, notes)

    options = {} if clock is None else {"clock": clock}
    return GitHubHub.build(
        settings if settings is not None else GitHubSettings.from_env(),
        load_github_policy(agent.policy.source),
        agent.store,
        decide,
        record,
        recorded,
        counted=observer.metrics.pending,
        **options,  # type: ignore[arg-type]
    )


def install(app: FastAPI, hub: GitHubHub) -> None:
    """Add the webhook route over ``hub``."""

    @app.post(WEBHOOK, include_in_schema=False)
    async def github_webhook(request: Request) -> JSONResponse:
        body = await request.body()
        headers = request.headers
        try:
            # In the threadpool: taking a delivery writes to the database.
            receipt = await run_in_threadpool(
                hub.receive,
                headers.get("x-github-event"),
                headers.get("x-github-delivery"),
                body,
                headers.get("x-hub-signature-256"),
            )
        except BadSignature as error:
            raise Unauthorized(error.message, field=error.field) from None
        except Disabled as error:
            return problem(404, error.message, error.field)
        answer = WebhookReceipt(
            status=receipt.status, detail=receipt.detail, release_id=receipt.release_id
        )
        return JSONResponse(answer.model_dump(), status_code=receipt.status_code)
