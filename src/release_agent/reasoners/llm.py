"""What every LLM-backed reasoner shares: settings, retries, JSON extraction, call records.

A provider (``gemini.py``, ``openai_compat.py``) implements one method, :meth:`LLMReasoner.
_complete`, which makes exactly one HTTP request and returns the model's text with its usage,
or raises :class:`~release_agent.domain.errors.ReasonerError`. Everything else lives here, the same
for every provider:

- the four tasks render their prompt (``llm_prompts``), ask with the task's JSON schema,
  and validate the answer with our own pydantic models (``llm_answers``);
- retries: a 408/429/5xx answer or a failed connection is retried ``retries`` times with
  exponential backoff and jitter (a server's ``Retry-After`` is honoured up to
  ``max_backoff``). A timeout is not retried: the timeout is the budget of the call, and
  the pipeline fails closed on it;
- every call, good or bad, is logged and kept in :attr:`LLMReasoner.calls` (the latest
  ``MAX_RECORDS``), with its attempts, latency, tokens and fault.

Any fault ends in a ReasonerError whose ``kind`` is one of timeout, connection, http,
invalid_json, schema, refusal, truncated or missing_key; nothing else escapes a task.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from ..domain.errors import ReasonerError
from ..domain.models import Confirmation, Plan, ReasonerCall, Review
from . import llm_answers, llm_prompts
from .base import (
    Answer,
    ConfirmTask,
    ExtractTask,
    HeuristicProposal,
    PlanTask,
    ReviewTask,
    Usage,
)
from .calls import clip

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses worth another attempt: the server is busy or failed transiently."""

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF = 0.5
DEFAULT_MAX_BACKOFF = 8.0
MAX_RECORDS = 200


@dataclass(frozen=True)
class LLMSettings:
    """How an LLM reasoner calls its model."""

    model: str
    timeout: float = DEFAULT_TIMEOUT
    """Seconds one HTTP request may take before it counts as a timeout."""
    retries: int = DEFAULT_RETRIES
    """Further attempts after a retryable failure (so ``retries + 1`` requests at most)."""
    backoff: float = DEFAULT_BACKOFF
    """Seconds before the first retry; doubled for each further one."""
    max_backoff: float = DEFAULT_MAX_BACKOFF
    """No wait between attempts is longer than this, whatever the server asks."""

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("model must not be empty")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff must be 0 or more")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_backoff)
        base = self.backoff * (2 ** (attempt - 1))
        return min(base * (0.5 + random.random() / 2), self.max_backoff)


class TransientError(ReasonerError):
    """A fault that another attempt may cure (HTTP 408/429/5xx, a dropped connection)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, kind=kind, status_code=status_code)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Completion:
    """The model's raw text for one request and what it cost."""

    text: str
    usage: Usage


_FENCE = re.compile(r"```[ \t]*(?:json|JSON|javascript)?[ \t]*\r?\n?(.*?)```", re.DOTALL)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer.

    Accepts bare JSON, JSON inside a markdown fence (```json ... ```), surrounding
    whitespace and a sentence of prose around one object. Raises ReasonerError
    (``invalid_json``) when no JSON object can be read; NaN and Infinity are refused.
    """
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise ReasonerError("the model's answer was empty", kind="invalid_json")
    candidates = [stripped]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(stripped)]
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate, parse_constant=_reject_constant)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
        raise ReasonerError(
            f"the model answered JSON {type(data).__name__}, not an object", kind="invalid_json"
        )
    preview = stripped[:120].replace("\n", " ")
    raise ReasonerError(f"the model's answer is not JSON: {preview!r}", kind="invalid_json")


def schema_error(error: ValidationError, task: str) -> ReasonerError:
    """A ReasonerError (``schema``) naming the first field the answer got wrong."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return ReasonerError(f"{task} answer: {where}: {message}", kind="schema")


