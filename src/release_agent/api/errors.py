"""How the API answers errors: one shape for every failure.

    {"detail": [{"field": "feature_risk", "message": "...", "allowed": ["LOW", ...]}]}

``field`` names the input at fault (``null`` when none does), ``allowed`` lists the values
it may take where that is a short list. Status codes:

    401 missing or wrong token, or two Authorization headers
    403 a team's token writing for another team, or where only an admin token may
    404 unknown id                         409 conflict with what is stored
    413 body over the limit                421 a Host that is not loopback, without a token
    422 bad input (ours and pydantic's)    500 a fault on our side
    503 the database failed; ``Retry-After`` says when to try again

Details of a fault go to the server log with credentials masked, never to the caller;
every answer is cut short and made encodable, so that an error never echoes a megabyte,
nor a lone surrogate that would break the JSON encoder.
"""

from __future__ import annotations

import logging
import traceback
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..domain.errors import Conflict, NotFound, RuntimeFault, StoreError, UserError
from .auth import Forbidden, MisdirectedHost, Unauthorized
from .redact import redact

log = logging.getLogger("release_agent.api")

RETRY_AFTER = 5
"""Seconds a client should wait after a 503 (the database failed) before trying again."""
MAX_MESSAGE = 500
MAX_FIELD = 100
_SOURCES = ("body", "query", "path", "header", "cookie")


def clean(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, lone surrogates escaped, so that it encodes."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def entry(field: str | None, message: str, allowed: list[str] | None = None) -> dict[str, Any]:
    """One element of ``detail``, cleaned (see ``clean``)."""
    return {
        "field": None if field is None else clean(field, MAX_FIELD),
        "message": clean(message, MAX_MESSAGE),
        "allowed": None if allowed is None else [clean(a, MAX_FIELD) for a in allowed],
    }


def problem(
    status: int,
    message: str,
    field: str | None = None,
    allowed: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer with one entry."""
    return JSONResponse(
        {"detail": [entry(field, message, allowed)]}, status_code=status, headers=headers
    )


def status_of(error: UserError) -> int:
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, MisdirectedHost):
        return 421
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    return 422


def user_error(error: UserError) -> JSONResponse:
    """The answer to a UserError: its status, field, message and allowed values."""
    status = status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, error.message, error.field, error.allowed, headers)


def _enum_values(annotation: Any) -> list[str] | None:
    """The values of the enum in ``annotation``, looking through Optional and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    for inner in typing.get_args(annotation):
        values = _enum_values(inner)
        if values is not None:
            return values
    return None


def _body_model(request: Request) -> type[BaseModel] | None:
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    annotation = getattr(getattr(body_field, "field_info", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _param_annotation(request: Request, source: str, name: str) -> Any:
    dependant = getattr(request.scope.get("route"), "dependant", None)
    params = getattr(dependant, f"{source}_params", None) or []
    for param in params:
        if param.alias == name or param.name == name:
            return param.field_info.annotation
    return None


def _validation_entry(request: Request, error: dict[str, Any]) -> dict[str, Any]:
    loc = [str(part) for part in error.get("loc", ())]
    source = loc[0] if loc and loc[0] in _SOURCES else None
    path = loc[1:] if source else loc
    field = ".".join(path) if path else (source or "input")
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    allowed: list[str] | None = None
    model = _body_model(request) if source == "body" else None
    if kind == "extra_forbidden":
        message = "is not a known field"
        if model is not None and len(path) == 1:
            allowed = list(model.model_fields)
    elif kind == "json_invalid":
        field = "body"  # our own JSON check names what is wrong (see .bodies)
    elif kind in ("model_attributes_type", "dict_type") or (kind == "missing" and not path):
        field = "body"
        message = "the body must be a JSON object, sent as Content-Type: application/json"
    elif model is not None and path:
        info = model.model_fields.get(path[0])
        if info is not None and len(path) == 1:
            allowed = _enum_values(info.annotation)
    elif source in ("query", "path") and path:
        allowed = _enum_values(_param_annotation(request, source, path[0]))
    return entry(field, message, allowed)


def _logged(exc: BaseException) -> str:
    return redact("".join(traceback.format_exception(exc)))


def install(app: FastAPI, headers: Mapping[str, str]) -> None:
    """Register the handlers that give every error the shape above. ``headers`` go on
    the answers to faults that escape every middleware (a 500)."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        entries = [_validation_entry(request, dict(e)) for e in exc.errors()]
        return JSONResponse({"detail": entries}, status_code=422)

    @app.exception_handler(UserError)
    async def _user(request: Request, exc: UserError) -> JSONResponse:
        return user_error(exc)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.error(
            "request %s %s: the store failed\n%s", request.method, request.url.path, _logged(exc)
        )
        return problem(
            503,
            f"the database is not available; nothing was changed. Try again in {RETRY_AFTER} "
            "seconds; if it persists, the server log says why",
            headers={"Retry-After": str(RETRY_AFTER)},
        )

    @app.exception_handler(RuntimeFault)
    async def _fault(request: Request, exc: RuntimeFault) -> JSONResponse:
        log.error("request %s %s failed\n%s", request.method, request.url.path, _logged(exc))
        return problem(500, f"{type(exc).__name__}: the server could not complete the request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request %s %s failed\n%s", request.method, request.url.path, _logged(exc))
        return problem(500, "the server could not complete the request", headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only; a path
            # with a GET and a POST route allows both.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem(exc.status_code, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path, sorted."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)
