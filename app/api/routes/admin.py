"""Operating the service: make every worker check the model registry now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from app.api.deps import AdminDep, CatalogDep, DatabaseGuard, SettingsDep
from app.api.openapi import problem
from app.api.schemas import AliasCheckOut, RefreshResponse, WorkersOut
from app.services.deployment import WorkerSync

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/models/refresh",
    response_model=RefreshResponse,
    responses={503: problem("The app database is unavailable", retry_after=True)},
)
def refresh_models(
    request: Request,
    caller: AdminDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    _: Annotated[None, DatabaseGuard],  # after the key check; the refresh goes through the db
) -> RefreshResponse:
    """Check every model's `production` and `staging` aliases in the registry now, in every
    worker of the deployment, and swap in the versions that moved, without a restart; answer
    what this worker swapped, removed, failed and left unchanged, and how many workers
    confirmed. Needs the `admin` scope; recorded in the audit trail with the key's name.

    A version that failed before is tried again (the poller does not retry it until its alias
    moves). A swap loads and smoke-tests the new version before any request sees it; requests
    in flight finish on the version they started with. The call waits for a check already
    under way, then makes its own; the other workers start theirs within a second.
    """
    sync: WorkerSync = request.app.state.worker_sync
    event_id = sync.announce_refresh(actor=caller.name)
    checks = catalog.refresh(retry_failed=True)
    sync.mark_refreshed(event_id)
    workers = sync.wait_for_workers(event_id, timeout_s=settings.refresh_wait_seconds)
    by_outcome: dict[str, list[AliasCheckOut]] = {
        "swapped": [],
        "removed": [],
        "failed": [],
        "unchanged": [],
    }
    for check in checks:
        by_outcome[check.outcome].append(AliasCheckOut.model_validate(check))
    return RefreshResponse(
        checked_at=catalog.snapshot.checked_at,
        workers=WorkersOut(confirmed=workers.confirmed, live=workers.live),
        **by_outcome,
    )
