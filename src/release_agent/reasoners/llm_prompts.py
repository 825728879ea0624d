"""Prompts for the LLM reasoners, rendered from the files in ``prompts/``.

Each task has one file (``plan.md``, ``review.md``, ``confirm.md``, ``extract.md``) with a
``# System`` section (the instructions) and a ``# User`` section (the data, as a
``string.Template`` with ``$placeholders``). The wording lives in those files so that it is
reviewed like code; this module only fills in the data.

Guarantees about the data:
- facts the pipeline computed go in as JSON inside tagged blocks;
- every string from outside (notes, past episodes' summaries, a plan's reason) is
  neutralised so it cannot close or open a tag: in JSON ``<``, ``>`` and ``&`` become
  ``\\u003c``, ``\\u003e`` and ``\\u0026``; the notes, kept as plain text inside
  ``<untrusted_notes>``, are HTML-escaped (``&lt;``, ``&gt;``, ``&amp;``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any

from ..domain.attributes import ATTRIBUTES, Kind
from ..domain.conditions import describe as describe_when
from ..domain.episodes import EpisodeSummary
from ..domain.models import Heuristic, Plan, Review
from ..domain.options import Option
from .base import ConfirmTask, ExtractTask, PlanTask, ReviewTask
from .llm_answers import offered_windows

TASKS = ("plan", "review", "confirm", "extract")


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str


@cache
def _template(task: str) -> tuple[str, Template]:
    text = resources.files(__package__).joinpath("prompts", f"{task}.md").read_text("utf-8")
    head, sep, user = text.partition("\n# User\n")
    if not sep or not head.lstrip().startswith("# System\n"):
        raise RuntimeError(f"prompts/{task}.md must have a '# System' then a '# User' section")
    system = head.lstrip().removeprefix("# System\n").strip()
    # The system text is fixed but for the attribute vocabulary, from the registry.
    system = Template(system).substitute(when_shape=when_shape())
    return system, Template(user.strip() + "\n")


def render(task: str, **data: str) -> Prompt:
    """Fill ``prompts/<task>.md``; a placeholder without data raises KeyError."""
    system, user = _template(task)
    return Prompt(system=system, user=user.substitute(data))


def data_json(value: Any) -> str:
    """JSON that cannot open or close a tag, whatever strings it holds."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def untrusted_text(text: str | None) -> str:
    """Free text from a requester, escaped so that it cannot close its data block."""
    if text is None or not text.strip():
        return "(none)"
    return html.escape(text.strip(), quote=False)


def _heuristic(h: Heuristic) -> dict[str, Any]:
    return {
        "id": h.id,
        "when": describe_when(h.when),
        "recommendation": h.recommendation.value,
        "confidence": round(h.confidence, 3),
        "support": h.support,
        "failures": h.failures,
        "successes": h.successes,
    }


def _episode(e: EpisodeSummary) -> dict[str, Any]:
    return {
        "release_id": e.release_id,
        "attributes": e.attributes,
        "decision": e.decision.value,
        "outcome": e.result or "not recorded",
        "summary": e.summary,
    }


def _option(option: Option, *, allowed: bool = True) -> dict[str, Any]:
    return {**option.to_dict(), "allowed": allowed}


def _plan(plan: Plan) -> dict[str, Any]:
    return {
        "decision": plan.decision.value,
        "reason": plan.reason,
        "confidence": plan.confidence,
        "next_window": plan.next_window.isoformat() if plan.next_window else None,
        "followed_heuristics": plan.followed_heuristics,
    }


def _review(review: Review) -> dict[str, Any]:
    return {
        "concerns": review.concerns,
        "risk_level": review.risk_level.value,
        "suggested_action": review.suggested_action.value,
    }


def _plan_data(task: PlanTask) -> dict[str, str]:
    """The data every task about one release shares."""
    ctx = task.context
    guardrails = task.guardrails
    options = [
        _option(task.go_now, allowed=not guardrails.forbid_go),
        *(_option(o) for o in offered_windows(task)),
        _option(task.no_go),
    ]
    costs = {
        "failure": task.costs.failure_cost(ctx.service_criticality, ctx.production),
        "delay_per_hour": task.costs.delay_per_hour,
        "no_go": task.costs.no_go,
    }
    return {
        "context": data_json(ctx.model_dump(mode="json")),
        "guardrails": data_json(
            {
                "go_allowed": not guardrails.forbid_go,
                "reasons": list(guardrails.reasons),
                "open_at": guardrails.open_at.isoformat() if guardrails.open_at else None,
            }
        ),
        "heuristics": data_json([_heuristic(h) for h in task.heuristics]),
        "episodes": data_json([_episode(e) for e in task.similar]),
        "costs": data_json(costs),
        "options": data_json(options),
        "notes": untrusted_text(task.notes),
    }


def render_plan(task: PlanTask) -> Prompt:
    return render("plan", **_plan_data(task))


def render_review(task: ReviewTask) -> Prompt:
    return render("review", **_plan_data(task.plan_task), plan=data_json(_plan(task.plan)))


def render_confirm(task: ConfirmTask) -> Prompt:
    return render(
        "confirm",
        **_plan_data(task.plan_task),
        plan=data_json(_plan(task.plan)),
        review=data_json(_review(task.review)),
    )


def _attributes() -> dict[str, Any]:
    """Each attribute with what it means and the values it takes, from the registry."""
    known: dict[str, Any] = {}
    for a in ATTRIBUTES:
        if a.kind is Kind.text:
            values: Any = "any name"
        elif a.kind is Kind.hour:
            values = "0-23, as hour_from/hour_to"
        else:
            values = list(a.all_values)
        known[a.name] = {"meaning": a.meaning, "values": values}
    return known


def when_shape() -> str:
    """The ``when`` object of the extraction answer, every attribute set to null."""
    keys = []
    for a in ATTRIBUTES:
        keys += ["hour_from", "hour_to"] if a.kind is Kind.hour else [a.name]
    return "{" + ", ".join(f'"{k}": null' for k in keys) + "}"


def render_extract(task: ExtractTask) -> Prompt:
    patterns = [
        {
            "when": p.when,
            "deployed": p.deployed,
            "failures": p.failures,
            "failure_rate": round(p.failures / p.deployed, 3) if p.deployed else None,
        }
        for p in task.patterns
    ]
    base_rate = task.base_failures / task.base_deployed if task.base_deployed else None
    return render(
        "extract",
        base=data_json(
            {
                "deployed": task.base_deployed,
                "failures": task.base_failures,
                "failure_rate": round(base_rate, 3) if base_rate is not None else None,
            }
        ),
        patterns=data_json(patterns),
        existing=data_json([_heuristic(h) for h in task.existing]),
        episodes=data_json([_episode(e) for e in task.recent]),
        attributes=data_json(_attributes()),
        costs=data_json(
            {
                "failure": {k.value: v for k, v in task.costs.failure.items()},
                "delay_per_hour": task.costs.delay_per_hour,
                "no_go": task.costs.no_go,
            }
        ),
    )
