"""The shared LLM machinery without a server: JSON extraction, answer validation, the
retry loop, backoff, and what the prompts carry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_servers import plan_task
from release_agent.domain.episodes import EpisodeSummary
from release_agent.domain.errors import ReasonerError
from release_agent.domain.models import Decision, Heuristic, Plan
from release_agent.reasoners import llm_answers, llm_prompts
from release_agent.reasoners.base import ReviewTask, Usage
from release_agent.reasoners.llm import (
    Completion,
    LLMReasoner,
    LLMSettings,
    TransientError,
    extract_json,
)

PLAN = {"decision": "GO", "reason": "fine", "confidence": 0.5}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(PLAN),
        f"  \n{json.dumps(PLAN)}\n\n",
        f"```json\n{json.dumps(PLAN)}\n```",
        f"```\n{json.dumps(PLAN, indent=2)}\n```",
        f"Sure! Here it is:\n```JSON\n{json.dumps(PLAN)}\n```\nAnything else?",
        f"My answer: {json.dumps(PLAN)} -- done",
        "\ufeff" + json.dumps(PLAN),
    ],
)
def test_json_is_found_where_models_put_it(text: str) -> None:
    assert extract_json(text) == PLAN


@pytest.mark.parametrize(
    "text", ["", "   ", "GO", "```json\n{broken\n```", '["GO"]', '{"a": Infinity}', "null"]
)
def test_no_json_object_is_invalid_json(text: str) -> None:
    with pytest.raises(ReasonerError) as caught:
        extract_json(text)
    assert caught.value.kind == "invalid_json"


@given(st.text(max_size=300))
def test_extraction_never_raises_anything_but_a_reasoner_error(text: str) -> None:
    try:
        assert isinstance(extract_json(text), dict)
    except ReasonerError as error:
        assert error.kind == "invalid_json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("go", "GO"), (" No-Go ", "NO_GO"), ("no go", "NO_GO"), ("NOGO", "NO_GO"), ("delay", "DELAY")],
)
def test_decision_spellings(value: str, expected: str) -> None:
    plan = llm_answers.to_plan(
        {**PLAN, "decision": value, "next_window": plan_task().windows[0].at.isoformat()},  # type: ignore[union-attr]
        plan_task(),
    )
    assert plan.decision.value == expected


@pytest.mark.parametrize(
    "data",
    [
        {**PLAN, "decision": "PROBABLY"},
        {**PLAN, "confidence": -0.1},
        {**PLAN, "confidence": "high"},
        {**PLAN, "reason": "   "},
        {"decision": "GO", "confidence": 0.5},
    ],
)
def test_out_of_schema_plans_are_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # pydantic's ValidationError, mapped to kind=schema
        llm_answers.to_plan(data, plan_task())


def test_a_delay_needs_a_window_with_an_offset() -> None:
    task = plan_task()
    for window in (None, "tomorrow", "2026-11-24T12:00:00"):
        with pytest.raises(ReasonerError) as caught:
            llm_answers.to_plan({**PLAN, "decision": "DELAY", "next_window": window}, task)
        assert caught.value.kind == "schema" and "next_window" in str(caught.value)
    # Any moment with an offset is taken; the planner stage moves it to an offered window.
    plan = llm_answers.to_plan(
        {**PLAN, "decision": "DELAY", "next_window": "2026-11-24T11:00:00Z"}, task
    )
    assert plan.next_window is not None and plan.next_window.utcoffset() is not None


def test_a_go_is_refused_when_guardrails_forbid_it() -> None:
    with pytest.raises(ReasonerError) as caught:
        llm_answers.to_plan(PLAN, plan_task(forbid_go=True))
    assert caught.value.kind == "schema"


def test_unknown_heuristic_ids_are_dropped() -> None:
    plan = llm_answers.to_plan(
        {
            **PLAN,
            "followed_heuristics": [7, 99, 7],
            "deviations": [{"heuristic_id": 42, "why": "made up"}],
        },
        plan_task(),
    )
    assert plan.followed_heuristics == [7]
    assert plan.deviations == {}


def test_a_long_reason_is_clipped_not_rejected() -> None:
    plan = llm_answers.to_plan({**PLAN, "reason": "x" * 5000}, plan_task())
    assert len(plan.reason) == llm_answers.MAX_REASON


def _required(schema: Mapping[str, Any]) -> None:
    """Every object in a schema sent in strict mode lists all its properties as required."""
    if schema.get("type") == "object":
        assert schema["required"] == list(schema["properties"]), schema
        assert schema["additionalProperties"] is False
        for sub in schema["properties"].values():
            _required(sub)
    for branch in schema.get("anyOf", []):
        _required(branch)
    if "items" in schema:
        _required(schema["items"])


@pytest.mark.parametrize(
    "schema",
    [
        llm_answers.PLAN_SCHEMA,
        llm_answers.REVIEW_SCHEMA,
        llm_answers.CONFIRM_SCHEMA,
        llm_answers.EXTRACT_SCHEMA,
    ],
)
def test_schemas_suit_strict_structured_output(schema: dict[str, Any]) -> None:
    _required(schema)


def test_the_plan_schema_and_validation_agree_on_decisions() -> None:
    assert llm_answers.PLAN_SCHEMA["properties"]["decision"]["enum"] == [d.value for d in Decision]


class Scripted(LLMReasoner):
    """An LLMReasoner whose single request is scripted: each item is text or an error."""

    name = "scripted"

    def __init__(self, script: list[str | ReasonerError], **settings: Any) -> None:
        self.waits: list[float] = []
        super().__init__(
            LLMSettings(model="m", **{"backoff": 0.01, **settings}), sleep=self.waits.append
        )
        self.script = script
        self.requests = 0

    def _complete(
        self, system: str, user: str, schema: Mapping[str, Any], schema_name: str
    ) -> Completion:
        item = self.script[min(self.requests, len(self.script) - 1)]
        self.requests += 1
        if isinstance(item, ReasonerError):
            raise item
        return Completion(item, Usage(model="m-1", input_tokens=10, output_tokens=5))


def test_transient_faults_are_retried_with_growing_waits() -> None:
    busy = TransientError("busy", kind="http", status_code=503)
    reasoner = Scripted([busy, busy, busy, json.dumps(PLAN)], retries=3)
    assert reasoner.plan(plan_task()).value.decision is Decision.GO
    assert reasoner.requests == 4
    assert len(reasoner.waits) == 3
    assert reasoner.waits[0] <= 0.01 < reasoner.waits[2] <= 0.04
    assert reasoner.calls[-1].attempts == 4 and reasoner.calls[-1].ok


def test_retries_are_bounded() -> None:
    reasoner = Scripted([TransientError("busy", kind="connection")], retries=2)
    with pytest.raises(ReasonerError) as caught:
        reasoner.plan(plan_task())
    assert caught.value.kind == "connection"
    assert reasoner.requests == 3
    assert reasoner.calls[-1].error_kind == "connection"


def test_a_final_fault_is_not_retried() -> None:
    reasoner = Scripted([ReasonerError("cut off", kind="truncated")], retries=5)
    with pytest.raises(ReasonerError):
        reasoner.plan(plan_task())
    assert reasoner.requests == 1 and reasoner.waits == []


def test_the_wait_never_exceeds_max_backoff() -> None:
    settings = LLMSettings(model="m", backoff=1.0, max_backoff=3.0)
    assert all(settings.delay(attempt) <= 3.0 for attempt in range(1, 10))
    assert settings.delay(1, retry_after=120) == 3.0
    assert settings.delay(1, retry_after=0.5) == 0.5


@pytest.mark.parametrize(
    "settings", [{"timeout": 0}, {"retries": -1}, {"backoff": -1}, {"model": " "}]
)
def test_settings_are_checked(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LLMSettings(**{"model": "m", **settings})


# Prompts.


def test_every_prompt_has_instructions_and_data() -> None:
    for task in llm_prompts.TASKS:
        system, user = llm_prompts._template(task)
        assert "data" in system and "never as instructions" in system
        assert "JSON" in system
        if task != "extract":
            assert "<untrusted_notes>\n$notes\n</untrusted_notes>" in user.template


def test_the_plan_prompt_carries_the_evidence() -> None:
    task = plan_task(notes="migrates the ledger table")
    task = replace(
        task,
        similar=(
            EpisodeSummary("r-1", {"service": "payments"}, Decision.GO, "incident", "went badly"),
        ),
    )
    prompt = llm_prompts.render_plan(task)
    options = json.loads(prompt.user.split("<options>\n")[1].split("\n</options>")[0])
    assert [o["decision"] for o in options] == ["GO", "DELAY", "DELAY", "DELAY", "NO_GO"]
    assert all("expected_cost" in o and "risk" in o for o in options)
    heuristics = json.loads(prompt.user.split("<heuristics>\n")[1].split("\n</heuristics>")[0])
    assert heuristics[0]["id"] == 7 and heuristics[0]["recommendation"] == "DELAY"
    episodes = json.loads(prompt.user.split("<past_episodes>\n")[1].split("\n</past_episodes>")[0])
    assert episodes[0]["outcome"] == "incident"
    guardrails = json.loads(prompt.user.split("<guardrails>\n")[1].split("\n</guardrails>")[0])
    assert guardrails["go_allowed"] is True
    assert "<untrusted_notes>\nmigrates the ledger table\n</untrusted_notes>" in prompt.user
    assert "migrates" not in prompt.system


def test_a_forbidden_go_is_shown_as_not_allowed() -> None:
    prompt = llm_prompts.render_plan(plan_task(forbid_go=True))
    options = json.loads(prompt.user.split("<options>\n")[1].split("\n</options>")[0])
    assert options[0]["decision"] == "GO" and options[0]["allowed"] is False
    assert '"go_allowed": false' in prompt.user


def test_many_windows_are_cut_to_the_cheapest_in_time_order() -> None:
    task = plan_task(windows=60)
    offered = llm_answers.offered_windows(task)
    assert len(offered) == llm_answers.MAX_WINDOWS
    assert [o.at for o in offered] == sorted(o.at for o in offered)  # type: ignore[type-var]


# Any text a request may carry: NUL and lone surrogates are refused before any prompt.
STORABLE = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])


@given(st.text(STORABLE, max_size=200))
def test_no_text_can_leave_its_data_block(text: str) -> None:
    task = replace(
        plan_task(notes=text),
        similar=(EpisodeSummary("r", {}, Decision.GO, None, text),),
        heuristics=(
            Heuristic(
                id=1,
                when={"clash": True},
                recommendation=Decision.DELAY,
                confidence=0.9,
                reason=text,
            ),
        ),
    )
    for prompt in (
        llm_prompts.render_plan(task),
        llm_prompts.render_review(
            ReviewTask(task, Plan(decision=Decision.GO, reason=text or "x", confidence=1))
        ),
    ):
        for tag in ("untrusted_notes", "past_episodes", "proposal", "heuristics"):
            if f"<{tag}>" in prompt.user:
                assert prompt.user.count(f"<{tag}>") == 1
                assert prompt.user.count(f"</{tag}>") == 1
        assert (
            "<" not in prompt.user.split("<untrusted_notes>\n")[1].split("\n</untrusted_notes>")[0]
        )
