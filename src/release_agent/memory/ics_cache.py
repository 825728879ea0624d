"""Freeze calendars fetched by URL, with a copy kept on disk.

A ``[[freeze.ics]]`` calendar given by an http(s) URL is fetched when a decision needs
it, with a timeout (the source's ``timeout_seconds``, default 5), unless the copy on disk
is younger than its ``max_age_minutes`` (default 15). A fetch that fails (no answer in
time, an HTTP error, a body that is not iCalendar) falls back on the copy, however old,
and the decision says so in its warnings; with no copy the calendar is unreadable, and
nothing it may freeze is GO (see ``release_agent.decide.guardrails``). A body that is not
iCalendar never replaces a good copy.

The copies live in ``$RELEASE_AGENT_CACHE_DIR``, else in the user's cache directory
(``~/.cache/release-agent/calendars`` on Linux), one file per URL named by the URL's
SHA-256: the URL itself, which often carries the calendar's key, is written nowhere and
shown only as scheme, host and file name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import platformdirs

from ..domain.ics import IcsCalendar, IcsError, IcsSource, UnreadableCalendar, parse_ics

CACHE_ENV = "RELEASE_AGENT_CACHE_DIR"
MAX_BYTES = 10 * 1024 * 1024
"""A calendar larger than this is refused (a misconfigured URL, not a calendar)."""
USER_AGENT = "release-agent (freeze calendar)"


def cache_dir() -> Path:
    """Where the copies are kept: ``$RELEASE_AGENT_CACHE_DIR`` or the user cache dir."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit)
    return Path(platformdirs.user_cache_dir("release-agent")) / "calendars"


class FetchError(Exception):
    """A calendar that could not be fetched; the message says why, never the URL."""


def download(url: str, timeout: float) -> bytes:
    """The body of ``url``; raises FetchError on a timeout, an HTTP error status, a
    connection fault or a body over :data:`MAX_BYTES`."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            data: bytes = answer.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise FetchError(f"HTTP {error.code}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise FetchError(f"no answer within {timeout:g} s") from None
        reason = error.reason
        why = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        raise FetchError(f"cannot connect: {why}") from None
    except TimeoutError:
        raise FetchError(f"no answer within {timeout:g} s") from None
    except (OSError, ValueError) as error:
        raise FetchError(f"cannot fetch: {type(error).__name__}") from None
    if len(data) > MAX_BYTES:
        raise FetchError(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    return data


class CalendarCache:
    """The copies on disk and the calendars parsed from them (kept in memory, keyed by
    content, so that a decision does not parse an unchanged calendar again)."""

    def __init__(
        self,
        directory: Path | None = None,
        fetch: Callable[[str, float], bytes] = download,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._fetch = fetch
        self._clock = clock
        self._parsed: dict[tuple[IcsSource, str, str], IcsCalendar] = {}
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        return self._directory if self._directory is not None else cache_dir()

    def path_for(self, url: str) -> Path:
        return self.directory / (hashlib.sha256(url.encode("utf-8")).hexdigest() + ".ics")

    def _copy(self, url: str) -> tuple[bytes, float] | None:
        path = self.path_for(url)
        try:
            return path.read_bytes(), path.stat().st_mtime
        except OSError:
            return None

    def _store(self, url: str, data: bytes) -> None:
        path = self.path_for(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except OSError:
            pass  # no copy kept: the next decision fetches again

    def _parse(self, data: bytes, source: IcsSource, zone: ZoneInfo) -> IcsCalendar:
        key = (source, hashlib.sha256(data).hexdigest(), str(zone))
        with self._lock:
            found = self._parsed.get(key)
        if found is None:
            found = parse_ics(data, source, zone)
            with self._lock:
                if len(self._parsed) > 64:
                    self._parsed.clear()
                self._parsed[key] = found
        return found

    def read(self, source: IcsSource, zone: ZoneInfo) -> IcsCalendar | UnreadableCalendar:
        """The calendar at ``source`` (a URL): the copy if young enough, else fetched,
        else the copy of any age (with a warning), else unreadable with why."""
        url = source.source
        copy = self._copy(url)
        now = self._clock()
        if copy is not None and now - copy[1] < source.max_age_minutes * 60:
            try:
                return self._parse(copy[0], source, zone).with_warning(None)
            except IcsError:
                copy = None  # a damaged copy: fetch again
        try:
            data = self._fetch(url, source.timeout_seconds)
            calendar = self._parse(data, source, zone)
        except (FetchError, IcsError) as error:
            why = str(error) if isinstance(error, FetchError) else f"the answer {error}"
            if copy is not None:
                try:
                    old = self._parse(copy[0], source, zone)
                except IcsError:
                    return UnreadableCalendar(source, why)
                fetched = datetime.fromtimestamp(copy[1], UTC).isoformat(timespec="seconds")
                return old.with_warning(
                    f"freeze calendar {source.label} could not be fetched ({why}); "
                    f"the copy fetched at {fetched} was used"
                )
            return UnreadableCalendar(source, why)
        self._store(url, data)
        return calendar.with_warning(None)
