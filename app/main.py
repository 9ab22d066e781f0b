"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.routes import demands, health, models
from app.core.config import Settings
from app.core.errors import install_error_handlers
from app.core.request_id import RequestIdMiddleware
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
        from app.db.migrations import ensure_up_to_date  # refuses an empty or outdated database

        ensure_up_to_date(settings.app_database_url())
        catalog = ModelCatalog(alias=settings.model_alias)
        app.state.catalog = catalog
        # Loading runs beside the server, so /healthz answers and /readyz says 503 meanwhile.
        loading = asyncio.create_task(asyncio.to_thread(catalog.load, settings.mlflow_store()))
        yield
        await loading

    app = FastAPI(
        title="Customer-insight model service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    for router in (demands.router, models.router, health.router):
        app.include_router(router)
    return app
