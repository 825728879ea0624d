"""Credentials out of text: what the API answers or logs never carries a password.

A StoreError's message may hold the database URL (``postgresql://user:secret@host/db``)
or a libpq connection string (``password=secret``); ``redact`` masks both.
"""

from __future__ import annotations

import re

MASK = "***"

# Up to the last '@' before white space or a quote: a password may itself hold '@' or '/'.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^\s'\"<>]*@")
_PASSWORD_SETTING = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd)\s*[=:]\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;,'\")]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL and every ``password=...``
    setting replaced by ``***``."""
    text = _URL_CREDENTIALS.sub(rf"\g<scheme>{MASK}@", text)
    return _PASSWORD_SETTING.sub(rf"\g<key>{MASK}", text)
