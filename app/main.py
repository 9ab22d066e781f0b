"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.routes import admin, customers, demands, health, models, reports
from app.capture.service import RequestCapture
from app.core.config import Settings
from app.core.errors import install_error_handlers
from app.core.request_id import RequestIdMiddleware
from app.db.migrations import ensure_up_to_date
from app.db.session import create_engine_for, create_session_factory
from app.services.model_catalog import ModelCatalog
from app.services.model_watcher import ModelWatcher

DESCRIPTION = """
Customer-insight models for a telecom operator, served from the MLflow model registry.

Every answer names the model versions that produced it. Errors are
`application/problem+json` (RFC 9457) and name the offending field.
"""


def create_app(settings: Settings) -> FastAPI:
    """The service, loading the models behind the registry's aliases once it starts."""

    capture = RequestCapture(settings) if settings.capture_enabled else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_up_to_date(settings.app_database_url())
        if capture:
            capture.start(settings.app_database_url())
        engine = create_engine_for(settings.app_database_url())
        app.state.sessions = create_session_factory(engine)
        catalog = ModelCatalog(
            store=settings.mlflow_store(),
            names=settings.served_models,
            alias=settings.model_alias,
            load_staging=settings.load_staging,
        )
        app.state.catalog = catalog
        # The database must be migrated (it refuses to start otherwise); models load beside
        # the server, so /healthz answers and /readyz says 503 meanwhile, then follow the
        # registry's aliases.
        watcher = ModelWatcher(catalog, interval_s=settings.reload_interval_seconds)
        watcher.start()
        yield
        await asyncio.to_thread(watcher.stop)
        if capture:
            await asyncio.to_thread(capture.stop)
        engine.dispose()

    app = FastAPI(
        title="Customer-insight model service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.state.capture = capture
    if capture:
        capture.install(app)  # inside RequestIdMiddleware, so the request id is set
    app.add_middleware(RequestIdMiddleware)
    for router in (
        demands.router,
        customers.router,
        reports.router,
        models.router,
        admin.router,
        health.router,
    ):
        app.include_router(router)
    return app
