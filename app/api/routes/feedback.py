"""Feedback from the CRM: corrected classifications and observed customer outcomes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request

from app.api.deps import DatabaseGuard, ServingModelsDep, SettingsDep, requires
from app.api.openapi import problem
from app.api.schemas import FEEDBACK_EXAMPLES, FeedbackRequest, FeedbackResponse
from app.core.errors import FieldError, InvalidInputError, UnknownReferenceError
from app.db.session import session_scope
from app.services.feedback import FeedbackVocabulary, ItemProblem, check_items, store_items

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])


@router.post(
    "",
    response_model=FeedbackResponse,
    dependencies=requires("feedback"),
    responses={
        404: problem(
            "An item names a customer the store does not hold, a request id no captured "
            "classification has, or an index past its batch; nothing is stored"
        ),
        422: problem(
            "An item breaks a rule (an unknown category lists the known ones), or more items "
            "than the limit; nothing is stored"
        ),
        503: problem(
            "The app database is unavailable, or a model that checks a field is not loaded",
            retry_after=True,
        ),
    },
)
def post_feedback(
    body: Annotated[FeedbackRequest, Body(openapi_examples=FEEDBACK_EXAMPLES)],
    serving: ServingModelsDep,
    settings: SettingsDep,
    request: Request,
    _: Annotated[None, DatabaseGuard],
) -> FeedbackResponse:
    """Store corrections of classified texts (the right demand category, the spam verdict)
    and customers' observed outcomes (churned or stayed, occupation, channels and content
    used). Sending the same feedback again (the same request id and index, text, or customer
    and date) replaces it."""
    items = body.items
    if len(items) > settings.max_feedback_per_request:
        limit = settings.max_feedback_per_request
        raise InvalidInputError(
            f"at most {limit} items per request",
            errors=[FieldError("items", f"{len(items)} items; the maximum is {limit}")],
        )
    vocabulary = FeedbackVocabulary.of(serving.models)
    problems = check_items(items, vocabulary, max_text_chars=settings.max_text_chars)
    if problems:
        raise InvalidInputError(f"{len(problems)} invalid field(s)", errors=_named(problems))
    with session_scope(request.app.state.sessions) as session:
        summary, unknown = store_items(session, items, client=request.state.caller.name)
    if unknown:
        detail = f"{len(unknown)} item(s) name what is not held"
        raise UnknownReferenceError(detail, errors=_named(unknown))
    return FeedbackResponse(
        stored=summary.stored, created=summary.created, replaced=summary.replaced
    )


def _named(problems: list[ItemProblem]) -> list[FieldError]:
    return [FieldError(f"items[{p.position}].{p.field}", p.message) for p in problems]
