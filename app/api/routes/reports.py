"""Reports over the stored customers."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ServingModelsDep, SessionDep
from app.api.schemas import ChannelPreferenceReport, ModelRef
from app.services.customer_scoring import customer_models
from app.services.reports import channel_preference_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/channel-preference", response_model=ChannelPreferenceReport)
def channel_preference(session: SessionDep, serving: ServingModelsDep) -> ChannelPreferenceReport:
    """Share of stored customers at each of the five reliance levels, per channel."""
    (model,) = customer_models(serving, ["channel-preference"])
    report = channel_preference_report(session, model)
    return ChannelPreferenceReport(**report, model=ModelRef(**model.ref()))
