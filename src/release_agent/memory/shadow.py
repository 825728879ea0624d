"""Counting what shadow decisions would have done (see :mod:`release_agent.domain.shadow`).

The agent's own decision counts: a decision overridden since is counted as the agent
made it, read from the first entry of its audit log.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa

from ..domain.models import Decision
from ..domain.shadow import ShadowCounts, ShadowReport
from . import schema


def report(
    conn: sa.Connection, env: str | None, since: datetime | None, *, team: str | None = None
) -> ShadowReport:
    """Shadow decisions by environment and by the agent's decision; ``team``: only that
    team's."""
    e, o = schema.episodes, schema.overrides
    first = (
        sa.select(o.c.from_decision)
        .where(o.c.release_id == e.c.release_id)
        .order_by(o.c.id)
        .limit(1)
        .scalar_subquery()
    )
    agent_decision = sa.func.coalesce(first, e.c.decision).label("agent_decision")
    query = (
        sa.select(e.c.env, agent_decision, sa.func.count())
        .where(e.c.source == "agent", e.c.shadow.is_(True))
        .group_by(e.c.env, agent_decision)
    )
    if env is not None:
        query = query.where(e.c.env == env.strip().lower())
    if since is not None:
        query = query.where(e.c.created_at >= since)
    if team is not None:
        query = query.where(e.c.team == team)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row_env, decision, count in conn.execute(query):
        counts[str(row_env)][str(decision)] = int(count)
    by_env = {name: _counts(values) for name, values in counts.items()}
    total = ShadowCounts(
        go=sum(c.go for c in by_env.values()),
        delay=sum(c.delay for c in by_env.values()),
        no_go=sum(c.no_go for c in by_env.values()),
    )
    return ShadowReport(total=total, by_env=by_env)


def _counts(values: dict[str, int]) -> ShadowCounts:
    return ShadowCounts(
        go=values.get(Decision.GO.value, 0),
        delay=values.get(Decision.DELAY.value, 0),
        no_go=values.get(Decision.NO_GO.value, 0),
    )
