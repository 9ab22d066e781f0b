"""Operating the service: make it check the model registry now."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CatalogDep
from app.api.schemas import AliasCheckOut, RefreshResponse

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/models/refresh", response_model=RefreshResponse)
def refresh_models(catalog: CatalogDep) -> RefreshResponse:
    """Check every model's `production` and `staging` aliases in the registry now, and swap in
    the versions that moved, without a restart; answer what was swapped, removed, failed and
    left unchanged.

    A version that failed before is tried again (the poller does not retry it until its alias
    moves). A swap loads and smoke-tests the new version before any request sees it; requests
    in flight finish on the version they started with. The call waits for a check already
    under way, then makes its own.

    **No authentication yet**: the service has no API keys, so anyone who can reach it can call
    this. Keep the admin paths off public networks until keys with roles arrive.
    """
    checks = catalog.refresh(retry_failed=True)
    by_outcome: dict[str, list[AliasCheckOut]] = {
        "swapped": [],
        "removed": [],
        "failed": [],
        "unchanged": [],
    }
    for check in checks:
        by_outcome[check.outcome].append(AliasCheckOut.model_validate(check))
    return RefreshResponse(checked_at=catalog.snapshot.checked_at, **by_outcome)
