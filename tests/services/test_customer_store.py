"""The customer store's services, each test in a transaction rolled back after it."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from app.core.errors import CustomerNotFoundError, ProblemError
from app.services.customer_store import (
    get_customer,
    get_customer_or_raise,
    get_customer_scores,
    upsert_customer,
    upsert_customer_score,
)

RECORD = {"age": 34, "gender": "女", "plan_name": "畅享套餐", "survey_score": None}


def test_upsert_inserts_then_updates(session):
    created = upsert_customer(session, customer_id="C00000001", record=RECORD)
    assert created.record == RECORD
    assert created.created_at.tzinfo is not None
    assert created.updated_at == created.created_at

    changed = {**RECORD, "age": 35}
    updated = upsert_customer(session, customer_id="C00000001", record=changed)
    assert updated.record == changed
    assert updated.created_at == created.created_at
    assert updated.updated_at > created.created_at
    assert get_customer(session, "C00000001").record == changed


def test_a_record_of_another_schema_is_stored_as_given(session):
    record = {"手机号": "13800000000", "月消费": 88.5, "tags": ["宽带", "5G"], "nested": {"a": 1}}
    upsert_customer(session, customer_id="user-table-1", record=record)
    session.expire_all()
    assert get_customer(session, "user-table-1").record == record


def test_an_unknown_customer(session):
    assert get_customer(session, "nobody") is None
    with pytest.raises(CustomerNotFoundError) as raised:
        get_customer_or_raise(session, "nobody")
    assert isinstance(raised.value, ProblemError) and raised.value.status == 404


def test_scores_keep_the_latest_output_per_model(session):
    upsert_customer(session, customer_id="C1", record=RECORD)
    first = upsert_customer_score(
        session,
        customer_id="C1",
        model_name="churn",
        model_version="1",
        model_alias="production",
        output={"probability": 0.2, "risk_level": "低"},
    )
    upsert_customer_score(
        session,
        customer_id="C1",
        model_name="occupation",
        model_version="3",
        model_alias=None,
        output={"occupation": "学生"},
    )
    latest = upsert_customer_score(
        session,
        customer_id="C1",
        model_name="churn",
        model_version="2",
        model_alias="production",
        output={"probability": 0.7, "risk_level": "高"},
    )
    assert latest.scored_at >= first.scored_at
    scores = get_customer_scores(session, "C1")
    assert [(s.model_name, s.model_version) for s in scores] == [
        ("churn", "2"),
        ("occupation", "3"),
    ]
    assert scores[0].output == {"probability": 0.7, "risk_level": "高"}


def test_a_score_needs_a_stored_customer(session):
    with pytest.raises(IntegrityError), session.begin_nested():
        upsert_customer_score(
            session,
            customer_id="nobody",
            model_name="churn",
            model_version="1",
            model_alias=None,
            output={},
        )


def test_each_test_starts_empty(session):
    assert get_customer(session, "C00000001") is None
    assert get_customer(session, "C1") is None
