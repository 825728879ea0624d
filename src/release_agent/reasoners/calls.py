"""Calling a reasoner: timing, usage and faults recorded the same way for every task."""

from __future__ import annotations

import time
from typing import Any, TypeVar

from pydantic import ValidationError

from ..domain.errors import ReasonerError, RuntimeFault
from ..domain.models import ReasonerCall
from .base import Answer, Reasoner

T = TypeVar("T")


def invoke(
    reasoner: Reasoner, task_name: str, task: Any
) -> tuple[Any | None, ReasonerCall, ReasonerError | None]:
    """Run ``reasoner.<task_name>(task)``.

    Never raises for a reasoner's fault: any exception from the reasoner — including a
    bug, or an answer that fails validation — comes back as a ReasonerError, with the
    call record saying what failed.
    """
    started = time.perf_counter()
    error: ReasonerError | None = None
    answer: Answer[Any] | None = None
    try:
        answer = getattr(reasoner, task_name)(task)
    except ReasonerError as caught:
        error = caught
    except ValidationError as caught:
        error = ReasonerError(f"answer out of schema: {caught.errors()[0]['msg']}", kind="schema")
    except Exception as caught:  # a reasoner's bug must not take the decision with it
        error = ReasonerError(f"{type(caught).__name__}: {caught}", kind="internal")
    latency = (time.perf_counter() - started) * 1000.0
    own = answer.call if answer is not None else error.call if error is not None else None
    if isinstance(own, ReasonerCall):
        # The reasoner kept its own record (attempts, status, tokens): that is the call.
        return (answer.value if answer is not None else None), own, error
    usage = answer.usage if answer is not None else None
    call = ReasonerCall(
        task=task_name,
        reasoner=reasoner.name,
        model=(usage.model if usage else None) or getattr(reasoner, "model", None),
        latency_ms=round(latency, 2),
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        ok=error is None,
        error=clip(f"{error.kind}: {error}") if error else None,
    )
    return (answer.value if answer is not None else None), call, error


def builtin(reasoner: Reasoner, task_name: str, task: Any, kind: type[T]) -> tuple[T, ReasonerCall]:
    """Run the built-in reasoner, the fallback of every other: it has no fallback of its
    own, so its failure is a fault of release-agent (RuntimeFault, exit 1), never a
    decision."""
    value, call, error = invoke(reasoner, task_name, task)
    if error is not None or not isinstance(value, kind):
        raise RuntimeFault(f"the built-in reasoner failed to {task_name}: {error}")
    return value, call


ERROR_CHARS = 300


def clip(text: str, limit: int = ERROR_CHARS) -> str:
    """At most ``limit`` characters: a reasoner's error may quote its whole answer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def with_fallback(call: ReasonerCall, fallback: str) -> ReasonerCall:
    return call.model_copy(update={"fallback": fallback})
