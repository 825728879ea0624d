"""Database URLs: which driver a URL means, and how to name one without its password.

``postgresql://``, ``postgres://`` (Heroku, many managed services) and
``postgresql+psycopg://`` all mean psycopg 3, the driver of the ``[postgres]`` extra,
whatever SQLAlchemy's own default for ``postgresql://`` is in the installed version.
A URL that names another driver (``postgresql+psycopg2://``) keeps it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import sqlalchemy as sa

POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_ALIASES = frozenset({"postgres", "postgresql", "postgres+psycopg"})
_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s]*@")
HIDDEN = "***"


def normalize(url: sa.URL) -> sa.URL:
    """``url`` with the driver release-agent uses for its backend."""
    if url.drivername in _POSTGRES_ALIASES:
        return url.set(drivername=POSTGRES_DRIVER)
    return url


def shown(url: sa.URL | str) -> str:
    """The URL as it may be printed or logged: its password replaced by ``***``."""
    if isinstance(url, sa.URL):
        return url.render_as_string(hide_password=True)
    return _CREDENTIALS.sub(lambda m: f"{m['head']}{HIDDEN}@", url)


def scrub(text: str, url: sa.URL | str | None) -> str:
    """``text`` (an error message, say) without the password of ``url`` in any form it
    may take: as given, URL-quoted, or inside another URL."""
    text = shown(text)
    password: str | None = None
    if isinstance(url, sa.URL):
        password = url.password if isinstance(url.password, str) else None
    elif isinstance(url, str):
        match = _CREDENTIALS.search(url)
        if match:
            password = url[match.end("head") : match.end() - 1]
    if password:
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            if form:
                text = text.replace(form, HIDDEN)
    return text
