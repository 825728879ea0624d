"""The reasoner for OpenAI and every OpenAI-compatible server, through the official SDK.

One ``POST {base_url}/chat/completions`` per attempt: a system and a user message,
temperature 0, and ``response_format`` ``json_schema`` (strict) carrying the task's schema.
The SDK's own retries are off (retries are ours, see ``llm.py``).

``base_url`` reaches any compatible server: OpenAI by default, or e.g. Ollama at
``http://localhost:11434/v1``, vLLM or llama.cpp. Local servers usually need no key; with a
base URL and no key the client sends the placeholder :data:`NO_KEY`, which they ignore.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..domain.errors import ReasonerError
from .llm import (
    Completion,
    LLMReasoner,
    LLMSettings,
    http_error,
    transport_error,
    usage_of,
)

if TYPE_CHECKING:
    import openai

# The SDK is imported where it is used, not here: importing this module (for its
# constants) must not load openai, which is slow to import and an optional extra.

DEFAULT_MODEL = "gpt-4o-mini"
KEY_VARIABLE = "OPENAI_API_KEY"
BASE_URL_VARIABLE = "OPENAI_BASE_URL"
NO_KEY = "no-key"
"""Sent as the bearer token to a server given by base URL when no key is set."""


class OpenAIReasoner(LLMReasoner):
    """Plans, reviews, confirms and extracts with a chat model behind an OpenAI-style API.

    Raises ReasonerError (``missing_key``) at construction when there is neither a key nor
    a base URL: OpenAI itself always needs a key.
    """

    name = "openai"

    def __init__(
        self,
        api_key: str | None,
        settings: LLMSettings,
        *,
        base_url: str | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        key = (api_key or "").strip()
        if not key and not base_url:
            raise ReasonerError(
                "no OpenAI API key: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
                "server that needs none",
                kind="missing_key",
            )
        import openai

        super().__init__(settings, **({"sleep": sleep} if sleep else {}))
        self.base_url = base_url or None
        self._client = openai.OpenAI(
            api_key=key or NO_KEY,
            base_url=self.base_url,
            timeout=settings.timeout,
            max_retries=0,
        )

    def _complete(
        self, system: str, user: str, schema: Mapping[str, Any], schema_name: str
    ) -> Completion:
        import openai

        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
                temperature=0,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": schema_name, "schema": dict(schema), "strict": True},
                },
            )
        except openai.APIStatusError as error:
            raise http_error(
                "the OpenAI-compatible server",
                error.status_code,
                _detail(error),
                KEY_VARIABLE,
                error.response.headers,
            ) from None
        except Exception as error:  # timeouts, connection faults, unreadable bodies
            raise transport_error(
                "the OpenAI-compatible server", error, self.settings.timeout
            ) from None
        return self._read(response)

    def _read(self, response: Any) -> Completion:
        """The answer's text, or ReasonerError for a refused, cut-off or empty answer."""
        choices = getattr(response, "choices", None)
        usage_data = getattr(response, "usage", None)
        usage = usage_of(
            getattr(response, "model", None) or self.model,
            getattr(usage_data, "prompt_tokens", None),
            getattr(usage_data, "completion_tokens", None),
        )
        if not choices:
            raise ReasonerError(
                "the OpenAI-compatible server answered with no choice", kind="invalid_json"
            )
        choice = choices[0]
        message = getattr(choice, "message", None)
        finish = str(getattr(choice, "finish_reason", "") or "")
        refusal = getattr(message, "refusal", None)
        if refusal:
            raise ReasonerError(f"the model refused: {str(refusal)[:200]}", kind="refusal")
        if finish == "content_filter":
            raise ReasonerError("the answer was withheld by a content filter", kind="refusal")
        if finish == "length":
            raise ReasonerError(
                "the answer was cut off at the output token limit (finish_reason length)",
                kind="truncated",
            )
        content = getattr(message, "content", None)
        if not isinstance(content, str):
            raise ReasonerError("the answer carried no text", kind="invalid_json")
        return Completion(text=content, usage=usage)


def _detail(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
    return str(error.message or "")
