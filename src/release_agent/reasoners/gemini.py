"""The Gemini reasoner, through the official ``google-genai`` SDK.

One ``generateContent`` request per attempt, with the task's instructions as the system
instruction, ``responseMimeType: application/json``, the task's JSON schema as
``responseJsonSchema`` and temperature 0. The SDK's own retries are off (retries are ours,
see ``llm.py``) and its ``parsed`` field is never read: the text is validated by our code.

The base URL is the SDK's: ``GOOGLE_GEMINI_BASE_URL`` when set, else Google's endpoint.
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
    from google.genai import types

# The SDK is imported where it is used, not here: importing this module (for its
# constants) must not load google-genai, which is slow to import and an optional extra.

DEFAULT_MODEL = "gemini-2.5-flash"
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
BASE_URL_VARIABLE = "GOOGLE_GEMINI_BASE_URL"

_REFUSALS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "LANGUAGE",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "OTHER",
    }
)
_FINISHED = frozenset({"STOP", "FINISH_REASON_UNSPECIFIED", ""})


def _name(value: Any) -> str:
    """An enum member's or a plain string's name, upper-case."""
    return str(getattr(value, "value", value) or "").upper()


class GeminiReasoner(LLMReasoner):
    """Plans, reviews, confirms and extracts with a Gemini model.

    Raises ReasonerError (``missing_key``) at construction when ``api_key`` is empty.
    """

    name = "gemini"

    def __init__(
        self,
        api_key: str,
        settings: LLMSettings,
        *,
        base_url: str | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ReasonerError(
                "no Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY)", kind="missing_key"
            )
        from google import genai
        from google.genai import types

        super().__init__(settings, **({"sleep": sleep} if sleep else {}))
        http_options = types.HttpOptions(
            timeout=max(1, round(settings.timeout * 1000)),
            base_url=base_url or None,
        )
        self._client = genai.Client(api_key=api_key.strip(), http_options=http_options)

    def _complete(
        self, system: str, user: str, schema: Mapping[str, Any], schema_name: str
    ) -> Completion:
        from google.genai import errors as genai_errors
        from google.genai import types

        config = types.GenerateContentConfig(
            system_instruction=system,
            temperature=0,
            candidate_count=1,
            response_mime_type="application/json",
            response_json_schema=dict(schema),
        )
        try:
            response = self._client.models.generate_content(
                model=self.model, contents=user, config=config
            )
        except genai_errors.APIError as error:
            headers = getattr(getattr(error, "response", None), "headers", None)
            detail = error.message or str(error.details or error)
            raise http_error(
                "Gemini", error.code, detail, "GEMINI_API_KEY (or GOOGLE_API_KEY)", headers
            ) from None
        except ReasonerError:
            raise
        except Exception as error:  # httpx/httpx2 timeouts and transport faults
            raise transport_error("Gemini", error, self.settings.timeout) from None
        return self._read(response)

    def _read(self, response: types.GenerateContentResponse) -> Completion:
        """The answer's text, or ReasonerError for a blocked, stopped or empty answer."""
        meta = response.usage_metadata
        output = None
        if meta is not None and meta.candidates_token_count is not None:
            output = meta.candidates_token_count + (meta.thoughts_token_count or 0)
        usage = usage_of(
            response.model_version or self.model,
            meta.prompt_token_count if meta else None,
            output,
        )
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason:
            raise ReasonerError(
                f"Gemini refused the prompt ({_name(feedback.block_reason)})", kind="refusal"
            )
        if not response.candidates:
            raise ReasonerError("Gemini answered with no candidate", kind="invalid_json")
        candidate = response.candidates[0]
        reason = _name(candidate.finish_reason)
        if reason == "MAX_TOKENS":
            raise ReasonerError(
                "Gemini's answer was cut off at the output token limit (MAX_TOKENS)",
                kind="truncated",
            )
        if reason in _REFUSALS:
            raise ReasonerError(f"Gemini stopped the answer ({reason})", kind="refusal")
        if reason not in _FINISHED:
            raise ReasonerError(f"Gemini stopped the answer ({reason})", kind="invalid_json")
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(p.text for p in parts if p.text and not p.thought)
        return Completion(text=text, usage=usage)
