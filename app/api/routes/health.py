"""Liveness, readiness and metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import CatalogDep, allow_metrics_scrape
from app.api.openapi import problem
from app.api.schemas import ComponentOut, LoadFailureOut, Readiness
from app.core.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str | int]:
    """The process is up; ``worker`` is its process id (which worker answered)."""
    return {"status": "ok", "worker": os.getpid()}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {"model": Readiness, "description": "Models still loading, or one has none to serve"}
    },
)
def readyz(catalog: CatalogDep, request: Request) -> JSONResponse:
    """Ready once every model has a loaded, warm version for the deployment's alias.

    A version that failed to load or failed its smoke test is listed under ``failures``, but
    readiness stays while the version before it keeps serving. ``components`` gives the state
    of the models, the app database and the registry, each with since when.

    Only the models decide the status code. The app database is shared by every worker and
    replica: were its outage a 503 here, a load balancer would take them all out at once, and
    classify and score, which need no database, would stop too. Customer calls answer 503 with
    Retry-After themselves meanwhile, and ``status`` says ``degraded``. A registry that cannot
    be reached only delays swaps: the loaded versions keep serving.
    """
    snapshot = catalog.snapshot
    components = {
        "models": catalog.models_health.current,
        "app_database": request.app.state.app_database.current,
        "registry": catalog.registry_health.current,
    }
    degraded = any(component.state == "down" for component in components.values())
    readiness = Readiness(
        status="not ready" if not snapshot.ready else "degraded" if degraded else "ready",
        alias=snapshot.alias,
        loading=snapshot.loading,
        loaded={
            alias: {name: model.version for name, model in by_name.items()}
            for alias, by_name in snapshot.loaded.items()
        },
        unavailable=dict(snapshot.serving[snapshot.alias].unavailable),
        failures=[LoadFailureOut.model_validate(f) for f in snapshot.failures],
        checked_at=snapshot.checked_at,
        components={name: ComponentOut.model_validate(c) for name, c in components.items()},
    )
    return JSONResponse(
        readiness.model_dump(mode="json"), status_code=200 if snapshot.ready else 503
    )


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(allow_metrics_scrape)],
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        401: problem("From another host: no API key, or an invalid one"),
        403: problem("From another host: the API key lacks the `admin` scope"),
        429: problem("From another host: the API key is over its rate limit", retry_after=True),
    },
)
def metrics(request: Request) -> Response:
    """The whole deployment's metrics (every worker's) in the Prometheus text format: requests
    and latency per scoring endpoint and model version, model swaps and load failures,
    captured, pending and dropped requests; each version's live quality on the feedback
    received lately, beside its training figure (docs/monitoring.md)."""
    quality = getattr(request.app.state, "live_quality", None)
    extra = () if quality is None else (quality.snapshot,)
    return Response(exposition(*extra), media_type=CONTENT_TYPE_LATEST)
