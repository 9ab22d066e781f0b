"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy.orm import Session, sessionmaker

from app.api.openapi import install_openapi
from app.api.routes import (
    admin,
    customers,
    demands,
    feedback,
    health,
    models,
    open_inference,
    reports,
)
from app.api.scoring_threads import scoring_threads
from app.capture.service import RequestCapture
from app.core.body_limit import BodyLimitMiddleware, BodyLimits
from app.core.config import Settings
from app.core.errors import install_error_handlers
from app.core.health import Component
from app.core.request_id import RequestIdMiddleware
from app.core.request_metrics import RequestMetricsMiddleware
from app.core.security import Keyring
from app.db.migrations import ensure_up_to_date
from app.db.session import DatabaseTimeouts, create_engine_for, create_session_factory
from app.services.deployment import WorkerSync
from app.services.model_catalog import ModelCatalog
from app.services.model_watcher import ModelWatcher
from app.services.quality_gauges import LiveQualityGauges
from model_registry.registry import PRODUCTION

DESCRIPTION = """
Customer-insight models for a telecom operator, served from the MLflow model registry.

Every answer names the model versions that produced it. Errors are
`application/problem+json` (RFC 9457) and name the offending field.

Every call but `/healthz`, `/readyz` and these docs needs an API key (`insight keys create`)
holding the call's scope: `Authorization: Bearer <secret>` (the Authorize button here) or
`X-API-Key: <secret>`. No key: 401; a key without the scope: 403 naming it; over the key's
rate limit: 429 with `Retry-After`.
"""


def create_app(settings: Settings) -> FastAPI:
    """The service, loading the models behind the registry's aliases once it starts."""

    capture = RequestCapture(settings) if settings.capture_enabled else None
    keyring = Keyring(required=settings.require_api_keys)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ensure_up_to_date(settings.app_database_url())
        if capture:
            capture.start(settings.app_database_url())
        timeouts = DatabaseTimeouts(
            connect_s=settings.database_connect_timeout_seconds,
            statement_s=settings.database_statement_timeout_seconds,
        )
        engine = create_engine_for(settings.app_database_url(), timeouts=timeouts)
        app.state.sessions = create_session_factory(engine)
        catalog = ModelCatalog(
            store=settings.mlflow_store(),
            names=settings.served_models,
            alias=settings.model_alias,
            load_staging=settings.load_staging,
        )
        app.state.catalog = catalog
        sync = WorkerSync(
            app.state.sessions,
            keyring,
            lambda: catalog.refresh(retry_failed=True),
            interval_s=settings.sync_interval_seconds,
            database=app.state.app_database,  # its rounds are the database's probe
        )
        app.state.worker_sync = sync
        await asyncio.to_thread(sync.start)  # the keys are read before the first request
        # The database must be migrated (it refuses to start otherwise); models load beside
        # the server, so /healthz answers and /readyz says 503 meanwhile, then follow the
        # registry's aliases.
        watcher = ModelWatcher(catalog, interval_s=settings.reload_interval_seconds)
        watcher.start()
        app.state.watcher = watcher
        quality = _live_quality_gauges(settings, app.state.sessions, catalog)
        quality.start()
        app.state.live_quality = quality
        yield
        await asyncio.to_thread(quality.stop)
        await asyncio.to_thread(sync.stop)
        await asyncio.to_thread(watcher.stop)
        if capture:
            await asyncio.to_thread(capture.stop)
        engine.dispose()

    # /docs and /redoc take their JavaScript and CSS from an installed package, not a CDN:
    # operators' networks are often offline.
    app = FastAPIOffline(
        title="Customer-insight model service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.scoring_threads = scoring_threads()  # batches are scored off the loop
    app.state.app_database = Component(
        "app_database",
        down_note="customer calls answer 503, API keys stay as last read",
        back_note="API keys re-read",
    )
    install_error_handlers(app)
    app.state.capture = capture
    # Inside capture, so its 413s are captured (with the little of the body that was read).
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits.of(settings))
    if capture:
        capture.install(app)  # inside RequestIdMiddleware, so the request id is set
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(RequestMetricsMiddleware)  # outermost: times all the rest
    for router in (
        demands.router,
        customers.router,
        feedback.router,
        reports.router,
        models.router,
        admin.router,
        health.router,
        open_inference.router,
    ):
        app.include_router(router)
    install_openapi(app, settings)
    return app


def _live_quality_gauges(
    settings: Settings, sessions: sessionmaker[Session], catalog: ModelCatalog
) -> LiveQualityGauges:
    """The live-quality gauges of the production versions this worker loaded."""
    return LiveQualityGauges(
        sessions,
        catalog.store.activate,
        lambda: {
            name: model.version
            for name, model in catalog.snapshot.loaded.get(PRODUCTION, {}).items()
        },
        interval_s=settings.live_quality_interval_seconds,
        window=timedelta(days=settings.live_quality_window_days),
    )
