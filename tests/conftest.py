"""Test-wide setup: no real network, a private data directory, a clean environment."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class RealNetworkForbidden(RuntimeError):
    """A test tried to reach a host that is not this machine."""


def _is_local(host: object) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    if text in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    if not _is_local(host):
        raise RealNetworkForbidden(f"tests must not reach {host!r}; use a local server")
    return _real_getaddrinfo(host, *args, **kwargs)


def _check_address(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_local(address[0]):
        raise RealNetworkForbidden(f"tests must not connect to {address!r}")


def _guarded_connect(self, address):  # type: ignore[no-untyped-def]
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):  # type: ignore[no-untyped-def]
    _check_address(address)
    return _real_connect_ex(self, address)


socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]

_ENV_VARS = (
    "RELEASE_AGENT_DB",
    "RELEASE_AGENT_POLICY",
    "RELEASE_AGENT_REASONER",
    "RELEASE_AGENT_MODEL",
    "RELEASE_AGENT_API_TOKEN",
    "RELEASE_AGENT_ON_LLM_FAILURE",
    "RELEASE_AGENT_LLM_TIMEOUT",
    "RELEASE_AGENT_LLM_RETRIES",
    "RELEASE_AGENT_LLM_BACKOFF",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data and config directories and no provider keys."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    yield
