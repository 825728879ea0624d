"""How the API answers errors: one shape for every failure.

    {"detail": [{"field": "feature_risk", "message": "...", "allowed": ["LOW", ...]}]}

``field`` names the input at fault (``null`` when none does), ``allowed`` lists the values
it may take where that is a short list. Status codes: 422 bad input (ours and pydantic's),
404 unknown id, 409 conflict with what is stored, 401 missing or wrong token, 500 a fault
on our side (the details go to the server log, not to the caller).
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..domain.errors import Conflict, NotFound, RuntimeFault, UserError
from .auth import Unauthorized

log = logging.getLogger("release_agent.api")

_SOURCES = ("body", "query", "path", "header", "cookie")


def problem(
    status: int,
    message: str,
    field: str | None = None,
    allowed: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer with one entry."""
    return JSONResponse(
        {"detail": [{"field": field, "message": message, "allowed": allowed}]},
        status_code=status,
        headers=headers,
    )


def status_of(error: UserError) -> int:
    if isinstance(error, Unauthorized):
        return 401
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    return 422


def _enum_values(annotation: Any) -> list[str] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return [str(member.value) for member in candidate]
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
    elif kind in ("json_invalid", "model_attributes_type", "dict_type") or (
        kind == "missing" and not path
    ):
        field = "body"
        message = "the body must be a JSON object"
    elif model is not None and path:
        info = model.model_fields.get(path[0])
        if info is not None and len(path) == 1:
            allowed = _enum_values(info.annotation)
    elif source in ("query", "path") and path:
        allowed = _enum_values(_param_annotation(request, source, path[0]))
    return {"field": field, "message": message, "allowed": allowed}


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the shape above."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        entries = [_validation_entry(request, dict(e)) for e in exc.errors()]
        return JSONResponse({"detail": entries}, status_code=422)

    @app.exception_handler(UserError)
    async def _user(request: Request, exc: UserError) -> JSONResponse:
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": [exc.to_dict()]}, status_code=status, headers=headers)

    @app.exception_handler(RuntimeFault)
    async def _fault(request: Request, exc: RuntimeFault) -> JSONResponse:
        log.error("request %s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(500, f"{type(exc).__name__}: the server could not complete the request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), headers=exc.headers)
