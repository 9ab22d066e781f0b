"""Scoring customers, the customer store and the 客户画像 profile."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response

from app.api.deps import DatabaseGuard, ServingModelsDep, SessionDep, SettingsDep, requires
from app.api.openapi import problem
from app.api.schemas import (
    SCORE_EXAMPLES,
    CustomerOut,
    CustomerPut,
    ProfileResponse,
    ScoreRequest,
    ScoreResponse,
)
from app.api.scoring_threads import run_scoring
from app.core.request_metrics import answered_by
from app.db.session import session_scope
from app.services import customer_profile as profile
from app.services.customer_ids import CUSTOMER_ID_RULE, CustomerId
from app.services.customer_scoring import (
    check_batch,
    check_record,
    customer_models,
    score_customers,
)
from app.services.customer_store import (
    get_customer_or_raise,
    get_customer_scores,
    upsert_customer,
)

router = APIRouter(prefix="/v1/customers", tags=["customers"])
CustomerIdPath = Annotated[
    CustomerId, Path(description=f"The customer's id: {CUSTOMER_ID_RULE}.", examples=["C00000001"])
]
STORE_ERRORS = {
    422: problem("An id or a feature that breaks the rules, named"),
    503: problem("The app database is unavailable", retry_after=True),
}


@router.post(
    "/score",
    response_model=ScoreResponse,
    dependencies=requires("score"),
    responses={
        422: problem(
            "Missing or malformed features, named one by one, or more customers than the limit"
        ),
        503: problem("A model asked for is not loaded"),
    },
)
async def score(
    request: Annotated[ScoreRequest, Body(openapi_examples=SCORE_EXAMPLES)],
    serving: ServingModelsDep,
    settings: SettingsDep,
    http_request: Request,
) -> Response:
    """Every customer model's answer (or the models named) for one or many feature records."""
    records = [customer.features for customer in request.customers]
    check_batch(records, max_customers=settings.max_customers_per_request)
    models = customer_models(serving, request.models)
    answers = await run_scoring(
        http_request, len(records), score_customers, records, models, joint=serving.joint
    )
    results = [
        {"customer_id": customer.customer_id, "scores": answer}
        for customer, answer in zip(request.customers, answers)
    ]
    body = {"results": results, "models": [model.ref() for model in models]}
    answered_by(http_request, body["models"])
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )


@router.put(
    "/{customer_id}",
    response_model=CustomerOut,
    dependencies=requires("customers:write"),
    responses=STORE_ERRORS,
)
def put_customer(
    customer_id: CustomerIdPath,
    body: CustomerPut,
    serving: ServingModelsDep,
    request: Request,
    _: Annotated[None, DatabaseGuard],
) -> CustomerOut:
    """Create or replace a customer's stored feature record: checked by the import's rules and
    every loaded customer model's signature first, so its profile can answer."""
    check_record(body.features, serving)
    # A transaction of its own, committed before the answer is built: on SQLite a writer
    # holds the whole file's lock until it commits.
    with session_scope(request.app.state.sessions) as session:
        customer = upsert_customer(session, customer_id=customer_id, record=body.features)
    return CustomerOut.of(customer)


@router.get(
    "/{customer_id}",
    response_model=CustomerOut,
    dependencies=requires("customers:read"),
    responses={404: problem("No customer has this id"), **STORE_ERRORS},
)
def get_customer(customer_id: CustomerIdPath, session: SessionDep) -> CustomerOut:
    """A stored customer's feature record, and each model's latest answer for it."""
    customer = get_customer_or_raise(session, customer_id)
    return CustomerOut.of(customer, scores=get_customer_scores(session, customer_id))


@router.get(
    "/{customer_id}/profile",
    response_model=ProfileResponse,
    dependencies=requires("customers:read"),
    responses={404: problem("No customer has this id"), **STORE_ERRORS},
)
def get_profile(
    customer_id: CustomerIdPath,
    session: SessionDep,
    serving: ServingModelsDep,
    http_request: Request,
) -> ProfileResponse:
    """The customer's 客户画像: record, every model's answer, value, lifecycle, satisfaction."""
    customer = get_customer_or_raise(session, customer_id)
    models = customer_models(serving, None)
    (scores,) = score_customers([customer.record], models, joint=serving.joint, field="record")
    churn = scores.get("churn", {}).get("churn_probability")
    refs = [model.ref() for model in models]
    answered_by(http_request, refs)
    return ProfileResponse(
        customer=CustomerOut.of(customer),
        scores=scores,
        value=profile.value_segment(customer.record),
        lifecycle_stage=profile.lifecycle_stage(customer.record, churn),
        satisfaction=profile.satisfaction(customer.record),
        models=refs,
    )
