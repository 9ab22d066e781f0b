"""Real database outages for the capture tests: a TCP proxy in front of PostgreSQL that the
test closes and reopens, and, for SQLite, an exclusive lock held on the file."""

from __future__ import annotations

import socket
import sqlite3
import threading
from contextlib import suppress

from sqlalchemy.engine import make_url


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``close`` cuts the open connections and
    resets every new one, as a stopped server does; ``open`` forwards again. The port stays
    bound throughout (given back, another process could take it before ``open``); ``stop``
    lets it go."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._forwarding = False
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        self._forwarding = True
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        self._forwarding = False
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            _reset(connection)

    def stop(self) -> None:
        self.close()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self._forwarding:
                _reset(client)
                continue
            server = socket.create_connection(self.target)
            with self._lock:
                self._connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _reset(connection: socket.socket) -> None:
    with suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class DatabaseOutage:
    """Takes the database at ``url`` away and gives it back; ``app_url`` is the URL the
    service must use for the outage to reach it."""

    def __init__(self, url: str):
        self.url = make_url(url)
        self._proxy: TcpProxy | None = None
        self._lock_holder: sqlite3.Connection | None = None
        if self.url.get_backend_name() == "postgresql":
            self._proxy = TcpProxy((self.url.host or "127.0.0.1", self.url.port or 5432))
            self._proxy.open()

    @property
    def app_url(self) -> str:
        if self._proxy is None:
            return self.url.render_as_string(hide_password=False)
        proxied = self.url.set(host="127.0.0.1", port=self._proxy.port)
        return proxied.render_as_string(hide_password=False)

    def begin(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
            return
        self._lock_holder = sqlite3.connect(self.url.database, isolation_level=None)
        self._lock_holder.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        if self._proxy is not None:
            self._proxy.open()
        elif self._lock_holder is not None:
            self._lock_holder.execute("ROLLBACK")
            self._lock_holder.close()
            self._lock_holder = None

    def dispose(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
        else:
            self.end()
