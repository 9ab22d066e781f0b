"""Classifying customer demand texts."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from app.api.deps import ServingModelsDep, SettingsDep, requires
from app.api.openapi import problem
from app.api.schemas import (
    CLASSIFY_ANSWER_EXAMPLE,
    CLASSIFY_EXAMPLES,
    ClassifyRequest,
    ClassifyResponse,
)
from app.api.scoring_threads import run_scoring
from app.core.request_metrics import answered_by
from app.services.demand_classification import classify_demands, texts_to_classify

router = APIRouter(prefix="/v1/demands", tags=["demands"])


@router.post(
    "/classify",
    response_model=ClassifyResponse,
    dependencies=requires("classify"),
    responses={
        200: {"content": {"application/json": {"example": CLASSIFY_ANSWER_EXAMPLE}}},
        422: problem(
            "A field is missing, empty, too long or of the wrong type, or more texts than the limit"
        ),
        503: problem("The models are not loaded yet"),
    },
)
async def classify(
    request: Annotated[ClassifyRequest, Body(openapi_examples=CLASSIFY_EXAMPLES)],
    models: ServingModelsDep,
    settings: SettingsDep,
    http_request: Request,
) -> Response:
    """Classify one text or a batch: demand category, top-3, and the spam verdict."""
    texts = texts_to_classify(
        request.text,
        request.texts,
        max_texts=settings.max_texts_per_request,
        max_chars=settings.max_text_chars,
    )
    answer = await run_scoring(http_request, len(texts), classify_demands, texts, models)
    answered_by(http_request, answer["models"])
    return Response(orjson.dumps(answer), media_type="application/json")
