"""Column types that are native where the database has them: a time is ``timestamptz``
and a JSON document ``jsonb`` on PostgreSQL; on SQLite, which has neither, a time is ISO
8601 text in UTC with a fixed width (so that text order is time order) and JSON is text.

Python sees the same values on every backend: an aware UTC datetime for a time, the
document's JSON text for a JSON column.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def iso(moment: datetime | None) -> str | None:
    """UTC ISO text with a fixed width, so that text order is time order."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"a stored time needs a UTC offset: {value.isoformat()}")
    return value.astimezone(UTC)


class Moment(sa.types.TypeDecorator[datetime]):
    """A point in time: ``timestamptz`` on PostgreSQL, fixed-width UTC ISO text elsewhere.

    Binds an aware datetime (or ISO text with an offset); reads an aware UTC datetime.
    Raises ValueError for a time without an offset, which no one could read back right.
    """

    impl = sa.String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(sa.String(40))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        moment = _moment(value)
        return moment if dialect.name == "postgresql" else iso(moment)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return _moment(value)


class JsonText(sa.types.TypeDecorator[str]):
    """A JSON document held as its text in Python: ``jsonb`` on PostgreSQL, text elsewhere.

    PostgreSQL keeps the document, not the text: it comes back with its keys sorted (as
    the store writes the documents whose order is shown) and without repeated keys.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB(none_as_null=True))
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        # JSONB's own bind processor serializes the document it is given. A NaN or an
        # infinity (Python's json module writes them) is no JSON: PostgreSQL refuses it.
        return json.loads(value, parse_constant=lambda _name: None)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None or dialect.name != "postgresql":
            return value
        return json.dumps(value, sort_keys=True)
