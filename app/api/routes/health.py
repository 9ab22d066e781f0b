"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import CatalogDep
from app.core.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Models not loaded yet, or failed"}})
def readyz(catalog: CatalogDep) -> JSONResponse:
    """Ready once every model behind the alias is loaded and warm."""
    body = {
        "status": "ready" if catalog.ready else "not ready",
        "alias": catalog.alias,
        "loaded": {name: model.version for name, model in catalog.models.items()},
        "failures": dict(catalog.failures),
        "loading": not catalog.loaded.is_set(),
    }
    return JSONResponse(body, status_code=200 if catalog.ready else 503)


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """This process's counters in the Prometheus text format: model swaps and load failures,
    captured, pending and dropped requests."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
