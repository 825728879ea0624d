"""Fake LLM servers for tests: Gemini's and OpenAI's REST shapes on a local pytest-httpserver.

A :class:`FakeLLM` answers every request with the next scripted reply (the last one
repeats) and keeps what it received, so tests can assert on the wire: the schema sent, the
prompt, the headers. A reply is one of:

- a ``str``: the model's text, wrapped in a well-formed 200 answer;
- a :class:`Raw`: an HTTP status with a JSON body, and optional headers and delay;
- a callable ``(task, request_json) -> str | Raw``, where ``task`` is plan / review /
  confirm / extract, read from the schema the client sent.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from release_agent.decide.context import evaluate
from release_agent.domain.models import Context, Decision, Heuristic, Level
from release_agent.domain.options import Guardrails, Option, RiskEstimate
from release_agent.domain.policy import Costs, DecisionSettings
from release_agent.reasoners.base import PlanTask

GEMINI_PATH = re.compile(r"^/(?P<version>[^/]+)/models/(?P<model>[^/:]+):generateContent$")
OPENAI_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Raw:
    status: int
    body: dict[str, Any] | str = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Reply = str | Raw | Callable[[str, dict[str, Any]], "str | Raw"]


def gemini_answer(
    text: str, *, finish: str = "STOP", prompt_tokens: int = 321, output_tokens: int = 45
) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish}
        ],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
        },
        "modelVersion": "gemini-2.5-flash",
    }


def openai_answer(
    text: str | None,
    *,
    finish: str = "stop",
    refusal: str | None = None,
    prompt_tokens: int = 321,
    output_tokens: int = 45,
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": refusal},
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": prompt_tokens + output_tokens,
        },
    }


def task_of(schema: dict[str, Any]) -> str:
    """Which task a request is for, from the properties of the schema it carries."""
    properties = schema.get("properties", {})
    for key, task in (
        ("decision", "plan"),
        ("risk_level", "review"),
        ("confirmed", "confirm"),
        ("proposals", "extract"),
    ):
        if key in properties:
            return task
    raise AssertionError(f"unknown schema {schema}")


_LIVE: list[FakeLLM] = []


@pytest.fixture(scope="module")
def threaded_server() -> Iterator[HTTPServer]:
    """One server per test module; threaded, so a slow answer never blocks the next one."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def server(threaded_server: HTTPServer) -> Iterator[HTTPServer]:
    """The module's server, with no handlers; slow handlers are released at the end."""
    threaded_server.clear()
    yield threaded_server
    while _LIVE:
        _LIVE.pop().released.set()


class FakeLLM:
    """A scripted model behind one provider's REST shape."""

    def __init__(self, server: HTTPServer, provider: str, replies: list[Reply]) -> None:
        assert provider in ("gemini", "openai")
        assert replies, "script at least one reply"
        self.released = threading.Event()
        self._lock = threading.Lock()
        _LIVE.append(self)
        self.provider = provider
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        path = GEMINI_PATH if provider == "gemini" else OPENAI_PATH
        server.expect_request(path, method="POST").respond_with_handler(self._handle)
        self.base_url = server.url_for("/") if provider == "gemini" else server.url_for("/v1")

    # What the server received.

    def schema(self, n: int = 0) -> dict[str, Any]:
        body = self.bodies[n]
        if self.provider == "gemini":
            return body["generationConfig"]["responseJsonSchema"]
        return body["response_format"]["json_schema"]["schema"]

    def system(self, n: int = 0) -> str:
        body = self.bodies[n]
        if self.provider == "gemini":
            return "".join(p["text"] for p in body["systemInstruction"]["parts"])
        return body["messages"][0]["content"]

    def user(self, n: int = 0) -> str:
        body = self.bodies[n]
        if self.provider == "gemini":
            return "".join(p["text"] for c in body["contents"] for p in c["parts"])
        return body["messages"][-1]["content"]

    def temperature(self, n: int = 0) -> float:
        body = self.bodies[n]
        if self.provider == "gemini":
            return body["generationConfig"]["temperature"]
        return body["temperature"]

    def tasks(self) -> list[str]:
        return [task_of(self.schema(i)) for i in range(len(self.bodies))]

    # Answering.

    def _handle(self, request: Request) -> Response:
        body = request.get_json()
        with self._lock:
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            self.paths.append(request.path)
            n = len(self.bodies) - 1
        reply = self.replies[min(n, len(self.replies) - 1)]
        if callable(reply):
            reply = reply(task_of(self.schema(n)), body)
        if isinstance(reply, str):
            wrapped = gemini_answer(reply) if self.provider == "gemini" else openai_answer(reply)
            return Response(json.dumps(wrapped), status=200, content_type="application/json")
        if reply.delay:
            self.released.wait(reply.delay)
        payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        return Response(
            payload, status=reply.status, headers=reply.headers, content_type="application/json"
        )


