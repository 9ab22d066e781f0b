"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.routes import customers, demands, health, models, reports
from app.core.config import Settings
from app.core.errors import install_error_handlers
from app.core.request_id import RequestIdMiddleware
from app.db.migrations import ensure_up_to_date
from app.db.session import create_engine_for, create_session_factory
from app.services.served_models import ModelCatalog

DESCRIPTION = """
Customer-insight models for a telecom operator, served from the MLflow model registry.

Every answer names the model versions that produced it. Errors are
`application/problem+json` (RFC 9457) and name the offending field.
"""


def create_app(settings: Settings) -> FastAPI:
    """The service, loading the models behind ``settings.model_alias`` once it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_up_to_date(settings.app_database_url())
        engine = create_engine_for(settings.app_database_url())
        app.state.sessions = create_session_factory(engine)
        catalog = ModelCatalog(alias=settings.model_alias)
        app.state.catalog = catalog
        # The database must be migrated (it refuses to start otherwise); models load beside
        # the server, so /healthz answers and /readyz says 503 meanwhile.
        loading = asyncio.create_task(
            asyncio.to_thread(catalog.load, settings.mlflow_store(), settings.served_models)
        )
        yield
        await loading
        engine.dispose()

    app = FastAPI(
        title="Customer-insight model service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    for router in (
        demands.router,
        customers.router,
        reports.router,
        models.router,
        health.router,
    ):
        app.include_router(router)
    return app
