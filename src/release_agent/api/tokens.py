"""Bearer tokens and what each may write: every team (admin) or some teams.

Three sources, which may be combined:

- ``RELEASE_AGENT_API_TOKEN``: one token, admin (as before teams);
- ``RELEASE_AGENT_API_TOKENS``: a comma-separated list of ``token=team1|team2`` entries,
  ``token=*`` for an admin token;
- a tokens file (``serve --tokens-file``, or ``RELEASE_AGENT_TOKENS_FILE``), TOML or
  JSON (by its ``.json`` suffix), holding only SHA-256 hashes of the tokens:

      [tokens]
      "sha256:5e884898da28047151d0e56f8dc62927..." = ["payments", "search"]
      "sha256:a665a45920422f9d417e4867efdc4fb8..." = "*"

  ``release-agent tokens hash`` prints the hash of a token read from standard input.

Only hashes are kept in memory: a token given in the environment is hashed when it is
read. A presented token is hashed and compared with every stored hash in constant time
(``hmac.compare_digest``), so neither the answer nor its timing says which one was close.
No message ever repeats a token: an entry at fault is named by its position.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.errors import InvalidInput
from ..domain.models import NAME_PATTERN
from .auth import TOKEN_ENV, Unauthorized, check_token_value

TOKENS_ENV = "RELEASE_AGENT_API_TOKENS"
TOKENS_FILE_ENV = "RELEASE_AGENT_TOKENS_FILE"
ACCESS = "release_agent.access"
"""Key of a write's :class:`Access` in the ASGI scope's state (set by the guard)."""
ADMIN_MARK = "*"
HASH_PREFIX = "sha256:"
_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Access:
    """What a caller's token may write: ``teams`` None for every team (admin)."""

    teams: frozenset[str] | None = None

    @property
    def admin(self) -> bool:
        return self.teams is None

    def may_write(self, team: str) -> bool:
        return self.teams is None or team in self.teams

    def describe(self) -> str:
        if self.teams is None:
            return "every team"
        return ", ".join(sorted(self.teams))


ADMIN = Access()


def hash_token(token: str) -> str:
    """``sha256:<hex>`` of a token: what a tokens file holds."""
    return HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class TokenBook:
    """Every token the server accepts, as SHA-256 digests, each with its access."""

    entries: tuple[tuple[bytes, Access], ...] = field(default=())

    @property
    def configured(self) -> bool:
        """Whether any token is set (then writes need one, and any host is answered)."""
        return bool(self.entries)

    def access_of(self, token: str) -> Access | None:
        """The access of ``token``, or None when it is none of the book's. Every stored
        digest is compared, in constant time, whichever matches."""
        given = _digest(token)
        found: Access | None = None
        for digest, access in self.entries:
            if hmac.compare_digest(given, digest) and found is None:
                found = access
        return found

    def __add__(self, other: TokenBook) -> TokenBook:
        return TokenBook(self.entries + other.entries)

    @classmethod
    def admin(cls, token: str | None) -> TokenBook:
        """The book of one admin token (none: an empty book)."""
        return cls(((_digest(token), ADMIN),)) if token else cls()


def _teams(value: Any, where: str) -> Access:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidInput(
            'must be "*" (every team) or a list of team names, e.g. ["payments"]', field=where
        )
    if ADMIN_MARK in names:
        if len(names) > 1:
            raise InvalidInput('"*" already means every team: give it alone', field=where)
        return ADMIN
    for name in names:
        if not NAME_PATTERN.match(name):
            raise InvalidInput(f"{name[:100]!r} is not a team name", field=where)
    return Access(frozenset(names))


def parse_tokens_env(text: str, name: str = TOKENS_ENV) -> TokenBook:
    """The book of ``token=team1|team2,token=*`` (see the module's docstring). Raises
    InvalidInput naming the entry by its position, never by its token."""
    entries = []
    for number, item in enumerate(text.split(","), start=1):
        item = item.strip()
        if not item:
            continue
        where = f"{name} entry {number}"
        token, equals, teams = item.rpartition("=")
        if not equals or not token:
            raise InvalidInput(
                "must be token=team1|team2, or token=* for an admin token", field=where
            )
        check_token_value(token, where)
        names = [t.strip() for t in teams.split("|")]
        access = _teams(ADMIN_MARK if names == [ADMIN_MARK] else names, where)
        entries.append((_digest(token), access))
    return TokenBook(tuple(entries))


def load_tokens_file(path: str | os.PathLike[str]) -> TokenBook:
    """The book of a tokens file (TOML, or JSON by its ``.json`` suffix). Raises
    InvalidInput naming the file or the entry at fault."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        why = getattr(error, "strerror", None) or type(error).__name__
        raise InvalidInput(f"cannot read {target}: {why}", field="tokens_file") from None
    try:
        data = json.loads(text) if target.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        kind = "JSON" if target.suffix.lower() == ".json" else "TOML"
        raise InvalidInput(f"{target} is not valid {kind}: {error}", field="tokens_file") from None
    table = data.get("tokens") if isinstance(data, Mapping) else None
    if not isinstance(table, Mapping) or set(data) != {"tokens"}:
        raise InvalidInput(
            'must hold one table "tokens" of sha256 hashes, each with "*" or its teams',
            field="tokens_file",
        )
    return TokenBook(
        tuple(_file_entry(n, key, value) for n, (key, value) in enumerate(table.items(), 1))
    )


def _file_entry(number: int, key: str, value: Any) -> tuple[bytes, Access]:
    hexdigest = key.strip().lower().removeprefix(HASH_PREFIX)
    if not _HEX.match(hexdigest):
        # Named by its position: what is there may be a token pasted by mistake.
        raise InvalidInput(
            f"key {number} is not a SHA-256 hash: 64 hexadecimal digits, as "
            "`release-agent tokens hash` prints them (the file holds hashes, never tokens)",
            field="tokens_file",
        )
    return bytes.fromhex(hexdigest), _teams(value, f"tokens_file.{HASH_PREFIX}{hexdigest}")


def book_from_env(
    token: str | None = None,
    environ: Mapping[str, str] | None = None,
    tokens_file: str | os.PathLike[str] | None = None,
) -> TokenBook:
    """Every token configured: ``token`` (else RELEASE_AGENT_API_TOKEN) as admin, the
    entries of RELEASE_AGENT_API_TOKENS, and the file ``tokens_file`` (else
    RELEASE_AGENT_TOKENS_FILE). Raises InvalidInput naming the setting at fault."""
    env = os.environ if environ is None else environ
    single = token if token is not None else env.get(TOKEN_ENV) or None
    book = TokenBook.admin(check_token_value(single, TOKEN_ENV) if single else None)
    listed = env.get(TOKENS_ENV, "")
    if listed.strip():
        book = book + parse_tokens_env(listed)
    path = tokens_file if tokens_file is not None else env.get(TOKENS_FILE_ENV) or None
    if path:
        book = book + load_tokens_file(path)
    return book


def authenticate(headers: list[str], book: TokenBook, write: bool) -> Access | None:
    """The access of the request whose ``Authorization`` values are ``headers``: None for
    a read, or when no token is configured. Raises Unauthorized for several headers, or a
    write without a token of the book."""
    if len(headers) > 1:
        raise Unauthorized("send one Authorization header, not several", field="authorization")
    if not book.configured or not write:
        return None
    scheme, _, given = (headers[0] if headers else "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise Unauthorized(
            "this server needs 'Authorization: Bearer <token>' for writes", field="authorization"
        )
    access = book.access_of(given.strip())
    if access is None:
        raise Unauthorized("the bearer token is not valid", field="authorization")
    return access
