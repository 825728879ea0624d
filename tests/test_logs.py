"""Structured logs: one JSON object per line, with time, level, logger and message, and
the release id on every line about a decision; ``serve --log-format json`` writes them."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from api_support import body, client_of, new_app
from release_agent.cli.serve import serve as serve_command
from release_agent.integrations.logs import DecisionPathFilter, JsonFormatter, log_config
from test_cli_serve import serve


def line_of(message: str, *args: object, **extra: Any) -> dict[str, Any]:
    record = logging.LogRecord("release_agent.x", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    text = JsonFormatter().format(record)
    assert "\n" not in text
    return json.loads(text)


def test_a_line_has_time_level_logger_and_message() -> None:
    line = line_of("%s for %s", "NO_GO", "api")
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING",
        "release_agent.x",
        "NO_GO for api",
    )
    assert datetime.fromisoformat(line["time"]).utcoffset() is not None


def test_a_line_about_a_decision_has_its_release_id() -> None:
    assert line_of("stored", release_id="rel-1")["release_id"] == "rel-1"


def test_an_exception_stays_on_the_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad" in line["exception"] and line["message"] == "failed"


@given(st.text())
def test_any_message_is_one_line_of_json_that_keeps_it(message: str) -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, (), None)
    text = JsonFormatter().format(record)
    assert "\n" not in text and json.loads(text)["message"] == message


def test_an_access_line_for_a_decision_path_gets_its_release_id() -> None:
    def access(path: str) -> logging.LogRecord:
        args = ("127.0.0.1:5000", "GET", path, "1.1", 200)
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", args, None)
        DecisionPathFilter().filter(record)
        return record

    assert getattr(access("/api/v1/decisions/rel-7/outcome"), "release_id", None) == "rel-7"
    assert getattr(access("/api/v1/decisions/rel-8"), "release_id", None) == "rel-8"
    assert not hasattr(access("/api/v1/decisions?service=x"), "release_id")


def test_a_decision_is_logged_with_its_release_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="release_agent"),
        client_of(new_app(tmp_path)) as client,
    ):
        made = client.post("/api/v1/decisions", json=body()).json()
        outcome = f"/api/v1/decisions/{made['release_id']}/outcome"
        client.post(outcome, json={"result": "degraded"})
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    ours = [line for line in lines if line.get("release_id") == made["release_id"]]
    assert [line["message"].split()[0] for line in ours] == [made["decision"], "outcome"]
    assert ours[1]["message"] == "outcome degraded recorded"


def test_text_keeps_uvicorn_lines_and_adds_ours() -> None:
    config = log_config("text")
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["access"]
    assert config["loggers"]["release_agent"]["handlers"] == ["default"]
    assert "json" not in config["formatters"]


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="allowed: text, json"):
        log_config("xml")
    result = CliRunner().invoke(serve_command, ["--log-format", "xml"])
    assert result.exit_code == 2 and "xml" in result.output


def test_serve_writes_json_lines(tmp_path: Path) -> None:
    process = serve(tmp_path, "--port", "0", "--log-format", "json")
    try:
        assert process.stderr is not None
        found = re.search(r"http://127\.0\.0\.1:\d+/", process.stderr.readline())
        assert found
        url = found.group(0)
        deadline = time.monotonic() + 120
        while True:  # the socket is listening; the app may still be starting
            try:
                made = httpx.post(url + "api/v1/decisions", json=body(), timeout=30).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=60)
    lines = [json.loads(text) for text in err.splitlines() if text.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    about = [line for line in lines if line.get("release_id") == made["release_id"]]
    assert {line["logger"] for line in about} == {"release_agent.decisions"}
    assert any(line["logger"] == "uvicorn.access" for line in lines)
