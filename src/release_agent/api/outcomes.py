"""Outcomes by ref, for the tools that deploy (a write: the bearer token when one is set).

    POST /api/v1/outcomes           {"ref": "3f9c2e1:prod", "result": "success"}
                                    {"ref": "3f9c2e1:prod", "phase": "Failed"}   (Argo
                                    Rollouts: an AnalysisRun's phase)
    POST /api/v1/outcomes/flagger   Flagger's webhook body as it sends it, with the ref in
                                    its metadata: {"name", "namespace", "phase",
                                    "checksum", "metadata": {"ref": "..."}}

Each records the outcome of the live decision with that ref (the newest, not superseded)
and answers its record, 201. 404 when no decision has the ref; 409 when it has an outcome
already (replace one by id: ``POST /api/v1/decisions/{id}/outcome`` with ``"replace":
true``) or is a NO_GO; 422 for a result or phase that is no outcome, naming those that
are (:mod:`release_agent.integrations.outcomes`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import FastAPI, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

from ..agent import Agent
from ..domain.errors import InvalidInput
from ..domain.models import DecisionRecord, Result
from ..integrations.outcomes import PHASE_NAMES, record_by_ref, result_of_phase
from .openapi import Documenter
from .schemas import Notes, ResultChoice, any_case_pattern

API = "/api/v1"
REF_SCHEMA = "^[!-~]{1,200}$"
Ref = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=REF_SCHEMA,
        description="the ref the decision was asked with, e.g. <commit sha>:<environment>",
    ),
]


def _phase(value: str) -> str:
    # InvalidInput passes through pydantic to the API's handler: 422 naming the phases.
    result_of_phase(value)
    return value


Phase = Annotated[
    str,
    AfterValidator(_phase),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": any_case_pattern(list(PHASE_NAMES)),
            "description": f"a finished rollout's phase: {', '.join(PHASE_NAMES)} (any case)",
        },
        mode="validation",
    ),
]
K8S_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"


class OutcomeByRef(BaseModel):
    """What happened to the release with ``ref``: a ``result``, or a ``phase``."""

    # Exactly one of result and phase: the document says so, and outcome() checks it.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["result"]}, {"required": ["phase"]}]},
    )

    ref: Ref
    # Not Optional: the document says a given value is a result (or a phase), never null;
    # left out, it is None.
    result: ResultChoice = Field(default=None)  # type: ignore[assignment]
    phase: Phase = Field(  # type: ignore[assignment]
        default=None,
        description="instead of result: Successful -> success; Failed, Error -> "
        "rolled_back (Argo Rollouts' AnalysisRun phases; Flagger's Succeeded too)",
    )
    notes: Notes | None = None

    @field_validator("result", "phase", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Left out is fine (the other one is given); null is not a result or a phase.
        if value is None:
            raise ValueError("leave it out rather than null")
        return value

    def outcome(self) -> Result:
        """The result given, or the one the phase means. Raises InvalidInput naming
        ``result`` when neither or both are given, ``phase`` for a phase that is no
        outcome."""
        if (self.result is None) == (self.phase is None):
            raise InvalidInput(
                "give either result or phase (an Argo Rollouts AnalysisRun phase), not "
                + ("both" if self.result is not None else "neither"),
                field="result",
                allowed=[r.value for r in Result],
            )
        return self.result if self.result is not None else result_of_phase(self.phase or "")


class FlaggerMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    ref: Ref


class FlaggerEvent(BaseModel):
    """Flagger's webhook body (post-rollout or event webhooks); the canary's webhook
    ``metadata`` carries the ``ref``."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=K8S_NAME, description="the canary's name")
    namespace: str = Field(pattern=K8S_NAME)
    phase: Phase
    checksum: str | None = Field(default=None, max_length=200)
    metadata: FlaggerMetadata


def install(
    app: FastAPI,
    agent: Agent,
    doc: Documenter,
    write_lock: threading.Lock,
    recorded_hook: Callable[[DecisionRecord], None],
) -> None:
    """Add the two routes; ``recorded_hook`` is called with each record updated (the
    app counts, notifies and wakes its learner)."""

    def record(release_id: str, result: Result, notes: str | None) -> object:
        with write_lock:
            return agent.record_outcome(release_id, result, notes)

    def recorded(ref: str, result: Result, notes: str | None) -> DecisionRecord:
        updated = record_by_ref(agent.store, ref, result, notes, record)
        recorded_hook(updated)
        return updated

    answers = {201: {"description": "The outcome, recorded"}, **doc.fails(404, 409, 422, 503)}

    @app.post(f"{API}/outcomes", status_code=201, tags=["decisions"], responses=answers)
    def outcome_by_ref(body: OutcomeByRef, response: Response) -> DecisionRecord:
        """Record what happened to the release asked about with ``ref``; answers the
        updated record."""
        updated = recorded(body.ref, body.outcome(), body.notes)
        response.headers["Location"] = f"{API}/decisions/{updated.release_id}"
        return updated

    @app.post(f"{API}/outcomes/flagger", status_code=201, tags=["decisions"], responses=answers)
    def outcome_from_flagger(body: FlaggerEvent, response: Response) -> DecisionRecord:
        """Record a Flagger canary's end (phase Succeeded or Failed) for the ref in its
        webhook's metadata."""
        notes = f"Flagger canary {body.namespace}/{body.name}: {body.phase}"
        updated = recorded(body.metadata.ref, result_of_phase(body.phase), notes)
        response.headers["Location"] = f"{API}/decisions/{updated.release_id}"
        return updated
