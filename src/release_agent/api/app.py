"""The HTTP API and the console, one FastAPI app over one Agent.

    app = create_app(db_url="sqlite:///release-agent.db")     # or create_app(factory)
    uvicorn.run(app, host="127.0.0.1", port=8000)

Endpoints (all JSON; writes are POSTs and need the bearer token when one is set):

    POST /api/v1/decisions                   decide on a release request   -> 201 record
    GET  /api/v1/decisions/{id}              one decision record
    GET  /api/v1/decisions?service=&decision=&limit=&before=   newest first, {items, next}
    POST /api/v1/decisions/{id}/outcome      record what happened          -> 201 record
    GET  /api/v1/heuristics                  every heuristic with its evidence
    POST /api/v1/learn                       learn from memory now         -> the report
    GET  /api/v1/scenarios                   the built-in scenarios
    POST /api/v1/scenarios/{id}/run          decide on a scenario          -> 201 record
    GET  /api/v1/episodes?limit=             episodes with their narrative (imported too)
    GET  /healthz                            the store answers; is auth on
    GET  /metrics                            Prometheus metrics (integrations.metrics)
    GET  /openapi.json, GET /                the OpenAPI document, the console

With a token set, every request that is not a read (GET, HEAD, OPTIONS) must carry it;
without one, only requests addressed to a loopback name are answered. Bodies are capped at
1 MiB. Every answer has a typed model, every error the shape of ``errors``, and the OpenAPI
document lists them all (``openapi``). Handlers are plain functions, so FastAPI runs them
in its threadpool; one lock serializes every write through the Agent (a decision may
trigger learning, and the Agent caches its risk model), so no two writes interleave.
Nothing is written when a request fails.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ..agent import Agent
from ..domain.errors import Conflict, StoreError
from ..domain.models import DecisionRecord, ReleaseRequest
from ..domain.policy import Policy, load_policy
from ..domain.scenarios import SCENARIOS
from ..domain.scenarios import get as get_scenario
from ..integrations.observer import Observer
from ..memory.store import Store
from ..reasoners.base import Reasoner
from . import errors
from .auth import check_token_value, token_from_env
from .bodies import JsonRoute
from .guard import SECURITY_HEADERS, Guard
from .openapi import LOCATION, Documenter
from .responses import (
    DecisionPage,
    EpisodeList,
    EpisodeView,
    Health,
    HeuristicList,
    HeuristicView,
    LearnReportView,
    ScenarioList,
    ScenarioView,
)
from .schemas import DecisionBody, DecisionChoice, OutcomeBody

API = "/api/v1"
STATIC = Path(__file__).parent / "static"
MAX_PAGE = 200


def _version() -> str:
    try:
        return metadata.version("release-agent")
    except metadata.PackageNotFoundError:
        return "unknown"


def create_app(
    agent_factory: Callable[[], Agent] | None = None,
    *,
    db_url: str | None = None,
    policy: Policy | None = None,
    reasoner: Reasoner | None = None,
    token: str | None = None,
) -> FastAPI:
    """The app over one Agent: ``agent_factory()`` if given, else one over ``db_url``
    (default: RELEASE_AGENT_DB or the data directory), ``policy`` (default: the policy
    file) and ``reasoner`` (default: built-in).

    ``token`` (default: RELEASE_AGENT_API_TOKEN) is the bearer token every write needs;
    without one, writes are open, the app answers only requests addressed to a loopback
    name, and the caller must bind to loopback (``check_bind``). The token and the agent
    are checked at once, so a short token, a bad database or a bad policy raises here
    (UserError or StoreError), before anything listens. Use a file database, not
    ``:memory:``: the threadpool's threads would each see a different in-memory database.
    """
    secret = check_token_value(token, "token") if token else token_from_env()
    if agent_factory is not None:
        agent = agent_factory()
    else:
        agent = Agent(Store.open(db_url), policy or load_policy(), reasoner)
    observer = Observer.for_policy(agent.policy)
    write_lock = threading.Lock()
    doc = Documenter(loopback=secret is None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        observer.close()
        agent.store.close()

    app = FastAPI(
        title="release-agent",
        version=_version(),
        description="May this release go to production now? GO, NO_GO or DELAY, with why.",
        docs_url=None,  # the hosted UIs load scripts from a CDN; /openapi.json stays
        redoc_url=None,
        lifespan=lifespan,
    )
    app.router.route_class = JsonRoute
    app.state.agent = agent
    app.state.observer = observer
    app.state.auth = secret is not None
    errors.install(app, SECURITY_HEADERS)
    app.add_middleware(Guard, token=secret)
    doc.install(app)

    def decided(request: ReleaseRequest, response: Response) -> DecisionRecord:
        with write_lock:
            record = observer.decide(agent, request)
        response.headers["Location"] = f"{API}/decisions/{record.release_id}"
        return record

    created = {"description": "The decision, stored", "headers": LOCATION}

    # -- decisions -------------------------------------------------------------------

    @app.post(
        f"{API}/decisions",
        status_code=201,
        tags=["decisions"],
        responses={201: created, **doc.fails(422, 503)},
    )
    def decide(body: DecisionBody, response: Response) -> DecisionRecord:
        """Decide on a release request; the record is stored before it is returned."""
        return decided(body.to_request(), response)

    @app.get(f"{API}/decisions", tags=["decisions"], responses=doc.fails(404, 422, 503))
    def history(
        service: Annotated[str | None, Query(max_length=100)] = None,
        decision: Annotated[DecisionChoice | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        before: Annotated[str | None, Query(max_length=100)] = None,
    ) -> DecisionPage:
        """Decisions newest first. ``next`` is the ``before`` of the following page, or
        null on the last page; 404 when ``before`` names no decision."""
        records = agent.history(service=service, decision=decision, limit=limit + 1, before=before)
        page = records[:limit]
        more = len(records) > limit
        return DecisionPage(items=page, next=page[-1].release_id if more else None)

    @app.get(f"{API}/decisions/{{release_id}}", tags=["decisions"], responses=doc.fails(404, 503))
    def get_decision(release_id: str) -> DecisionRecord:
        """One decision record with its outcome, if any (404 for an unknown id)."""
        return agent.get(release_id)

    @app.post(
        f"{API}/decisions/{{release_id}}/outcome",
        status_code=201,
        tags=["decisions"],
        responses={
            200: {"model": DecisionRecord, "description": "The outcome, replaced"},
            201: {"description": "The outcome, recorded"},
            **doc.fails(404, 409, 422, 503),
        },
    )
    def record_outcome(release_id: str, body: OutcomeBody, response: Response) -> DecisionRecord:
        """Record what happened after the deploy; answers the updated record.

        404 for an unknown id; 409 when an outcome is recorded already, unless
        ``replace`` is true (then 200).
        """
        with write_lock:
            had = agent.get(release_id).outcome is not None
            try:
                agent.record_outcome(release_id, body.result, body.notes, replace=body.replace)
            except Conflict as error:
                raise Conflict(
                    f"decision {release_id} already has an outcome; "
                    'send "replace": true to overwrite it',
                    field=error.field,
                ) from None
            record = agent.get(release_id)
        observer.recorded(record)
        if had:
            response.status_code = 200
        return record

    # -- learning ----------------------------------------------------------------------

    @app.get(f"{API}/heuristics", tags=["learning"], responses=doc.fails(503))
    def heuristics() -> HeuristicList:
        """Every heuristic (active, retired, rejected) with its evidence."""
        return HeuristicList(items=[HeuristicView.of(h) for h in agent.store.list_heuristics()])

    @app.post(f"{API}/learn", tags=["learning"], responses=doc.fails(409, 503))
    def learn() -> LearnReportView:
        """Learn from the outcomes in memory now; answers what changed."""
        with write_lock:
            report = observer.learn(agent)
        return LearnReportView.model_validate(report.to_dict())

    @app.get(f"{API}/episodes", tags=["learning"], responses=doc.fails(422, 503))
    def episodes(limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> EpisodeList:
        """Episodes newest first, imported ones too, each with its narrative summary."""
        return EpisodeList(items=[EpisodeView.of(e) for e in agent.store.list_episodes(limit)])

    # -- scenarios -----------------------------------------------------------------------

    @app.get(f"{API}/scenarios", tags=["scenarios"], responses=doc.fails())
    def list_scenarios() -> ScenarioList:
        """The built-in scenarios, each with the request it makes."""
        return ScenarioList(items=[ScenarioView.of(s) for s in SCENARIOS])

    @app.post(
        f"{API}/scenarios/{{scenario_id}}/run",
        status_code=201,
        tags=["scenarios"],
        responses={201: created, **doc.fails(404, 503)},
    )
    def run_scenario(scenario_id: str, response: Response) -> DecisionRecord:
        """Decide on a scenario's request; stored like any decision (404 lists the ids)."""
        return decided(get_scenario(scenario_id).request, response)

    # -- service ---------------------------------------------------------------------------

    unavailable = {
        "model": Health,
        "description": "The store does not answer",
        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
    }

    @app.get("/healthz", tags=["service"], responses={503: unavailable, **doc.fails()})
    def healthz(response: Response) -> Health:
        """``ok`` when the store answers (503 otherwise); ``auth`` says whether writes
        need a token."""
        auth, version = app.state.auth, _version()
        try:
            count = agent.store.count_decisions()
        except StoreError:
            response.status_code = 503
            response.headers["Retry-After"] = str(errors.RETRY_AFTER)
            return Health(status="unavailable", auth=auth, version=version)
        return Health(status="ok", auth=auth, version=version, decisions=count)

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.include_router(observer.router())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
