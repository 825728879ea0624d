"""Both LLM reasoners, through their real SDKs, against a local server speaking their shape.

Every fault must end in a ReasonerError of the right kind; every good answer in a value
that passed our validation. What the server received is checked too.
"""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

import llm_servers
from llm_servers import (
    FakeLLM,
    Raw,
    answers,
    error_body,
    gemini_answer,
    openai_answer,
    plan_task,
)
from release_agent.domain.errors import ReasonerError
from release_agent.domain.models import Decision, Level, Plan, SuggestedAction
from release_agent.domain.options import PatternStat
from release_agent.domain.policy import Costs
from release_agent.reasoners.base import ConfirmTask, ExtractTask, ReviewTask
from release_agent.reasoners.gemini import GeminiReasoner
from release_agent.reasoners.llm import LLMReasoner, LLMSettings
from release_agent.reasoners.openai_compat import OpenAIReasoner

threaded_server = llm_servers.threaded_server
server = llm_servers.server

PROVIDERS = ("gemini", "openai")

GOOD_PLAN = {
    "decision": "GO",
    "reason": "low risk and a quiet hour",
    "confidence": 0.8,
    "next_window": None,
    "followed_heuristics": [],
    "deviations": [],
}


def make(
    provider: str, fake: FakeLLM, *, timeout: float = 5.0, retries: int = 2
) -> tuple[LLMReasoner, list[float]]:
    waits: list[float] = []
    model = "gemini-2.5-flash" if provider == "gemini" else "gpt-4o-mini"
    settings = LLMSettings(model=model, timeout=timeout, retries=retries, backoff=0.01)
    cls = GeminiReasoner if provider == "gemini" else OpenAIReasoner
    return cls("test-key", settings, base_url=fake.base_url, sleep=waits.append), waits


