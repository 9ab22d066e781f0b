"""Reports over the stored customers."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.api.deps import ServingModelsDep, SessionDep, requires
from app.api.openapi import problem
from app.api.schemas import ChannelPreferenceReport, ModelRef
from app.core.request_metrics import answered_by
from app.services.customer_scoring import customer_models
from app.services.reports import channel_preference_report

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=requires("customers:read"))


@router.get(
    "/channel-preference",
    response_model=ChannelPreferenceReport,
    responses={
        503: problem(
            "The app database is unavailable (see Retry-After), or channel-preference is not "
            "loaded",
            retry_after=True,
        )
    },
)
def channel_preference(
    session: SessionDep, serving: ServingModelsDep, http_request: Request
) -> ChannelPreferenceReport:
    """Share of stored customers at each of the five reliance levels, per channel."""
    (model,) = customer_models(serving, ["channel-preference"])
    report = channel_preference_report(session, model)
    answered_by(http_request, [model.ref()])
    return ChannelPreferenceReport(**report, model=ModelRef(**model.ref()))
