"""Mining: context patterns whose failure rate differs from the base rate.

Counts come from the database as aggregates (GROUP BY over deployed episodes with an
outcome), so mining costs one pass per attribute set, whatever the number of episodes.
A pattern's failure rate has a Beta(1 + failures, 1 + successes) posterior; a heuristic's
confidence is the posterior probability that the pattern's rate is above the base rate
(for cautionary heuristics) or below it (for GO heuristics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import sqlalchemy as sa
from scipy.stats import beta

from ..conditions import HOUR_ATTRIBUTE
from ..memory import schema
from ..memory.store import Store
from ..models import Decision
from ..reasoners.base import ExtractTask, HeuristicProposal, PatternStat

MINING_ATTRIBUTES = (
    "service",
    "env",
    "feature_risk",
    "service_criticality",
    "day_of_week",
    "clash",
    "weekend",
    "friday_afternoon",
    "out_of_hours",
)
TIME_ATTRIBUTES = frozenset(
    {"day_of_week", "hour_of_day", "weekend", "friday_afternoon", "out_of_hours", "clash"}
)
MIN_SUPPORT = 5
MIN_CONFIDENCE = 0.8
MIN_RATIO = 1.5
MAX_PROPOSALS = 20


def _column_condition(name: str, expected: Any) -> sa.ColumnElement[bool]:
    column = schema.episodes.c[name]
    if isinstance(expected, Mapping):
        low, high = expected["from"], expected["to"]
        if low <= high:
            return column.between(low, high)
        return sa.or_(column >= low, column <= high)
    if isinstance(expected, list):
        return column.in_(expected)
    return column == expected


def where_clause(when: Mapping[str, Any]) -> sa.ColumnElement[bool]:
    """SQL for 'this deployed episode matches ``when``' (same semantics as conditions)."""
    clauses = [schema.episodes.c.result.is_not(None)]
    clauses += [_column_condition(name, expected) for name, expected in when.items()]
    return sa.and_(*clauses)


def count_matching(store: Store, when: Mapping[str, Any]) -> tuple[int, int]:
    """(deployed with outcome, failures) among episodes matching ``when``."""
    e = schema.episodes
    query = sa.select(sa.func.count(), sa.func.sum(e.c.failed)).where(where_clause(when))
    with store.reading() as conn:
        deployed, failures = conn.execute(query).one()
    return int(deployed), int(failures or 0)


def pattern_stats(
    store: Store,
    attributes: Sequence[str] = MINING_ATTRIBUTES,
    max_size: int = 2,
    min_support: int = MIN_SUPPORT,
) -> tuple[int, int, list[PatternStat]]:
    """Base counts and the counts of every pattern of up to ``max_size`` attributes
    with at least ``min_support`` deploys."""
    base_deployed, base_failures = count_matching(store, {})
    stats: list[PatternStat] = []
    e = schema.episodes
    for size in range(1, max_size + 1):
        for names in combinations(attributes, size):
            columns = [e.c[n] for n in names]
            query = (
                sa.select(*columns, sa.func.count(), sa.func.sum(e.c.failed))
                .where(e.c.result.is_not(None))
                .where(sa.and_(*(c.is_not(None) for c in columns)))
                .group_by(*columns)
                .having(sa.func.count() >= min_support)
            )
            with store.reading() as conn:
                for row in conn.execute(query):
                    when = {n: _plain(row[i]) for i, n in enumerate(names)}
                    stats.append(PatternStat(when, int(row[-2]), int(row[-1] or 0)))
    return base_deployed, base_failures, stats


def _plain(value: Any) -> Any:
    return bool(value) if isinstance(value, bool) else value


def probability_above(failures: int, deployed: int, rate: float) -> float:
    """Posterior P(pattern failure rate > rate) under a uniform Beta(1, 1) prior."""
    return float(beta.sf(rate, 1 + failures, 1 + deployed - failures))


def cautionary_recommendation(when: Mapping[str, Any]) -> Decision:
    """Waiting helps when the risk lies in the timing; otherwise the change itself is risky."""
    return Decision.DELAY if TIME_ATTRIBUTES & set(when) else Decision.NO_GO


def propose(task: ExtractTask) -> list[HeuristicProposal]:
    """Heuristics the counts support, strongest first, at most MAX_PROPOSALS."""
    if task.base_deployed < MIN_SUPPORT:
        return []
    base = (task.base_failures + 1) / (task.base_deployed + 2)
    proposals = []
    for stat in task.patterns:
        if stat.deployed < MIN_SUPPORT or HOUR_ATTRIBUTE in stat.when:
            continue
        rate = (stat.failures + 1) / (stat.deployed + 2)
        above = probability_above(stat.failures, stat.deployed, base)
        if rate >= MIN_RATIO * base and above >= MIN_CONFIDENCE:
            recommendation, confidence = cautionary_recommendation(stat.when), above
        elif rate * MIN_RATIO <= base and 1 - above >= MIN_CONFIDENCE:
            recommendation, confidence = Decision.GO, 1 - above
        else:
            continue
        proposals.append(
            HeuristicProposal(
                when=dict(stat.when),
                recommendation=recommendation,
                confidence=round(confidence, 3),
                supporting_episodes=stat.deployed,
                rationale=(
                    f"{stat.failures} failures in {stat.deployed} deploys "
                    f"({100 * stat.failures / stat.deployed:.1f}%) against a base rate of "
                    f"{100 * task.base_failures / task.base_deployed:.1f}%"
                ),
            )
        )
    proposals.sort(key=lambda p: (-p.confidence, -p.supporting_episodes))
    return proposals[:MAX_PROPOSALS]
