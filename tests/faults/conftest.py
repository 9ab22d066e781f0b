"""Fixtures of the fault tests: a PostgreSQL cluster of the test's own, which the test may stop
and start again, and one keep-alive HTTP connection that notices when the server closes it."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serving import free_port

PG_BIN = Path(os.environ.get("INSIGHT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"  # the OS user the cluster runs as (PostgreSQL refuses to run as root)
PG_WAIT_S = 60


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster in ``root``, listening on 127.0.0.1:``port``, trusting local users."""

    root: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start it; back once it accepts connections (``pg_ctl -w``)."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.log), "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop it; ``immediate`` is a crash as clients see it: every connection cut."""
        self._pg_ctl("stop", "-m", mode)

    def accepts_connections(self) -> bool:
        import psycopg

        try:
            psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", connect_timeout=2
            ).close()
        except psycopg.OperationalError:
            return False
        return True

    def kill(self) -> None:
        """The last resort: the postmaster's process group, by the pid in its pid file."""
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _pg_ctl(self, *args: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", str(PG_WAIT_S)]
        _as_postgres([*command, *args])


def _as_postgres(command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", PG_USER, "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=PG_WAIT_S + 30)


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A fresh cluster of this test's own, started; stopped and deleted afterwards."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN} (INSIGHT_TEST_PG_BIN)")
    # Not under pytest's temporary folder: the postgres user must reach and own it.
    root = Path(tempfile.mkdtemp(prefix="insight-pg-"))
    cluster = PrivateCluster(root, free_port())
    try:
        if os.geteuid() == 0:
            shutil.chown(root, PG_USER, PG_USER)
        initdb = [str(PG_BIN / "initdb"), "-D", str(cluster.data_dir), "-A", "trust"]
        _as_postgres([*initdb, "-U", "postgres", "--no-sync"])
        cluster.start()
        yield cluster
    finally:
        try:
            if (cluster.data_dir / "postmaster.pid").exists():
                cluster.stop()
        except (subprocess.SubprocessError, OSError):
            cluster.kill()
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Exchange:
    """One request and its answer on the connection, with when it was sent and how long it took."""

    method: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes
    sent_at: float
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class OneConnection:
    """HTTP/1.1 requests on one keep-alive connection, which must stay open: ``call`` raises
    ``ConnectionClosed`` when the server closed it (http.client would silently reconnect)."""

    def __init__(self, port: int, headers: dict[str, str], *, timeout_s: float = 15):
        self.headers = {**headers, "Content-Type": "application/json"}
        self._connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        self._connection.connect()
        self._socket = self._connection.sock

    def call(self, method: str, path: str, body: Any = None) -> Exchange:
        if self._connection.sock is not self._socket:
            raise ConnectionClosed("the server closed the keep-alive connection")
        payload = None if body is None else json.dumps(body).encode()
        sent_at = time.monotonic()
        try:
            self._connection.request(method, path, body=payload, headers=self.headers)
            response = self._connection.getresponse()
            answer = response.read()
        except (http.client.HTTPException, ConnectionError) as error:
            raise ConnectionClosed(f"{method} {path}: {type(error).__name__}") from error
        exchange = Exchange(
            method,
            path,
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            answer,
            sent_at,
            time.monotonic() - sent_at,
        )
        if self._connection.sock is not self._socket:  # "Connection: close" or a cut
            raise ConnectionClosed(f"closed after {method} {path} ({response.status})")
        return exchange

    def close(self) -> None:
        self._connection.close()


class ConnectionClosed(AssertionError):
    """The server closed a connection it should have kept open."""
