"""Which stored outcomes are evidence: those of releases that went out.

An outcome of ``not_deployed`` says the release never went out. It is kept on the
episode (the record shows it, and a later real outcome may replace it), but it is no
evidence about failure: it is not counted in a cell, weighed, recalled as a similar or
recent outcome, nor counted among the outcomes that call for a learning run. Every query
that reads outcomes as evidence filters with :func:`counted`, and every write that
counts one asks :func:`counts`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..domain.models import Result

NOT_DEPLOYED = Result.not_deployed.value


def counted(table: sa.Table) -> sa.ColumnElement[bool]:
    """The episodes of ``table`` whose outcome is evidence: recorded, and deployed."""
    result = table.c.result
    return sa.and_(result.is_not(None), result != NOT_DEPLOYED)


def counts(result: Any) -> bool:
    """Whether a stored ``result`` (a Result, its text, or None) is evidence."""
    return result is not None and str(result) != NOT_DEPLOYED


def failed_column(result: Result) -> int | None:
    """The ``failed`` column of an outcome: 1 or 0 for a deploy, NULL when there was
    none."""
    return int(result.failed) if result.deployed else None
