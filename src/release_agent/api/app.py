"""The HTTP API and the console, one FastAPI app over one Agent.

    app = create_app(db_url="sqlite:///release-agent.db")     # or create_app(factory)
    uvicorn.run(app, host="127.0.0.1", port=8000)

Endpoints (all JSON; writes are POSTs and need the bearer token when one is set):

    POST /api/v1/decisions                   decide on a release request   -> 201 record
                                             (a ref decided already        -> 200 stored)
    GET  /api/v1/decisions/{id}              one decision record (id or unique prefix)
    GET  /api/v1/decisions?service=&decision=&limit=&before=&ref=   newest first
    POST /api/v1/decisions/{id}/outcome      record what happened          -> 201 record
    POST /api/v1/decisions/{id}/override     a human overrules it          -> 201 record
    GET  /api/v1/heuristics                  every heuristic with its evidence
    POST /api/v1/learn                       learn from memory now         -> the report
    GET  /api/v1/scenarios                   the built-in scenarios
    POST /api/v1/scenarios/{id}/run          decide on a scenario          -> 201 record
    GET  /api/v1/episodes?limit=             episodes with their narrative (imported too)
    GET  /api/v1/calendar?from=&to=&env=     the change calendar (also calendar.ics)
    POST /api/v1/calendar/{id}/cancel        free the slot of a release that did not go
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
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ..agent import Agent
from ..domain.errors import Conflict, StoreError
from ..domain.models import MAX_REF, DecisionRecord, ReleaseRequest
from ..domain.policy import Policy, load_policy
from ..domain.scenarios import SCENARIOS
from ..domain.scenarios import get as get_scenario
from ..integrations.github.config import GitHubSettings
from ..integrations.observer import Observer
from ..learn.worker import LearningWorker, LearnSettings
from ..memory.store import Store
from ..reasoners.base import Reasoner
from . import calendar as calendar_api
from . import errors, scopes
from . import github as github_api
from . import outcomes as outcomes_api
from . import overrides as overrides_api
from .auth import check_token_value
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
from .tokens import TokenBook, book_from_env

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
    learning: LearnSettings | None = None,
    tokens: TokenBook | None = None,
    github: GitHubSettings | None = None,
    github_clock: Callable[[], datetime] | None = None,
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

    ``learning``: run a background learner (:mod:`release_agent.learn.worker`) while the
    app is up, started and stopped with it; an outcome recorded here wakes it at once.
    Over one database only one learner runs at a time, whatever the number of apps.

    ``github`` (default: the RELEASE_AGENT_GITHUB_* environment) configures the GitHub
    deployment protection rule (:mod:`.github`); its reviewer thread runs while the app
    is up, reading the time from ``github_clock`` (default: the system's).

    ``tokens``: every token accepted, with the teams each may write for (default:
    ``token`` as admin, RELEASE_AGENT_API_TOKENS and RELEASE_AGENT_TOKENS_FILE; see
    :mod:`.tokens`). A team's token writing for another team is refused (403,
    :mod:`.scopes`).
    """
    secret = check_token_value(token, "token") if token else None
    book = tokens if tokens is not None else book_from_env(secret)
    if agent_factory is not None:
        agent = agent_factory()
    else:
        agent = Agent(Store.open(db_url), policy or load_policy(), reasoner)
    observer = Observer.for_policy(agent.policy)
    learner = None
    if learning is not None:
        cadence = learning.cadence(agent.policy.settings.extract_every)
        learner = LearningWorker(agent, cadence, learning.poll_seconds)
    write_lock = threading.Lock()
    doc = Documenter(loopback=not book.configured)

    def outcome_recorded(record: DecisionRecord) -> None:
        observer.recorded(record)
        if learner is not None:
            learner.nudge()

    github_hub = github_api.hub_for(
        agent, observer, write_lock, github, github_clock, outcome_recorded
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if learner is not None:
            learner.start()
        github_hub.start()  # takes up the reviews pending in the database at once
        yield
        github_hub.stop()
        if learner is not None:
            learner.stop()  # a run in progress finishes first
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
    app.state.learner = learner
    app.state.github = github_hub
    app.state.auth = book.configured
    errors.install(app, SECURITY_HEADERS)
    scopes.install(app, agent.store)  # a team's token writes for its teams only
    app.add_middleware(Guard, token=secret, signed=frozenset({github_api.WEBHOOK}), tokens=book)
    doc.install(app)

    def decided(request: ReleaseRequest, response: Response) -> DecisionRecord:
        with write_lock:
            answer = observer.answer(agent, request)
        record = answer.record
        response.headers["Location"] = f"{API}/decisions/{record.release_id}"
        if answer.replayed:
            response.status_code = 200  # the stored decision of the ref: nothing new
        return record

    created = {"description": "The decision, stored", "headers": LOCATION}

    # -- decisions -------------------------------------------------------------------

    @app.post(
        f"{API}/decisions",
        status_code=201,
        tags=["decisions"],
        responses={
            200: {
                "model": DecisionRecord,
                "description": "The stored decision of the ref, nothing decided",
                "headers": LOCATION,
            },
            201: created,
            **doc.fails(409, 422, 503),
        },
    )
    def decide(body: DecisionBody, response: Response) -> DecisionRecord:
        """Decide on a release request; the record is stored before it is returned.

        A ``ref`` already decided answers its stored decision with 200 (nothing decided
        again) unless ``delays`` is higher: then a new decision supersedes it (201). 409
        when the ref was decided for another service or environment."""
        zone = agent.policy.for_team(body.team).settings.zone  # "now" on the team's clock
        return decided(body.to_request(zone), response)

    @app.get(f"{API}/decisions", tags=["decisions"], responses=doc.fails(404, 422, 503))
    def history(
        service: Annotated[str | None, Query(max_length=100)] = None,
        decision: Annotated[DecisionChoice | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        before: Annotated[str | None, Query(max_length=100)] = None,
        team: Annotated[str | None, Query(max_length=100)] = None,
        ref: Annotated[str | None, Query(max_length=MAX_REF)] = None,
    ) -> DecisionPage:
        """Decisions newest first. ``next`` is the ``before`` of the following page, or
        null on the last page; 404 when ``before`` names no decision. ``team``: only that
        team's. ``ref``: only the decisions of that ref (superseded ones too)."""
        records = agent.history(
            service=service, decision=decision, limit=limit + 1, before=before, team=team, ref=ref
        )
        page = records[:limit]
        more = len(records) > limit
        return DecisionPage(items=page, next=page[-1].release_id if more else None)

    @app.get(f"{API}/decisions/{{release_id}}", tags=["decisions"], responses=doc.fails(404, 503))
    def get_decision(release_id: str) -> DecisionRecord:
        """One decision record with its outcome, if any. ``release_id`` may be a unique
        prefix of the id (6 characters or more); 404 for an unknown id, and for an
        ambiguous prefix (the message says how many decisions it starts)."""
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
        ``replace`` is true (then 200), and for a NO_GO (override it first).
        """
        with write_lock:
            had = agent.get(release_id).outcome is not None
            try:
                agent.record_outcome(release_id, body.result, body.notes, replace=body.replace)
            except Conflict as error:
                if not had:  # a NO_GO: its message says to override it first
                    raise
                raise Conflict(
                    f"decision {release_id} already has an outcome; "
                    'send "replace": true to overwrite it',
                    field=error.field,
                ) from None
            record = agent.get(release_id)
        observer.recorded(record)
        if learner is not None:
            learner.nudge()
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
    def episodes(
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        team: Annotated[str | None, Query(max_length=100)] = None,
    ) -> EpisodeList:
        """Episodes newest first, imported ones too, each with its narrative summary;
        ``team``: only that team's."""
        found = agent.store.list_episodes(limit, team=team)
        return EpisodeList(items=[EpisodeView.of(e) for e in found])

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

    calendar_api.install(app, agent, doc, write_lock)
    overrides_api.install(app, agent, observer, doc, write_lock)
    outcomes_api.install(app, agent, doc, write_lock, outcome_recorded)
    github_api.install(app, github_hub)
    app.include_router(observer.router())
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