def wrapped(provider: str, text: str, finish: str | None = None) -> Raw:
    if provider == "gemini":
        return Raw(200, gemini_answer(text, finish=finish or "STOP"))
    return Raw(200, openai_answer(text, finish=finish or "stop"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_good_answer_becomes_a_plan_with_usage(provider: str, server: HTTPServer) -> None:
    fake = FakeLLM(server, provider, [json.dumps(GOOD_PLAN)])
    reasoner, _ = make(provider, fake)

    answer = reasoner.plan(plan_task())

    assert answer.value.decision is Decision.GO
    assert answer.value.reason == "low risk and a quiet hour"
    assert answer.usage.input_tokens == 321
    assert answer.usage.output_tokens == 45
    assert answer.usage.model and answer.usage.model.startswith(reasoner.model)
    assert len(fake.bodies) == 1
    assert fake.temperature() == 0
    schema = fake.schema()
    assert schema["properties"]["decision"]["enum"] == ["GO", "DELAY", "NO_GO"]
    assert schema["additionalProperties"] is False
    assert reasoner.calls[-1].ok and reasoner.calls[-1].attempts == 1


def test_gemini_sends_the_key_header_and_json_mode(server: HTTPServer) -> None:
    fake = FakeLLM(server, "gemini", [json.dumps(GOOD_PLAN)])
    reasoner, _ = make("gemini", fake)
    reasoner.plan(plan_task())
    assert fake.headers[0]["X-Goog-Api-Key"] == "test-key"
    assert fake.paths[0].endswith("/models/gemini-2.5-flash:generateContent")
    assert fake.bodies[0]["generationConfig"]["responseMimeType"] == "application/json"


def test_openai_sends_a_bearer_key_and_a_strict_schema(server: HTTPServer) -> None:
    fake = FakeLLM(server, "openai", [json.dumps(GOOD_PLAN)])
    reasoner, _ = make("openai", fake)
    reasoner.plan(plan_task())
    assert fake.headers[0]["Authorization"] == "Bearer test-key"
    body = fake.bodies[0]
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_json_in_a_fence_with_lower_case_values_is_accepted(
    provider: str, server: HTTPServer
) -> None:
    plan = {**GOOD_PLAN, "decision": " no_go "}
    fake = FakeLLM(server, provider, [f"\n\n```json\n{json.dumps(plan)}\n```\n  "])
    reasoner, _ = make(provider, fake)
    assert reasoner.plan(plan_task()).value.decision is Decision.NO_GO


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('{"decision": "GO", "reason": "cut', "invalid_json"),
        ("I think you should deploy.", "invalid_json"),
        ("", "invalid_json"),
        (json.dumps({**GOOD_PLAN, "decision": "YES"}), "schema"),
        (json.dumps({**GOOD_PLAN, "confidence": 7}), "schema"),
        (json.dumps({"reason": "no decision", "confidence": 0.5}), "schema"),
        ('{"decision": "GO", "reason": "x", "confidence": NaN}', "invalid_json"),
    ],
)
def test_a_bad_answer_is_a_reasoner_error(
    provider: str, text: str, kind: str, server: HTTPServer
) -> None:
    fake = FakeLLM(server, provider, [text])
    reasoner, _ = make(provider, fake)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == kind
    assert len(fake.bodies) == 1  # a bad answer is not retried
    assert reasoner.calls[-1].ok is False and reasoner.calls[-1].error_kind == kind


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_then_success_retries_once(provider: str, server: HTTPServer) -> None:
    fake = FakeLLM(
        server,
        provider,
        [Raw(429, error_body(429), headers={"Retry-After": "0.02"}), json.dumps(GOOD_PLAN)],
    )
    reasoner, waits = make(provider, fake)
    assert reasoner.plan(plan_task()).value.decision is Decision.GO
    assert len(fake.bodies) == 2
    assert waits == [0.02]  # the server's Retry-After was honoured
    assert reasoner.calls[-1].attempts == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_until_retries_are_exhausted(provider: str, server: HTTPServer) -> None:
    fake = FakeLLM(server, provider, [Raw(500, error_body(500, "internal"))])
    reasoner, waits = make(provider, fake, retries=2)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "http"
    assert caught.value.status_code == 500
    assert "3 attempts" in str(caught.value)
    assert len(fake.bodies) == 3
    assert len(waits) == 2 and all(0 < w <= 0.02 for w in waits)  # exponential from 0.01


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_client_error_is_not_retried_and_names_the_key(provider: str, server: HTTPServer) -> None:
    fake = FakeLLM(server, provider, [Raw(401, error_body(401, "API key not valid"))])
    reasoner, _ = make(provider, fake)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "http" and caught.value.status_code == 401
    key = "GEMINI_API_KEY" if provider == "gemini" else "OPENAI_API_KEY"
    assert key in str(caught.value)
    assert len(fake.bodies) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_slow_server_is_a_timeout_and_not_retried(provider: str, server: HTTPServer) -> None:
    fake = FakeLLM(server, provider, [Raw(200, {}, delay=1.0)])
    reasoner, _ = make(provider, fake, timeout=0.3)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "timeout"
    assert len(fake.bodies) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refused_connection_is_retried_then_fails(provider: str) -> None:
    with HTTPServer() as closed:
        base = closed.url_for("/") if provider == "gemini" else closed.url_for("/v1")
    settings = LLMSettings(model="m", timeout=2, retries=1, backoff=0.01)
    waits: list[float] = []
    cls = GeminiReasoner if provider == "gemini" else OpenAIReasoner
    reasoner = cls("test-key", settings, base_url=base, sleep=waits.append)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "connection"
    assert len(waits) == 1


@pytest.mark.parametrize(
    ("provider", "finish", "kind"),
    [
        ("gemini", "MAX_TOKENS", "truncated"),
        ("gemini", "SAFETY", "refusal"),
        ("gemini", "RECITATION", "refusal"),
        ("openai", "length", "truncated"),
        ("openai", "content_filter", "refusal"),
    ],
)
def test_a_stopped_answer_is_never_used(
    provider: str, finish: str, kind: str, server: HTTPServer
) -> None:
    # The text would even be valid: a cut-off or filtered answer is refused regardless.
    fake = FakeLLM(server, provider, [wrapped(provider, json.dumps(GOOD_PLAN), finish)])
    reasoner, _ = make(provider, fake)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == kind


