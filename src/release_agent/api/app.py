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
    GET  /openapi.json, GET /                the OpenAPI document, the console

With a token set, every request that is not a read (GET, HEAD, OPTIONS) must carry it.
Handlers are plain functions, so FastAPI runs them in its threadpool; one lock serializes
every write through the Agent (a decision may trigger learning, and the Agent caches its
risk model), so no two writes interleave. Nothing is written when a request fails.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ..agent import Agent
from ..domain.conditions import describe
from ..domain.errors import Conflict, StoreError
from ..domain.models import Decision, DecisionRecord, Heuristic
from ..domain.policy import Policy, load_policy
from ..domain.scenarios import SCENARIOS
from ..domain.scenarios import get as get_scenario
from ..memory.store import Store
from ..reasoners.base import Reasoner
from . import errors
from .auth import Unauthorized, check_token, token_from_env
from .schemas import DecisionBody, OutcomeBody

API = "/api/v1"
STATIC = Path(__file__).parent / "static"
MAX_PAGE = 200
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The console loads only its own files: no inline script, no third party, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _version() -> str:
    try:
        return metadata.version("release-agent")
    except metadata.PackageNotFoundError:
        return "unknown"


def record_json(record: DecisionRecord) -> dict[str, Any]:
    """A decision as the API answers it: what ``decide --json`` prints."""
    return record.model_dump(mode="json")


def heuristic_json(heuristic: Heuristic) -> dict[str, Any]:
    """A heuristic with its evidence and a readable form of its condition."""
    data = heuristic.model_dump(mode="json")
    data["description"] = describe(heuristic.when)
    return data


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
    without one, writes are open, and the caller must bind to loopback (``check_bind``).
    The agent is built at once, so a bad database or policy raises here (UserError or
    StoreError), before anything listens. Use a file database, not ``:memory:``: the
    threadpool's threads would each see a different in-memory database.
    """
    if agent_factory is not None:
        agent = agent_factory()
    else:
        agent = Agent(Store.open(db_url), policy or load_policy(), reasoner)
    secret = token or token_from_env()
    write_lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        agent.store.close()

    app = FastAPI(
        title="release-agent",
        version=_version(),
        description="May this release go to production now? GO, NO_GO or DELAY, with why.",
        docs_url=None,  # the hosted UIs load scripts from a CDN; /openapi.json stays
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.agent = agent
    app.state.auth = secret is not None
    errors.install(app)

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Response:
        # Checked before routing and body parsing, so a write without the token learns
        # nothing, not even whether its body was valid.
        if request.method not in READ_METHODS:
            try:
                check_token(request, secret)
            except Unauthorized as error:
                response: Response = errors.problem(
                    401, error.message, "authorization", headers={"WWW-Authenticate": "Bearer"}
                )
            else:
                response = await call_next(request)
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def decided(response: Response, record: DecisionRecord) -> dict[str, Any]:
        response.headers["Location"] = f"{API}/decisions/{record.release_id}"
        return record_json(record)

    # -- decisions -------------------------------------------------------------------

    @app.post(f"{API}/decisions", status_code=201, tags=["decisions"])
    def decide(body: DecisionBody, response: Response) -> dict[str, Any]:
        """Decide on a release request; the record is stored before it is returned."""
        request = body.to_request()
        with write_lock:
            record = agent.decide(request)
        return decided(response, record)

    @app.get(f"{API}/decisions", tags=["decisions"])
    def history(
        service: Annotated[str | None, Query(max_length=100)] = None,
        decision: Decision | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        before: Annotated[str | None, Query(max_length=100)] = None,
    ) -> dict[str, Any]:
        """Decisions newest first. ``next`` is the ``before`` of the following page, or
        null on the last page."""
        records = agent.history(service=service, decision=decision, limit=limit + 1, before=before)
        page = records[:limit]
        more = len(records) > limit
        return {
            "items": [record_json(r) for r in page],
            "next": page[-1].release_id if more else None,
        }

    @app.get(f"{API}/decisions/{{release_id}}", tags=["decisions"])
    def get_decision(release_id: str) -> dict[str, Any]:
        """One decision record with its outcome, if any (404 for an unknown id)."""
        return record_json(agent.get(release_id))

    @app.post(
        f"{API}/decisions/{{release_id}}/outcome",
        status_code=201,
        tags=["decisions"],
    )
    def record_outcome(release_id: str, body: OutcomeBody, response: Response) -> dict[str, Any]:
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
        if had:
            response.status_code = 200
        return record_json(record)

    # -- learning ----------------------------------------------------------------------

    @app.get(f"{API}/heuristics", tags=["learning"])
    def heuristics() -> dict[str, Any]:
        """Every heuristic (active, retired, rejected) with its evidence."""
        return {"items": [heuristic_json(h) for h in agent.store.list_heuristics()]}

    @app.post(f"{API}/learn", tags=["learning"])
    def learn() -> dict[str, Any]:
        """Learn from the outcomes in memory now; answers what changed."""
        with write_lock:
            report = agent.learn()
        return report.to_dict()

    @app.get(f"{API}/episodes", tags=["learning"])
    def episodes(limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> dict[str, Any]:
        """Episodes newest first, imported ones too, each with its narrative summary."""
        return {"items": [row.to_json() for row in agent.store.list_episodes(limit)]}

    # -- scenarios -----------------------------------------------------------------------

    @app.get(f"{API}/scenarios", tags=["scenarios"])
    def list_scenarios() -> dict[str, Any]:
        """The built-in scenarios, each with the request it makes."""
        return {
            "items": [
                {"id": s.id, "title": s.title, "request": s.request.model_dump(mode="json")}
                for s in SCENARIOS
            ]
        }

    @app.post(
        f"{API}/scenarios/{{scenario_id}}/run",
        status_code=201,
        tags=["scenarios"],
    )
    def run_scenario(scenario_id: str, response: Response) -> dict[str, Any]:
        """Decide on a scenario's request; stored like any decision (404 lists the ids)."""
        scenario = get_scenario(scenario_id)
        with write_lock:
            record = agent.decide(scenario.request)
        return decided(response, record)

    # -- service ---------------------------------------------------------------------------

    @app.get("/healthz", tags=["service"])
    def healthz(response: Response) -> dict[str, Any]:
        """``ok`` when the store answers (503 otherwise); ``auth`` says whether writes
        need a token."""
        try:
            count = agent.store.count_decisions()
        except StoreError:
            response.status_code = 503
            return {"status": "unavailable", "auth": app.state.auth, "version": _version()}
        return {"status": "ok", "auth": app.state.auth, "version": _version(), "decisions": count}

    @app.get("/", include_in_schema=False)
    def console() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
