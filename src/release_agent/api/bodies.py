"""JSON bodies read strictly: UTF-8 text that Python can parse, else 422 naming ``body``.

FastAPI would answer a body in another encoding (``json.loads`` guesses UTF-16 and 32)
or one nested deeper than Python recurses with a 400 naming no field; this route class
reads such a body first and refuses it as bad input, saying what is wrong.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this Content-Type as JSON (``application/json``
    or ``application/*+json``)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _invalid(message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": message}])


def check_json(body: bytes) -> Any:
    """The JSON value of ``body``; raises RequestValidationError (field ``body``) when it
    is not UTF-8, not JSON, or nested too deeply to read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid(f"the body is not UTF-8 text (byte {error.start} is not)") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise _invalid("the body nests too deeply to read") from None
    except json.JSONDecodeError as error:
        raise _invalid(
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None


class JsonRoute(APIRoute):
    """A route that checks its JSON body with ``check_json`` before FastAPI reads it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def route(request: Request) -> Response:
            if is_json(request.headers.get("content-type")):
                body = await request.body()  # Starlette keeps it for the handler
                if body:
                    check_json(body)
            return await handler(request)

        return route
