"""Running the service under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from app.core.config import Settings
from app.main import create_app


def run_server(settings: Settings) -> None:
    """Serve on ``settings.host:settings.port`` with uvloop and httptools."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=settings.access_log,
    )
