"""What the tests of the GitHub Action and of the CI examples share: a policy that makes
GO, NO_GO and DELAY certain, a real ``release-agent serve`` on a loopback port, the action's
module run as a runner runs it, and readers for what a runner reads (``$GITHUB_OUTPUT``,
workflow commands on standard output).

The policy: a LOW criticality service is GO (its failures cost nothing), a HIGH one is
NO_GO (they cost 1e9), and the environment ``frozen`` is in a freeze that ends at
``freeze_end`` (so DELAY, to that time or later).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from release_agent.integrations.action import input_variable

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
TOKEN = "action-test-token-0123456789abcdef"
SECRET_VARS = (
    "RELEASE_AGENT_DB",
    "RELEASE_AGENT_POLICY",
    "RELEASE_AGENT_REASONER",
    "RELEASE_AGENT_API_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "PYTHONPATH",
)


def write_policy(path: Path, freeze_end: datetime) -> Path:
    start = (freeze_end - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    end = freeze_end.strftime("%Y-%m-%dT%H:%M")
    path.write_text(
        f"""
[decision]
explore = false
[costs]
failure = {{ LOW = 0, MEDIUM = 0, HIGH = 1e9 }}
no_go = 10
delay_per_hour = 0.01
[[freeze.once]]
name = "test-freeze"
start = "{start}"
end = "{end}"
timezone = "UTC"
envs = ["frozen"]
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Server:
    url: str
    freeze_end: datetime

    def get(self, path: str) -> Any:
        answer = httpx.get(self.url + path, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()


def _clean_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key not in SECRET_VARS and not key.startswith(("INPUT_", "GITHUB_"))
    }


def freeze_end_from_now() -> datetime:
    """Two hours from now, to the minute (a freeze's end is written to the minute)."""
    return (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)


@contextmanager
def serving(home: Path) -> Iterator[Server]:
    """``release-agent serve`` with :data:`TOKEN`, on a free loopback port, over a fresh
    database in ``home`` and the test policy."""
    freeze_end = freeze_end_from_now()
    policy = write_policy(home / "policy.toml", freeze_end)
    env = _clean_env()
    env.update(
        RELEASE_AGENT_API_TOKEN=TOKEN,
        RELEASE_AGENT_REASONER="builtin",
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
    )
    command = [sys.executable, "-m", "release_agent", "serve", "--port", "0"]
    command += ["--db", f"sqlite:///{home / 'server.db'}", "--policy", str(policy)]
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", process.stderr.readline())
        assert found, "serve printed no URL"
        url = found.group(0)
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(url + "/healthz", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        yield Server(url, freeze_end)
    finally:
        process.terminate()
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def parse_outputs(text: str) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` read as the runner reads it: lines end at LF or CRLF; a
    ``name<<DELIMITER`` block runs to the first line equal to its delimiter."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    outputs: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)  # ValueError: the block never ends
            outputs[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
            index += 1
    return outputs


def commands_outside_stops(stdout: str) -> list[str]:
    """The workflow commands a runner would act on in ``stdout``, as ``name`` strings,
    honouring ``::stop-commands::TOKEN`` ... ``::TOKEN::``."""
    acted = []
    stopped_by: str | None = None
    for raw in stdout.splitlines():
        line = raw.lstrip()
        if stopped_by is not None:
            if line == f"::{stopped_by}::":
                stopped_by = None
            continue
        if "##[" in line:
            acted.append("##[")
        if line.startswith("::"):
            name = re.split(r"[ :]", line[2:], maxsplit=1)[0]
            acted.append(name)
            if name == "stop-commands":
                stopped_by = line.split("::", 2)[2]
    return acted


@dataclass
class Step:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    raw_outputs: str = field(repr=False)


def run_step(
    tmp_path: Path,
    inputs: dict[str, str],
    *,
    actions: bool = True,
    sha: str | None = None,
    isolated: bool = False,
) -> Step:
    """``python -m release_agent.integrations.action`` as action.yml runs it.

    ``isolated``: without site-packages (``-S``) and with only ``src`` on the path, as a
    runner that installed nothing (server mode)."""
    work = tmp_path / f"step-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    out, summary = work / "output", work / "summary"
    out.touch()
    summary.touch()
    env = _clean_env()
    env.update({input_variable(name): value for name, value in inputs.items()})
    env.update(GITHUB_OUTPUT=str(out), GITHUB_STEP_SUMMARY=str(summary))
    env["GITHUB_SHA"] = sha or uuid.uuid4().hex
    if actions:
        env["GITHUB_ACTIONS"] = "true"
    python = [sys.executable]
    if isolated:
        python += ["-S"]
        env["PYTHONPATH"] = str(SRC)
    done = subprocess.run(
        [*python, "-m", "release_agent.integrations.action"],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    raw = out.read_bytes().decode("utf-8")
    return Step(
        done.returncode,
        done.stdout,
        done.stderr,
        parse_outputs(raw),
        summary.read_bytes().decode("utf-8"),
        raw,
    )
