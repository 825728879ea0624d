"""Choosing the reasoner, model, timeout and retries from arguments and the environment."""

from __future__ import annotations

import pytest

from release_agent.domain.errors import InvalidInput
from release_agent.reasoners.builtin import BuiltinReasoner
from release_agent.reasoners.gemini import GeminiReasoner
from release_agent.reasoners.openai_compat import OpenAIReasoner
from release_agent.reasoners.registry import REASONER_NAMES, build_reasoner, resolve_name


@pytest.fixture(autouse=True)
def _no_llm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RELEASE_AGENT_LLM_TIMEOUT",
        "RELEASE_AGENT_LLM_RETRIES",
        "RELEASE_AGENT_LLM_BACKOFF",
    ):
        monkeypatch.delenv(name, raising=False)


def test_the_names() -> None:
    assert REASONER_NAMES == ("builtin", "gemini", "openai")


def test_nothing_set_means_builtin() -> None:
    assert isinstance(build_reasoner(), BuiltinReasoner)


@pytest.mark.parametrize("variable", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
def test_a_gemini_key_makes_gemini_the_default(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "k")
    reasoner = build_reasoner()
    assert isinstance(reasoner, GeminiReasoner)
    assert reasoner.model == "gemini-2.5-flash"


def test_the_explicit_choice_wins_over_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    assert isinstance(build_reasoner("builtin"), BuiltinReasoner)
    monkeypatch.setenv("RELEASE_AGENT_REASONER", "builtin")
    assert isinstance(build_reasoner(), BuiltinReasoner)
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    assert isinstance(build_reasoner("OpenAI"), OpenAIReasoner)


def test_model_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    assert getattr(build_reasoner("openai"), "model", None) == "gpt-4o-mini"
    monkeypatch.setenv("RELEASE_AGENT_MODEL", "llama3.2")
    assert getattr(build_reasoner("openai"), "model", None) == "llama3.2"
    assert getattr(build_reasoner("openai", "qwen2.5"), "model", None) == "qwen2.5"


def test_timeout_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    reasoner = build_reasoner("gemini")
    assert isinstance(reasoner, GeminiReasoner)
    assert (reasoner.settings.timeout, reasoner.settings.retries) == (30.0, 2)
    monkeypatch.setenv("RELEASE_AGENT_LLM_TIMEOUT", "2.5")
    monkeypatch.setenv("RELEASE_AGENT_LLM_RETRIES", "0")
    monkeypatch.setenv("RELEASE_AGENT_LLM_BACKOFF", "0.1")
    reasoner = build_reasoner("gemini")
    assert isinstance(reasoner, GeminiReasoner)
    assert (reasoner.settings.timeout, reasoner.settings.retries) == (2.5, 0)
    assert reasoner.settings.backoff == 0.1
    reasoner = build_reasoner("gemini", timeout=9, retries=4)
    assert isinstance(reasoner, GeminiReasoner)
    assert (reasoner.settings.timeout, reasoner.settings.retries) == (9, 4)


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("RELEASE_AGENT_LLM_TIMEOUT", "soon", "RELEASE_AGENT_LLM_TIMEOUT"),
        ("RELEASE_AGENT_LLM_TIMEOUT", "0", "RELEASE_AGENT_LLM_TIMEOUT"),
        ("RELEASE_AGENT_LLM_RETRIES", "-1", "RELEASE_AGENT_LLM_RETRIES"),
        ("RELEASE_AGENT_LLM_RETRIES", "1.5", "RELEASE_AGENT_LLM_RETRIES"),
        ("RELEASE_AGENT_REASONER", "claude", "RELEASE_AGENT_REASONER"),
    ],
)
def test_a_bad_setting_names_the_variable(
    variable: str, value: str, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidInput) as caught:
        build_reasoner()
    assert caught.value.field == field


def test_an_unknown_name_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_name("gpt")
    assert caught.value.field == "reasoner"
    assert caught.value.allowed == list(REASONER_NAMES)


def test_a_missing_gemini_key_says_which_variable_to_set() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_reasoner("gemini")
    assert caught.value.field == "reasoner"
    assert "GEMINI_API_KEY" in str(caught.value)


def test_a_missing_openai_key_says_which_variables_to_set() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_reasoner("openai")
    assert "OPENAI_API_KEY" in str(caught.value) and "OPENAI_BASE_URL" in str(caught.value)


def test_a_local_openai_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:11434/v1")
    reasoner = build_reasoner("openai", "llama3.2")
    assert isinstance(reasoner, OpenAIReasoner)
    assert reasoner.base_url == "http://localhost:11434/v1"


def test_an_empty_key_is_a_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "  ")
    assert isinstance(build_reasoner(), BuiltinReasoner)  # a blank key chooses nothing
    with pytest.raises(InvalidInput):
        build_reasoner("gemini")
