"""Choosing a reasoner by name and from the environment.

Which reasoner (first that applies):

1. the ``name`` argument (the CLI's ``--reasoner``);
2. ``RELEASE_AGENT_REASONER``;
3. ``gemini`` when ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY`` is set;
4. ``builtin``.

The model is ``model`` (``--model``), else ``RELEASE_AGENT_MODEL``, else the provider's
default (:data:`DEFAULT_MODELS`). The timeout and retries are the arguments, else
``RELEASE_AGENT_LLM_TIMEOUT`` (seconds, default 30) and ``RELEASE_AGENT_LLM_RETRIES``
(default 2); ``RELEASE_AGENT_LLM_BACKOFF`` sets the first wait between retries (seconds,
default 0.5, doubling).

Keys and servers:

- ``gemini``: ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY`` (when both are set,
  ``GOOGLE_API_KEY`` wins, as in the google-genai SDK); ``GOOGLE_GEMINI_BASE_URL``
  replaces Google's endpoint.
- ``openai``: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``. With a base URL the key may be
  omitted, since local servers (Ollama, vLLM, llama.cpp) need none.

A requested LLM reasoner whose key is missing raises InvalidInput (``field="reasoner"``)
naming the variable to set, and one whose SDK is not installed names the extra to install
(``release-agent[gemini]``, ``release-agent[openai]``); there is never a silent fallback
to another reasoner. The SDKs are imported only when an LLM reasoner is built.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping

from ..domain.errors import InvalidInput
from . import gemini, openai_compat
from .base import Reasoner
from .llm import DEFAULT_BACKOFF, DEFAULT_RETRIES, DEFAULT_TIMEOUT, LLMSettings

REASONER_NAMES = ("builtin", "gemini", "openai")
DEFAULT_MODELS = {"gemini": gemini.DEFAULT_MODEL, "openai": openai_compat.DEFAULT_MODEL}

SDKS = {"gemini": ("google.genai", "google-genai"), "openai": ("openai", "openai")}
"""For each LLM reasoner: the module its SDK provides and the package that installs it;
the extra that brings the package is named after the reasoner."""

REASONER_VARIABLE = "RELEASE_AGENT_REASONER"
MODEL_VARIABLE = "RELEASE_AGENT_MODEL"
TIMEOUT_VARIABLE = "RELEASE_AGENT_LLM_TIMEOUT"
RETRIES_VARIABLE = "RELEASE_AGENT_LLM_RETRIES"
BACKOFF_VARIABLE = "RELEASE_AGENT_LLM_BACKOFF"


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def resolve_name(name: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The reasoner to use, by the order above. Raises InvalidInput for an unknown name."""
    env = os.environ if environ is None else environ
    chosen = (name or "").strip() or _env(env, REASONER_VARIABLE)
    if chosen is None:
        has_key = any(_env(env, v) for v in gemini.KEY_VARIABLES)
        return "gemini" if has_key else "builtin"
    chosen = chosen.lower()
    if chosen not in REASONER_NAMES:
        field = "reasoner" if name else REASONER_VARIABLE
        raise InvalidInput(f"{chosen!r} is not a reasoner", field=field, allowed=REASONER_NAMES)
    return chosen


def _number(
    value: float | int | None,
    environ: Mapping[str, str],
    variable: str,
    default: float,
    *,
    integer: bool = False,
    positive: bool = False,
    argument: str = "",
) -> float:
    field = argument or variable
    if value is None:
        field = variable
        text = _env(environ, variable)
        if text is None:
            return default
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            kind = "a whole number" if integer else "a number of seconds"
            raise InvalidInput(f"{text!r} is not {kind}", field=field) from None
    if value < 0 or (positive and value == 0) or not math.isfinite(value):
        bound = "a finite number greater than 0" if positive else "a finite number, 0 or more"
        raise InvalidInput(f"{value} is out of range; must be {bound}", field=field)
    return value


def llm_settings(
    provider: str,
    model: str | None = None,
    *,
    timeout: float | None = None,
    retries: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> LLMSettings:
    """The settings for ``provider``, from the arguments, then the environment, then defaults."""
    env = os.environ if environ is None else environ
    chosen = (model or "").strip() or _env(env, MODEL_VARIABLE) or DEFAULT_MODELS[provider]
    return LLMSettings(
        model=chosen,
        timeout=_number(
            timeout, env, TIMEOUT_VARIABLE, DEFAULT_TIMEOUT, positive=True, argument="timeout"
        ),
        retries=int(
            _number(
                retries, env, RETRIES_VARIABLE, DEFAULT_RETRIES, integer=True, argument="retries"
            )
        ),
        backoff=_number(None, env, BACKOFF_VARIABLE, DEFAULT_BACKOFF),
    )


def require_sdk(name: str) -> None:
    """Import the SDK of the LLM reasoner ``name``, or raise InvalidInput (``field=
    "reasoner"``) naming the extra that installs it."""
    module, package = SDKS[name]
    try:
        importlib.import_module(module)
    except ImportError:
        raise InvalidInput(
            f"the {name} reasoner needs the {package} package, which is not installed: "
            f"install release-agent[{name}] (python -m pip install 'release-agent[{name}]'), "
            "or choose --reasoner builtin",
            field="reasoner",
        ) from None


def build_reasoner(
    name: str | None = None,
    model: str | None = None,
    *,
    timeout: float | None = None,
    retries: int | None = None,
) -> Reasoner:
    """The reasoner chosen by ``name`` or the environment, ready to use.

    Raises InvalidInput (``field="reasoner"`` or the variable at fault) for an unknown
    name, a missing key or SDK, or a timeout/retries value out of range.
    """
    env = os.environ
    chosen = resolve_name(name, env)
    if chosen == "builtin":
        from .builtin import BuiltinReasoner

        return BuiltinReasoner()
    require_sdk(chosen)
    settings = llm_settings(chosen, model, timeout=timeout, retries=retries, environ=env)
    if chosen == "gemini":
        key = _env(env, "GOOGLE_API_KEY") or _env(env, "GEMINI_API_KEY")
        if key is None:
            raise InvalidInput(
                "the gemini reasoner needs an API key: set GEMINI_API_KEY (or "
                "GOOGLE_API_KEY), or choose --reasoner builtin",
                field="reasoner",
            )
        return gemini.GeminiReasoner(key, settings, base_url=_env(env, gemini.BASE_URL_VARIABLE))
    key = _env(env, openai_compat.KEY_VARIABLE)
    base_url = _env(env, openai_compat.BASE_URL_VARIABLE)
    if key is None and base_url is None:
        raise InvalidInput(
            "the openai reasoner needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
            "server such as Ollama (http://localhost:11434/v1), or choose --reasoner builtin",
            field="reasoner",
        )
    return openai_compat.OpenAIReasoner(key, settings, base_url=base_url)
