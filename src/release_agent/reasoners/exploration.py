"""What a deploy teaches: a refusal is not allowed to confirm itself.

A NO_GO teaches nothing: the release never goes out, no outcome ever shows that the fear
was wrong, and a kind of release once estimated too risky would be refused forever — on
the strength of early bad luck, or of priors alone. So when refusing is the cheapest
option on the estimate, the scheduling stage prices what deploying instead would teach
(:mod:`release_agent.stats.information`: the knowledge gradient for correlated beliefs,
looking several deploys ahead): the outcome of one deploy moves the estimates of every
release that shares its service, its feature risk, its hour or just the base rate, and
the releases asked about in the last :data:`RECURRENCE_DAYS` days (or since memory
began, when it is younger, but at least :data:`MIN_SPAN_DAYS`), with the one asked
about now, stand for those of the next :data:`TEACHING_DAYS` at the same pace. A young
memory thus still counts what its lessons will serve.
When the expected saving on them exceeds what the deploys cost more than refusing, the
built-in planner deploys, and says so.

Everything here is deterministic: the same request and memory get the same answer. As
evidence accumulates the beliefs narrow and the value falls: exploration stops by
itself. It never happens under a freeze, against a heuristic, or with ``explore =
false`` in the policy.
"""

from __future__ import annotations

from ..domain.models import Decision
from ..domain.options import Option, Teaching
from .base import PlanTask

RECURRENCE_DAYS = 30
"""How far back the decisions that stand for the later ones are read."""
TEACHING_DAYS = 90
"""How long what an outcome teaches is worth something: a quarter, after which services
and teams have changed enough that old evidence is worth less (and ages out of the risk
model's evidence too). Each decision of the last RECURRENCE_DAYS days stands for
TEACHING_DAYS / RECURRENCE_DAYS later ones."""
MIN_SPAN_DAYS = 1.0
"""The shortest span a pace is read over: a memory's first decisions, minutes apart, say
how many releases a day brings, not how many an hour. An empty memory shows no pace at
all: its first request teaches nothing it can count."""


def explore(task: PlanTask, chosen: Option) -> Teaching | None:
    """The deploy to take instead of ``chosen`` (a NO_GO) for what it teaches, or None."""
    teaching = task.teaching
    if (
        teaching is None
        or not task.explore
        or chosen.decision is not Decision.NO_GO
        or task.guardrails.forbid_go
        or teaching.deploys == 0
    ):
        return None
    return teaching
