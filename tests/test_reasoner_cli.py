"""The command line with an LLM reasoner: `decide --reasoner ...` and `demo` against a
local server that speaks Gemini's or OpenAI's REST shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer

import llm_servers
from llm_servers import FakeLLM, Raw, answers, cheapest_option, error_body
from release_agent.cli import main
from release_agent.domain.scenarios import SCENARIOS

threaded_server = llm_servers.threaded_server
server = llm_servers.server

DECIDE = [
    "decide",
    "--service",
    "search",
    "--risk",
    "LOW",
    "--criticality",
    "LOW",
    "--at",
    "2026-11-24T10:00:00+01:00",
    "--notes",
    "adds a search filter",
    "--json",
]


@pytest.fixture(autouse=True)
def _fast_llm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELEASE_AGENT_DB", f"sqlite:///{tmp_path / 'memory.db'}")
    monkeypatch.setenv("RELEASE_AGENT_LLM_RETRIES", "1")
    monkeypatch.setenv("RELEASE_AGENT_LLM_BACKOFF", "0.001")
    monkeypatch.delenv("RELEASE_AGENT_LLM_TIMEOUT", raising=False)


def gemini_env(monkeypatch: pytest.MonkeyPatch, fake: FakeLLM) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-secret")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_decide_with_gemini_reports_every_llm_call(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLLM(server, "gemini", [answers("GO")])
    gemini_env(monkeypatch, fake)

    result = invoke(*DECIDE, "--reasoner", "gemini", "--model", "gemini-2.5-pro")

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["decision"] == "GO"
    calls = record["reasoner_calls"]
    assert [c["task"] for c in calls] == ["plan", "review", "confirm"]
    assert {c["reasoner"] for c in calls} == {"gemini"}
    assert all(c["input_tokens"] == 321 and c["output_tokens"] == 45 for c in calls)
    assert all(c["latency_ms"] > 0 and c["model"] for c in calls)
    assert all(p.endswith("/models/gemini-2.5-pro:generateContent") for p in fake.paths)
    assert all(h["X-Goog-Api-Key"] == "gemini-secret" for h in fake.headers)


def test_a_gemini_key_alone_chooses_gemini(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLLM(server, "gemini", [answers("NO_GO", risk="HIGH", action="NO_GO")])
    gemini_env(monkeypatch, fake)
    result = invoke(*DECIDE)
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["reasoner_calls"][0]["reasoner"] == "gemini"
    assert fake.tasks() == ["plan", "review"]


def test_decide_with_an_openai_compatible_server(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLLM(server, "openai", [answers("GO")])
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)  # a local server: no key needed

    result = invoke(*DECIDE, "--reasoner", "openai", "--model", "llama3.2")

    assert result.exit_code == 0, result.output
    assert {c["model"] for c in json.loads(result.stdout)["reasoner_calls"]} == {
        "gpt-4o-mini-2024-07-18"  # the model the server says answered
    }
    assert all(body["model"] == "llama3.2" for body in fake.bodies)
    assert fake.headers[0]["Authorization"] == "Bearer no-key"


@pytest.mark.parametrize(
    ("reasoner", "variable"), [("gemini", "GEMINI_API_KEY"), ("openai", "OPENAI_API_KEY")]
)
def test_a_missing_key_exits_2_naming_the_variable(reasoner: str, variable: str) -> None:
    as_text = invoke(*DECIDE[:-1], "--reasoner", reasoner)
    assert as_text.exit_code == 2
    assert variable in as_text.stderr
    assert as_text.stdout == ""
    # With --json the same error is a JSON object on stdout, in the API's shape.
    as_json = invoke(*DECIDE, "--reasoner", reasoner)
    assert as_json.exit_code == 2
    (problem,) = json.loads(as_json.stdout)["detail"]
    assert problem["field"] == "reasoner" and variable in problem["message"]
    assert as_json.stderr == ""


@pytest.mark.parametrize(("mode", "exit_code"), [("delay", 3), ("builtin", 0)])
def test_500s_fail_closed_or_take_the_builtin_decision(
    mode: str, exit_code: int, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLLM(server, "gemini", [Raw(500, error_body(500))])
    gemini_env(monkeypatch, fake)

    result = invoke(*DECIDE, "--reasoner", "gemini", "--on-llm-failure", mode)

    assert result.exit_code == exit_code, result.output
    record = json.loads(result.stdout)
    plan_calls = [c for c in record["reasoner_calls"] if c["task"] == "plan"]
    assert plan_calls[0]["reasoner"] == "gemini" and plan_calls[0]["ok"] is False
    assert "HTTP 500" in plan_calls[0]["error"]
    assert plan_calls[0]["fallback"] == ("fail-closed" if mode == "delay" else "builtin")
    assert fake.tasks()[:2] == ["plan", "plan"]  # RELEASE_AGENT_LLM_RETRIES=1


def test_a_timeout_from_the_environment(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLLM(server, "gemini", [Raw(200, {}, delay=2.0)])
    gemini_env(monkeypatch, fake)
    monkeypatch.setenv("RELEASE_AGENT_LLM_TIMEOUT", "0.3")
    result = invoke(*DECIDE)
    assert result.exit_code == 3, result.output
    plan_call = json.loads(result.stdout)["reasoner_calls"][0]
    assert plan_call["error"].startswith("timeout")


def test_demo_runs_the_five_scenarios_through_gemini(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeLLM(server, "gemini", [cheapest_option])
    gemini_env(monkeypatch, fake)

    result = invoke("demo", "--json")

    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["request"]["service"] for r in records] == [s.request.service for s in SCENARIOS]
    for record in records:
        plan = record["reasoner_calls"][0]
        assert plan["task"] == "plan"
        assert plan["reasoner"] == "gemini" and plan["ok"], plan
        assert record["decision"] in ("GO", "DELAY", "NO_GO")
    assert fake.tasks().count("plan") == len(SCENARIOS)
    assert all(h["X-Goog-Api-Key"] == "gemini-secret" for h in fake.headers)
    assert all(p.endswith("/models/gemini-2.5-flash:generateContent") for p in fake.paths)
    by_id = {s.id: r for s, r in zip(SCENARIOS, records, strict=True)}
    assert by_id["friday-high-clash"]["decision"] != "GO"
