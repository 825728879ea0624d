"""The OpenAPI document, made to tell the truth: every status an endpoint can answer, the
error body as it is, and the bearer scheme on the writes.

The answers that come from the guard before any route (401, 413, and 421 without a token)
are listed on every operation; ``Documenter.fails`` adds each route's own.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .errors import RETRY_AFTER
from .guard import MAX_BODY, READ_METHODS
from .responses import Problem

BEARER = "bearer"
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"

_WHY = {
    401: "A write without the right bearer token, or a request with two Authorization headers",
    403: "A team's token writing for another team, or where only an admin token may",
    404: "The id names nothing stored; `allowed` lists the known ids where they are few",
    409: "The request contradicts what is stored",
    413: f"The body is larger than {MAX_BODY} bytes",
    421: "The Host is not a loopback name, and the server has no token: open it at "
    "http://127.0.0.1:<port>/",
    422: "Bad input: `field` names it, `allowed` lists the values it may take; nothing was written",
    500: "A fault on our side; the server log has the details",
    503: "The database failed; nothing was written. Retry after `Retry-After` seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    503: {
        "Retry-After": {
            "description": f"seconds to wait before trying again ({RETRY_AFTER})",
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
LOCATION = {
    "Location": {"description": "the URL of the decision record", "schema": {"type": "string"}}
}


def failure(code: int) -> dict[str, Any]:
    """The documentation of one error status: the Problem body and its headers."""
    answer: dict[str, Any] = {"model": Problem, "description": _WHY[code]}
    if code in _HEADERS:
        answer["headers"] = _HEADERS[code]
    return answer


class Documenter:
    """What the document says for one app: ``loopback`` is True without a token."""

    def __init__(self, *, loopback: bool) -> None:
        self.loopback = loopback
        self.everywhere = {401, 413, 500} | ({421} if loopback else set())

    def fails(self, *codes: int) -> dict[int | str, dict[str, Any]]:
        """The error answers of a route that can also answer ``codes``."""
        return {code: failure(code) for code in sorted({*codes, *self.everywhere})}

    def install(self, app: FastAPI) -> None:
        """Make ``app.openapi()`` build the document with the bearer scheme declared."""
        build = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                self.finish(build())
            assert app.openapi_schema is not None
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]

    def finish(self, document: dict[str, Any]) -> None:
        """Declare the bearer scheme on every write, and drop the 422 that FastAPI adds
        in its own shape to routes that cannot answer 422 (a plain path parameter)."""
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[BEARER] = {
            "type": "http",
            "scheme": "bearer",
            "description": "RELEASE_AGENT_API_TOKEN; every write needs it when the server "
            "has one" + (" (this one has none, so writes are open)" if self.loopback else ""),
        }
        requirement: list[dict[str, list[str]]] = [{BEARER: []}]
        if self.loopback:
            requirement.append({})  # no token configured: a write needs none
        for operations in document.get("paths", {}).values():
            for method, operation in operations.items():
                if method.upper() not in READ_METHODS:
                    operation["security"] = requirement
                    refused = operation.get("responses", {}).get("401")
                    if not self.loopback and refused is not None:  # tokens may be scoped
                        operation["responses"]["403"] = {
                            "description": _WHY[403],
                            "content": refused.get("content", {}),
                        }
                validation = operation.get("responses", {}).get("422", {})
                ref = validation.get("content", {}).get("application/json", {}).get("schema", {})
                if ref.get("$ref") == _FASTAPI_VALIDATION:
                    del operation["responses"]["422"]
        schemas = document["components"].get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