def test_an_openai_refusal_is_a_refusal(server: HTTPServer) -> None:
    fake = FakeLLM(server, "openai", [Raw(200, openai_answer(None, refusal="I can't help"))])
    reasoner, _ = make("openai", fake)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "refusal"


def test_a_blocked_gemini_prompt_is_a_refusal(server: HTTPServer) -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {}}
    fake = FakeLLM(server, "gemini", [Raw(200, blocked)])
    reasoner, _ = make("gemini", fake)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "refusal"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_body_that_is_not_json_is_invalid_json(provider: str, server: HTTPServer) -> None:
    fake = FakeLLM(server, provider, [Raw(200, "<html>proxy error</html>")])
    reasoner, _ = make(provider, fake)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "invalid_json"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_delay_must_name_a_window(provider: str, server: HTTPServer) -> None:
    task = plan_task()
    window = task.windows[1].at
    assert window is not None
    reply = answers("delay", next_window=window.astimezone().isoformat())
    fake = FakeLLM(server, provider, [reply, json.dumps({**GOOD_PLAN, "decision": "DELAY"})])
    reasoner, _ = make(provider, fake)

    plan = reasoner.plan(task).value
    assert plan.decision is Decision.DELAY
    assert plan.next_window == window
    assert plan.next_window.utcoffset() == window.utcoffset()  # the scheduler's own value

    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(task)
    assert caught.value.kind == "schema" and "next_window" in str(caught.value)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_review_confirm_and_extract(provider: str, server: HTTPServer) -> None:
    def reply(task: str, _body: object) -> str:
        return {
            "review": json.dumps(
                {
                    "concerns": [" clash with ledger "],
                    "risk_level": "high",
                    "suggested_action": "no-go",
                }
            ),
            "confirm": json.dumps({"confirmed": False, "reason": "the red team is right"}),
            "extract": json.dumps(
                {
                    "proposals": [
                        {
                            "when": {
                                "day_of_week": "FRI",
                                "hour_from": 12,
                                "hour_to": 23,
                                "feature_risk": None,
                                "phase_of_moon": "full",
                            },
                            "recommendation": "delay",
                            "confidence": 0.7,
                            "supporting_episodes": 20,
                            "rationale": "Friday afternoons fail",
                        }
                    ]
                }
            ),
        }[task]

    fake = FakeLLM(server, provider, [reply])
    reasoner, _ = make(provider, fake)
    task = plan_task()
    proposed = Plan(decision=Decision.GO, reason="quiet hour", confidence=0.8)
    review = reasoner.review(ReviewTask(task, proposed)).value
    assert review.concerns == ["clash with ledger"]
    assert review.risk_level is Level.HIGH
    assert review.suggested_action is SuggestedAction.NO_GO

    confirmation = reasoner.confirm(ConfirmTask(task, proposed, review)).value
    assert confirmation.confirmed is False

    extract = ExtractTask(
        base_deployed=100,
        base_failures=10,
        patterns=(PatternStat({"day_of_week": "FRI"}, 20, 9),),
        existing=(),
        recent=(),
        costs=Costs(),
    )
    proposals = reasoner.extract(extract).value
    assert len(proposals) == 1
    proposal = proposals[0]
    assert proposal.recommendation is Decision.DELAY
    # Unknown attributes are passed on for the heuristic validation to reject by name.
    assert proposal.when == {
        "day_of_week": "FRI",
        "hour_of_day": {"from": 12, "to": 23},
        "phase_of_moon": "full",
    }
    assert fake.tasks() == ["review", "confirm", "extract"]
