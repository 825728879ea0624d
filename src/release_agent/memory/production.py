"""Episodes stored before the ``production`` attribute existed: classified once.

``production`` (is the environment a production one, by the policy's patterns) is a
registry attribute, so its column is added to a stored database like any new one
(:func:`.migrations.add_attribute_columns`). The episodes already there are classified
as that column is added, by the default patterns (``prod``, ``production``, ``prod-*``,
``live``: what a policy that says nothing decides with), one statement per environment,
and the cells are then counted again, so that the risk model's ``non_production`` effect
is fitted on them as before. A team whose policy names other patterns has its later
episodes classified by them, as each is decided.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..domain.policy import DecisionSettings
from . import cells, schema


def backfill(conn: sa.Connection) -> int:
    """Classify the episodes whose ``production`` is unknown, inside the caller's
    transaction, and recount the cells if any was; returns how many environments were
    classified."""
    e = schema.episodes
    rules = DecisionSettings()
    envs = list(
        conn.execute(
            sa.select(e.c.env).where(e.c.production.is_(None), e.c.env.is_not(None)).distinct()
        ).scalars()
    )
    for env in envs:
        conn.execute(
            e.update()
            .where(e.c.env == env, e.c.production.is_(None))
            .values(production=rules.is_production(str(env)))
        )
    if envs:
        cells.rebuild(conn)
    return len(envs)