def error_body(status: int, message: str = "try again later") -> dict[str, Any]:
    """An error body in the shape both providers use."""
    return {"error": {"code": status, "message": message, "status": "UNAVAILABLE"}}


def answers(
    decision: str = "GO",
    *,
    confirmed: bool = True,
    risk: str = "LOW",
    action: str = "NONE",
    next_window: str | None = None,
) -> Callable[[str, dict[str, Any]], str]:
    """A model that gives the same answer to every request, per task."""

    def reply(task: str, _body: dict[str, Any]) -> str:
        if task == "plan":
            return json.dumps(
                {
                    "decision": decision,
                    "reason": f"the model says {decision}",
                    "confidence": 0.9,
                    "next_window": next_window,
                    "followed_heuristics": [],
                    "deviations": [],
                }
            )
        if task == "review":
            return json.dumps({"concerns": [], "risk_level": risk, "suggested_action": action})
        if task == "confirm":
            return json.dumps({"confirmed": confirmed, "reason": "the model confirms"})
        return json.dumps({"proposals": []})

    return reply


def plan_task(
    *,
    notes: str | None = "routine change",
    forbid_go: bool = False,
    at: str = "2026-11-24T10:00:00+01:00",
    windows: int = 3,
) -> PlanTask:
    """A small, realistic PlanTask for unit tests of the reasoners."""
    from release_agent.domain.models import ReleaseRequest

    request = ReleaseRequest(
        service="payments",
        env="prod",
        feature_risk=Level.MEDIUM,
        service_criticality=Level.HIGH,
        at=datetime.fromisoformat(at),
        notes=notes,
    )
    context: Context = evaluate(request, DecisionSettings())
    risk = RiskEstimate(mean=0.1, low=0.05, high=0.2, decide=0.16, evidence=12)
    start = context.at
    return PlanTask(
        context=context,
        notes=notes,
        guardrails=Guardrails(
            forbid_go=forbid_go, reasons=("freeze 'year-end'",) if forbid_go else ()
        ),
        heuristics=(
            Heuristic(
                id=7,
                when={"day_of_week": "FRI", "hour_of_day": {"from": 12, "to": 23}},
                recommendation=Decision.DELAY,
                confidence=0.8,
                support=20,
                failures=9,
                successes=11,
            ),
        ),
        similar=(),
        costs=Costs(),
        go_now=Option(Decision.GO, start, 0.0, risk, 9.6),
        windows=tuple(
            Option(Decision.DELAY, start + timedelta(hours=h), float(h), risk, 9.0 + h)
            for h in range(1, windows + 1)
        ),
        no_go=Option(Decision.NO_GO, None, 0.0, None, 10.0),
    )


def _block(text: str, tag: str) -> Any:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    assert match is not None, f"no <{tag}> block in the prompt"
    return json.loads(match.group(1))


def cheapest_option(task: str, body: dict[str, Any]) -> str:
    """A rational model: plans the allowed option with the lowest expected cost from the
    prompt's ``<options>`` block, sees no extra risk, confirms, and proposes nothing."""
    if "contents" in body:
        user = "".join(p["text"] for c in body["contents"] for p in c["parts"])
    else:
        user = body["messages"][-1]["content"]
    if task == "plan":
        allowed = [o for o in _block(user, "options") if o["allowed"]]
        best = min(allowed, key=lambda o: o["expected_cost"])
        return json.dumps(
            {
                "decision": best["decision"],
                "reason": f"{best['decision']} has the lowest expected cost",
                "confidence": 0.7,
                "next_window": best["at"] if best["decision"] == "DELAY" else None,
                "followed_heuristics": [],
                "deviations": [],
            }
        )
    return answers("GO")(task, body)
