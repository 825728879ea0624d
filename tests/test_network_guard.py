import socket

import pytest

from conftest import RealNetworkForbidden


def test_a_request_to_a_real_host_fails_loudly() -> None:
    with pytest.raises(RealNetworkForbidden):
        socket.create_connection(("generativelanguage.googleapis.com", 443), timeout=1)


def test_a_connection_to_a_public_address_fails_loudly() -> None:
    sock = socket.socket()
    try:
        with pytest.raises(RealNetworkForbidden):
            sock.connect(("8.8.8.8", 53))
    finally:
        sock.close()
