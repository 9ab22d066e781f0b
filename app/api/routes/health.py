"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import CatalogDep
from app.api.schemas import LoadFailureOut, Readiness
from app.core.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"description": "Models still loading, or one has no version to serve"}},
)
def readyz(catalog: CatalogDep) -> JSONResponse:
    """Ready once every model has a loaded, warm version for the deployment's alias.

    A version that failed to load or failed its smoke test is listed under ``failures``, but
    readiness stays while the version before it keeps serving.
    """
    snapshot = catalog.snapshot
    readiness = Readiness(
        status="ready" if snapshot.ready else "not ready",
        alias=snapshot.alias,
        loading=snapshot.loading,
        loaded={
            alias: {name: model.version for name, model in by_name.items()}
            for alias, by_name in snapshot.loaded.items()
        },
        unavailable=dict(snapshot.serving[snapshot.alias].unavailable),
        failures=[LoadFailureOut.model_validate(f) for f in snapshot.failures],
        checked_at=snapshot.checked_at,
    )
    return JSONResponse(
        readiness.model_dump(mode="json"), status_code=200 if snapshot.ready else 503
    )


@router.get("/metrics", response_class=Response)
def metrics() -> Response:
    """This process's counters in the Prometheus text format: model swaps and load failures,
    captured, pending and dropped requests."""
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
