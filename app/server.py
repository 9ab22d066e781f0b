"""Running the service under uvicorn."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI
from prometheus_client.multiprocess import mark_process_dead
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core import metrics
from app.core.config import Settings
from app.db.migrations import ensure_up_to_date
from app.main import create_app

WORKER_HEALTHCHECK_TIMEOUT_S = 30
LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
APP_LOGGERS = ("app", "training", "model_registry")


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """httptools, with Nagle's algorithm off on every connection.

    With several workers uvicorn binds the listening socket itself, without naming the TCP
    protocol, so asyncio does not set TCP_NODELAY on accepted connections and each keep-alive
    answer waits about 40 ms for the client's delayed ACK (uvicorn issue #3149).
    """

    def connection_made(self, transport) -> None:  # type: ignore[override]
        connection = transport.get_extra_info("socket")
        if connection is not None and connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def service_app() -> FastAPI:
    """The app for one worker process, from the environment's settings."""
    app = create_app(Settings())
    if metrics.MULTIPROCESS:
        app.include_router(APIRouter(lifespan=_leave_live_gauges_at_shutdown))
    return app


@asynccontextmanager
async def _leave_live_gauges_at_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """Take this worker's live gauges out of the deployment's sums once it stops (its counters
    stay). Not atexit: uvicorn ends a worker by re-raising SIGTERM, which skips atexit."""
    yield
    mark_process_dead(os.getpid())


def run_server(settings: Settings) -> None:
    """Serve on ``settings.host:settings.port`` with httptools on the stock asyncio loop.

    Not uvloop: measured here under 64 busy connections, uvloop starves a few of them
    (p99 over 800 ms where asyncio's loop gives 75 ms) at no gain in throughput.

    With several workers, they share a fresh directory of metric files, so that every one
    answers ``/metrics`` for the whole deployment; one worker is the deployment by itself and
    answers from its own registry.
    """
    # Checked here as well as in the lifespan, so the message is one line, not uvicorn's traceback.
    ensure_up_to_date(settings.app_database_url())
    if settings.workers == 1:
        _serve(create_app(settings), settings)
        return
    metrics_dir = tempfile.mkdtemp(prefix="insight-metrics-")
    # Before uvicorn spawns the workers: each is a fresh interpreter that picks multiprocess
    # mode as it first imports prometheus_client, and never sees a file of an earlier run.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _serve("app.server:service_app", settings)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(app: FastAPI | str, settings: Settings) -> None:
    """uvicorn on ``app``, an app or (with several workers) the import path of its factory."""
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        loop="asyncio",
        http=NoDelayHttpToolsProtocol,
        access_log=settings.access_log,
        # A new worker answers uvicorn's health check only once it has imported app.cli again
        # (spawned; 4.4 s alone on a busy 2-core machine). With uvicorn's default, 5 s, both
        # workers were killed and respawned in a loop there, never serving.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_TIMEOUT_S,
        # On SIGTERM uvicorn stops accepting, lets every request it has read finish (within
        # this grace; past it, cancels them), then runs the lifespan's end: capture flushes.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        log_config=log_config(),
    )


def log_config() -> dict[str, Any]:
    """Logging for uvicorn to apply in every process it runs: a spawned worker does not
    inherit the parent's, so without this the workers' own INFO lines (models loaded, swaps,
    refused versions) were lost. Each line names its process: workers interleave."""
    formatter = {"format": LOG_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # uvicorn sets use_colors on both when asked to; both are plain here.
        "formatters": {"default": formatter, "access": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
        "loggers": {name: {"level": "INFO"} for name in (*APP_LOGGERS, "uvicorn")},
    }