class LLMReasoner(ABC):
    """A reasoner that asks a language model; subclasses speak one provider's API.

    Guarantees: each task returns a value that passed our own validation, or raises
    ReasonerError. A task makes at most ``settings.retries + 1`` requests.
    """

    name: str = "llm"
    """The provider's name, as shown in the trace (``gemini``, ``openai``)."""

    def __init__(
        self, settings: LLMSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.calls: deque[ReasonerCall] = deque(maxlen=MAX_RECORDS)
        """The latest calls, oldest first (bounded, for long-running servers)."""
        self._sleep = sleep

    @property
    def model(self) -> str:
        return self.settings.model

    @abstractmethod
    def _complete(
        self, system: str, user: str, schema: Mapping[str, Any], schema_name: str
    ) -> Completion:
        """Send one request and return the answer's text.

        Raises TransientError for faults worth retrying and ReasonerError for the rest
        (including a refusal or a truncated answer).
        """

    # The four tasks of the protocol.

    def plan(self, task: PlanTask) -> Answer[Plan]:
        prompt = llm_prompts.render_plan(task)
        return self._ask(
            "plan", prompt, llm_answers.PLAN_SCHEMA, lambda d: llm_answers.to_plan(d, task)
        )

    def review(self, task: ReviewTask) -> Answer[Review]:
        prompt = llm_prompts.render_review(task)
        return self._ask("review", prompt, llm_answers.REVIEW_SCHEMA, llm_answers.to_review)

    def confirm(self, task: ConfirmTask) -> Answer[Confirmation]:
        prompt = llm_prompts.render_confirm(task)
        return self._ask("confirm", prompt, llm_answers.CONFIRM_SCHEMA, llm_answers.to_confirmation)

    def extract(self, task: ExtractTask) -> Answer[list[HeuristicProposal]]:
        prompt = llm_prompts.render_extract(task)
        return self._ask("extract", prompt, llm_answers.EXTRACT_SCHEMA, llm_answers.to_proposals)

    def _ask(
        self,
        task: str,
        prompt: llm_prompts.Prompt,
        schema: Mapping[str, Any],
        convert: Callable[[dict[str, Any]], T],
    ) -> Answer[T]:
        started = time.monotonic()
        attempts = 0
        completion: Completion | None = None
        try:
            while True:
                attempts += 1
                try:
                    completion = self._complete(
                        prompt.system, prompt.user, schema, f"release_agent_{task}"
                    )
                    break
                except TransientError as error:
                    if attempts > self.settings.retries:
                        raise ReasonerError(
                            f"{error} (gave up after {attempts} attempts)",
                            kind=error.kind,
                            status_code=error.status_code,
                        ) from error
                    wait = self.settings.delay(attempts, error.retry_after)
                    log.info("%s %s: %s; retrying in %.2fs", self.name, task, error, wait)
                    self._sleep(wait)
            try:
                value = convert(extract_json(completion.text))
            except ValidationError as error:
                raise schema_error(error, task) from None
        except ReasonerError as error:
            error.call = self._record(task, started, attempts, completion, error)
            raise
        call = self._record(task, started, attempts, completion, None)
        return Answer(value, completion.usage, call)

    def _record(
        self,
        task: str,
        started: float,
        attempts: int,
        completion: Completion | None,
        error: ReasonerError | None,
    ) -> ReasonerCall:
        usage = completion.usage if completion else Usage()
        record = ReasonerCall(
            task=task,
            reasoner=self.name,
            model=usage.model or self.model,
            attempts=attempts,
            latency_ms=round((time.monotonic() - started) * 1000, 1),
            ok=error is None,
            error_kind=error.kind if error else None,
            status_code=error.status_code if error else None,
            error=clip(f"{error.kind}: {error}") if error else None,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
        )
        self.calls.append(record)
        if error is None:
            log.info("%s %s ok in %.0f ms", self.name, task, record.latency_ms)
        else:
            log.warning("%s %s failed (%s): %s", self.name, task, error.kind, error)
        return record


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The delay a ``Retry-After`` header asks for, in seconds (None if absent or a date)."""
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def http_error(
    provider: str, status: int, detail: str, key_variable: str, headers: Mapping[str, str] | None
) -> ReasonerError:
    """The ReasonerError for an HTTP error status, transient when worth a retry."""
    detail = " ".join(detail.split())[:300]
    if status in (401, 403):
        return ReasonerError(
            f"{provider} rejected the request (HTTP {status}): check {key_variable}. {detail}",
            kind="http",
            status_code=status,
        )
    message = f"{provider} answered HTTP {status}: {detail}"
    if status in RETRY_STATUS:
        return TransientError(
            message, kind="http", status_code=status, retry_after=retry_after_seconds(headers)
        )
    return ReasonerError(message, kind="http", status_code=status)


_TIMEOUTS = {"TimeoutException", "APITimeoutError", "TimeoutError", "ReadTimeout"}
_TRANSPORT = {"TransportError", "NetworkError", "ConnectError", "APIConnectionError"}


def transport_error(provider: str, error: BaseException, timeout: float) -> ReasonerError:
    """The ReasonerError for a failure other than an HTTP status.

    A timeout is final (``timeout``); a connection fault is transient (``connection``); a
    response body that cannot be read is ``invalid_json``; anything else ``internal``.
    """
    names = {cls.__name__ for cls in type(error).__mro__}
    if names & _TIMEOUTS:
        return ReasonerError(
            f"{provider} did not answer within {timeout:g} s; raise the timeout "
            "(RELEASE_AGENT_LLM_TIMEOUT) if the model is slow",
            kind="timeout",
        )
    if names & _TRANSPORT or isinstance(error, ConnectionError):
        return TransientError(
            f"cannot reach {provider}: {error or type(error).__name__}", kind="connection"
        )
    if isinstance(error, ValueError):  # includes JSONDecodeError and pydantic's errors
        return ReasonerError(
            f"{provider}'s response could not be read: {str(error)[:200]}", kind="invalid_json"
        )
    return ReasonerError(
        f"unexpected failure calling {provider}: {type(error).__name__}: {str(error)[:200]}",
        kind="internal",
    )


def usage_of(model: str, input_tokens: Any, output_tokens: Any) -> Usage:
    """A Usage with token counts kept only when they are integers."""

    def count(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return Usage(model=model, input_tokens=count(input_tokens), output_tokens=count(output_tokens))
