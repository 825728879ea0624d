"""Structured logs: ``serve --log-format json`` writes one JSON object per line.

    {"time": "2026-12-02T09:15:00.123+00:00", "level": "INFO",
     "logger": "release_agent.decisions", "message": "NO_GO for api to prod in 12 ms",
     "release_id": "rel-..."}

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; a line
about a decision has its ``release_id`` (given by the code that logs it, or, for an
access line, read from a ``/api/v1/decisions/{id}`` path); a line with an exception has
``exception``, its traceback as text.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
_DECISION_PATH = re.compile(r"/api/v1/decisions/([^/?#\s]+)")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        release_id = getattr(record, "release_id", None)
        if release_id is not None:
            line["release_id"] = str(release_id)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes newlines, so a multi-line message stays on one line.
        return json.dumps(line, ensure_ascii=False, default=str)


class DecisionPathFilter(logging.Filter):
    """Gives an access line the ``release_id`` its path names, if it names one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "release_id", None) is None and isinstance(record.args, tuple):
            for arg in record.args:
                match = _DECISION_PATH.match(arg) if isinstance(arg, str) else None
                if match is not None:
                    record.release_id = match.group(1)
                    break
        return True


def log_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for ``serve``: uvicorn's own for ``text`` (with
    release-agent's loggers beside uvicorn's), else every uvicorn and release-agent logger
    writing JSON lines to stderr. Raises ValueError for a format not in :data:`FORMATS`."""
    if log_format not in FORMATS:
        raise ValueError(f"{log_format!r} is not a log format; allowed: {', '.join(FORMATS)}")
    ours = {"level": level, "propagate": False}
    if log_format == "text":
        from uvicorn.config import LOGGING_CONFIG  # here: the CLI imports this module early

        config = copy.deepcopy(LOGGING_CONFIG)
        config["loggers"]["release_agent"] = {**ours, "handlers": ["default"]}
        return config
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {"decision_path": {"()": DecisionPathFilter}},
        "handlers": {
            "json": handler,
            "access": {**handler, "filters": ["decision_path"]},
        },
        "loggers": {
            "uvicorn": {**ours, "handlers": ["json"]},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {**ours, "handlers": ["access"]},
            "release_agent": {**ours, "handlers": ["json"]},
        },
    }
