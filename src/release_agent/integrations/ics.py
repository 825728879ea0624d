"""The change calendar as iCalendar (RFC 5545), for people to subscribe to.

One VEVENT per booking: its UID is the release id (stable, so a calendar client updates
an event rather than duplicating it), DTSTART and DTEND are UTC times (the slot lasts
``clash_minutes``), DTSTAMP is when the decision was made. Every text value is escaped
(backslash, semicolon, comma, line breaks) and stripped of other control characters, so
that a service name or a ref, which are the caller's data, cannot start a property or an
event of their own; lines are folded at 75 octets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ..domain.calendar import Booking

PRODUCT = "-//release-agent//change calendar//EN"
UID_DOMAIN = "release-agent"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_OCTETS = 75


def escape(text: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped, a line
    break written as ``\\n``, other control characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """A content line folded at 75 octets (RFC 5545 3.1), never inside a character."""
    if len(line.encode("utf-8")) <= _LINE_OCTETS:
        return line
    parts: list[str] = []
    current, size = "", 0
    limit = _LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            # A continuation line starts with a space, which counts towards its octets.
            current, size, limit = char, width, _LINE_OCTETS - 1
        else:
            current += char
            size += width
    parts.append(current)
    return "\r\n ".join(parts)


def summary(booking: Booking) -> str:
    """The event's title: what goes out where, and on which decision."""
    verb = "release" if booking.decision.value == "GO" else "delayed release"
    return f"{booking.service} {verb} ({booking.env})"


def calendar(bookings: Iterable[Booking], minutes: int, name: str = "Releases") -> str:
    """The bookings as one VCALENDAR, each event lasting ``minutes``."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape(name)}",
    ]
    length = timedelta(minutes=minutes)
    for booking in bookings:
        description = f"{booking.decision.value} decision {booking.release_id}"
        if booking.ref:
            description += f"; ref {booking.ref}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape(booking.release_id)}@{UID_DOMAIN}",
            f"DTSTAMP:{_utc(booking.booked_at)}",
            f"DTSTART:{_utc(booking.at)}",
            f"DTEND:{_utc(booking.at + length)}",
            f"SUMMARY:{escape(summary(booking))}",
            f"DESCRIPTION:{escape(description)}",
            f"CATEGORIES:{escape(booking.env)}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
