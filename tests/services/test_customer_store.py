"""The customer store's services, each test in a transaction rolled back after it."""

from __future__ import annotations

import pytest

from app.core.errors import CustomerNotFoundError, ProblemError
from app.services.customer_store import (
    get_customer,
    get_customer_or_raise,
    upsert_customer,
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


def test_each_test_starts_empty(session):
    assert get_customer(session, "C00000001") is None
    assert get_customer(session, "C1") is None
