"""The service's HTTP protocol turns Nagle's algorithm off, whoever bound the socket."""

import contextlib
import socket
from unittest.mock import MagicMock

from app.server import NoDelayHttpToolsProtocol


def test_connections_get_tcp_nodelay_even_from_a_socket_bound_without_the_tcp_protocol():
    # uvicorn's multi-worker mode binds like this: no proto, so asyncio skips TCP_NODELAY.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        transport = MagicMock()
        transport.get_extra_info.side_effect = lambda key, default=None: (
            accepted if key == "socket" else default
        )
        protocol = NoDelayHttpToolsProtocol.__new__(NoDelayHttpToolsProtocol)
        # The rest of uvicorn's setup needs a full server; the option is set before it.
        with contextlib.suppress(Exception):
            protocol.connection_made(transport)
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for sock in (client, accepted, listener):
            sock.close()
