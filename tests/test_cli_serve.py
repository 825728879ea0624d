"""`release-agent serve` in a real process: it binds before it prints, so a busy port exits
1 saying why, and the URL it prints is one it really answers on."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def serve(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "release_agent",
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 's.db'}",
            *args,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_busy_port_exits_1_before_printing_any_url(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = serve(tmp_path, "--port", str(port))
        out, err = process.communicate(timeout=300)
    assert process.returncode == 1, err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err
    assert "http://" not in out + err


def test_the_printed_url_answers(tmp_path: Path) -> None:
    process = serve(tmp_path, "--port", "0")  # any free port: the URL says which
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert found, first
        url = found.group(0)
        assert int(found.group(1)) > 0
        deadline = time.monotonic() + 120
        while True:  # the socket is listening; the app may still be starting
            try:
                answer = httpx.get(url + "healthz", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
    finally:
        process.terminate()
        process.communicate(timeout=60)
