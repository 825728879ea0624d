"""``POST /api/v1/decisions/{id}/override``: a human overrules a decision.

Answers 201 with the updated record (its ``decision`` the human's, ``override`` who,
why and what the agent said); 422 for a bad field, 404 for an unknown id (or an
ambiguous prefix), 409 when it may not be overridden: an outcome is recorded already,
it was superseded, it is that decision already, or a GO would open a freeze and the
policy does not allow break-glass overrides. The ``override`` webhook event is sent.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI, Response

from ..agent import Agent
from ..domain.models import DecisionRecord
from ..integrations.observer import Observer
from .openapi import Documenter
from .schemas import OverrideBody

API = "/api/v1"


def install(
    app: FastAPI,
    agent: Agent,
    observer: Observer,
    doc: Documenter,
    write_lock: threading.Lock,
) -> None:
    """Add the route."""

    @app.post(
        f"{API}/decisions/{{release_id}}/override",
        status_code=201,
        tags=["decisions"],
        responses={
            201: {"description": "The override, recorded in the audit log"},
            **doc.fails(404, 409, 422, 503),
        },
    )
    def override(release_id: str, body: OverrideBody, response: Response) -> DecisionRecord:
        """Overrule the decision ``release_id`` (or a unique prefix of its id): the record
        keeps the agent's decision and takes the human's; the audit log keeps every
        override. A GO inside a freeze needs the policy's ``allow_freeze_override`` and is
        then marked ``break_glass``."""
        with write_lock:
            record = agent.override(release_id, body.decision, body.by, body.reason)
        observer.overridden(record)
        response.headers["Location"] = f"{API}/decisions/{record.release_id}"
        return record
