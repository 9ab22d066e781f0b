"""The real service for tests: `insight serve` in a process of its own, on a free loopback port,
spoken to over HTTP by httpx, and stopped by its process id."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from model_registry.store import MlflowStore


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_env(store: MlflowStore, served_models: list[str], **settings: Any) -> dict[str, str]:
    """The environment of `insight serve` on ``store``; ``settings`` become INSIGHT_* variables."""
    env = {
        **os.environ,
        "INSIGHT_MLFLOW_TRACKING_URI": store.tracking_uri,
        "INSIGHT_MLFLOW_ARTIFACT_ROOT": store.artifact_root,
        "INSIGHT_SERVED_MODELS": json.dumps(served_models),
        "INSIGHT_PORT": str(free_port()),
    }
    env.update({f"INSIGHT_{name.upper()}": str(value) for name, value in settings.items()})
    return env


@dataclass
class LiveService:
    process: subprocess.Popen
    base_url: str
    log: Path

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        """A client of its own: a new connection, which any worker may accept."""
        return httpx.Client(base_url=self.base_url, headers=headers or {}, timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def running_service(
    env: dict[str, str], log: Path, *, ready_s: float = 120
) -> Iterator[LiveService]:
    """`insight serve` with ``env``, ready; stopped (SIGTERM, then SIGKILL) on the way out."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    service = LiveService(process, f"http://127.0.0.1:{env['INSIGHT_PORT']}", log)
    try:
        wait_ready(service, timeout_s=ready_s)
        yield service
    except BaseException:
        # What the server said is what explains a failure; pytest shows stderr on failure.
        print(f"--- the server's log, last lines:\n{service.output()[-6000:]}", file=sys.stderr)
        raise
    finally:
        stop(process)


def wait_ready(service: LiveService, *, timeout_s: float) -> None:
    """Ready on five fresh connections in a row (with several workers, most likely all)."""
    deadline, in_a_row = time.monotonic() + timeout_s, 0
    while in_a_row < 5:
        assert service.process.poll() is None, f"the server exited:\n{service.output()[-3000:]}"
        assert time.monotonic() < deadline, "the server never became ready"
        try:
            with service.client() as client:
                ready = client.get("/readyz").status_code == 200
        except httpx.TransportError:
            ready = False
        in_a_row = in_a_row + 1 if ready else 0
        if not ready:
            time.sleep(0.2)


def stop(process: subprocess.Popen, timeout_s: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _wait_ready_on(client: httpx.Client, timeout_s: float = 60) -> None:
    """Wait until the worker holding ``client``'s connection is ready."""
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "a worker never became ready"
        time.sleep(0.1)


def on_each_worker(
    service: LiveService,
    call: Callable[[httpx.Client], Any],
    *,
    workers: int,
    headers: dict[str, str] | None = None,
    connections: int = 300,
) -> dict[int, Any]:
    """``call``'s result on each of ``workers`` workers (by process id), each on a fresh
    connection that first asks /healthz which worker holds it."""
    results: dict[int, Any] = {}
    for _ in range(connections):
        with service.client(headers) as client:
            worker = client.get("/healthz").json()["worker"]
            if worker not in results:
                _wait_ready_on(client)
                results[worker] = call(client)
        if len(results) == workers:
            return results
    raise AssertionError(f"{connections} connections reached only workers {sorted(results)}")
