"""Finding decisions by what a caller knows of them: the ref it gave, or a prefix of the
release id (as git takes a prefix of a commit's hash).

A ref names one release. Its live decision is the newest one stored with it that no
later decision superseded; a unique partial index (``ux_episodes_ref_live``) keeps it
one, so two processes deciding the same ref at once cannot both store a decision: the
second is told which one won (:class:`RefTaken`) and answers that one.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..domain.errors import NotFound
from . import schema

MIN_PREFIX = 6
"""The shortest release id prefix accepted (an exact id of any length is accepted)."""
SHOWN_MATCHES = 5
"""How many of the ids an ambiguous prefix matches its error lists."""


class AmbiguousId(NotFound):
    """A prefix that starts more than one decision's id: it names none of them."""


class RefTaken(Exception):
    """Another decision with the same ref was stored first; ``release_id`` is its id."""

    def __init__(self, release_id: str) -> None:
        super().__init__(release_id)
        self.release_id = release_id


def live_id(conn: sa.Connection, ref: str) -> str | None:
    """The release id of the live (not superseded) decision with ``ref``, if any."""
    e = schema.episodes
    return conn.execute(
        sa.select(e.c.release_id)
        .where(e.c.ref == ref, e.c.superseded_by.is_(None), e.c.source == "agent")
        .order_by(e.c.id.desc())
        .limit(1)
    ).scalar()


def ids_with_ref(conn: sa.Connection, ref: str) -> list[int]:
    """The row ids of every decision with ``ref`` (superseded ones too), newest first."""
    e = schema.episodes
    query = sa.select(e.c.id).where(e.c.ref == ref, e.c.source == "agent")
    return list(conn.execute(query.order_by(e.c.id.desc())).scalars())


def store_with_ref(
    conn: sa.Connection, row: dict[str, Any], ref: str, supersedes: str | None
) -> None:
    """Insert the decision ``row`` with ``ref`` inside the caller's write transaction,
    marking ``supersedes`` (the live decision it replaces, or None for a first one) as
    superseded by it. Raises RefTaken when the live decision is not ``supersedes``: another
    writer stored one in between, and nothing is written."""
    e = schema.episodes
    current = live_id(conn, ref)
    if current != supersedes:
        if current is None:  # what it replaces was itself replaced: answer the newest
            current = _newest_id(conn, ref) or supersedes
        raise RefTaken(current or "")
    if supersedes is not None:
        conn.execute(
            e.update().where(e.c.release_id == supersedes).values(superseded_by=row["release_id"])
        )
    conn.execute(e.insert().values(**row))


def _newest_id(conn: sa.Connection, ref: str) -> str | None:
    e = schema.episodes
    return conn.execute(
        sa.select(e.c.release_id)
        .where(e.c.ref == ref, e.c.source == "agent")
        .order_by(e.c.id.desc())
        .limit(1)
    ).scalar()


def resolve(conn: sa.Connection, text: str) -> str:
    """The release id that ``text`` names: the id itself, or the one agent decision whose
    id starts with it (at least :data:`MIN_PREFIX` characters). Raises NotFound when none
    does, AmbiguousId (a NotFound) when several do, saying how many."""
    e = schema.episodes
    exact = conn.execute(sa.select(e.c.release_id).where(e.c.release_id == text)).scalar()
    if exact is not None:
        return str(exact)
    if len(text) < MIN_PREFIX:
        raise NotFound(
            f"no decision with id {text!r} (a prefix of an id needs at least "
            f"{MIN_PREFIX} characters)",
            field="release_id",
        )
    # LIKE may ignore case (SQLite does): keep the ids that really start with the text.
    found = conn.execute(
        sa.select(e.c.release_id)
        .where(e.c.source == "agent", e.c.release_id.startswith(text, autoescape=True))
        .order_by(e.c.release_id)
    ).scalars()
    matches = [str(r) for r in found if str(r).startswith(text)]
    if not matches:
        raise NotFound(f"no decision with id {text!r} or starting with it", field="release_id")
    if len(matches) > 1:
        listed = ", ".join(matches[:SHOWN_MATCHES])
        extra = len(matches) - SHOWN_MATCHES
        more = f", ... ({extra} more)" if extra > 0 else ""
        raise AmbiguousId(
            f"{text!r} is ambiguous: {len(matches)} decisions start with it ({listed}{more}); "
            "give more characters of the id",
            field="release_id",
        )
    return matches[0]
