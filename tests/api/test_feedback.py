"""POST /v1/feedback through the real app: corrections by request id (read back from the
capture) and by text, customer outcomes, the rules an item is checked against, and the
promise that a batch is stored whole or not at all, with no personal data in answers or logs."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from app.db.migrations import migrated_sessions, upgrade
from app.db.models import CustomerOutcome, TextCorrection
from app.db.session import session_scope
from tests.api.test_customers import _features
from tests.conftest import (
    CUSTOMER_MODEL_NAMES,
    TEXT_MODELS,
    admin_headers,
    make_key,
    service_client,
    settings_for,
    wait_until_ready,
)

FEEDBACK, CLASSIFY = "/v1/feedback", "/v1/demands/classify"
PHONE = "13812345678"
TEXT_WITH_PHONE = f"我的手机{PHONE}，宽带断网三天了，一直没人来修"
CUSTOMER = "C-feedback-1"
TODAY = date.today().isoformat()


@pytest.fixture(scope="module")
def feedback_service(
    full_store, customer_world, tmp_path_factory
) -> Iterator[tuple[TestClient, str]]:
    """All six models on an app database of its own, capturing every 50 ms, one customer stored."""
    url = f"sqlite:///{tmp_path_factory.mktemp('feedback') / 'insight.db'}"
    upgrade(url)
    feedback_key = make_key(url, "crm-feedback", ["feedback"])  # made before the keys are read
    settings = settings_for(
        full_store,
        database_url=url,
        served_models=TEXT_MODELS + list(CUSTOMER_MODEL_NAMES),
        capture_flush_interval_seconds=0.05,
        max_feedback_per_request=5,
    )
    with service_client(settings, headers=admin_headers(url)) as client:
        wait_until_ready(client)
        stored = client.put(
            f"/v1/customers/{CUSTOMER}", json={"features": _features(customer_world, 0)}
        )
        assert stored.status_code == 200, stored.text
        client.feedback_key = feedback_key
        yield client, url


@pytest.fixture
def feedback_api(feedback_service) -> tuple[TestClient, str]:
    """The service, with no feedback stored yet."""
    _, url = feedback_service
    with migrated_sessions(url) as sessions, session_scope(sessions) as session:
        session.execute(delete(TextCorrection))
        session.execute(delete(CustomerOutcome))
    return feedback_service


def _correction(**fields) -> dict:
    return {"kind": "text", "corrected_by": "坐席0421", **fields}


def _outcome(**fields) -> dict:
    return {
        "kind": "outcome",
        "customer_id": CUSTOMER,
        "as_of": TODAY,
        "reported_by": "dw",
        **fields,
    }


def _rows(url: str, table) -> list:
    with migrated_sessions(url) as sessions, session_scope(sessions) as session:
        rows = list(session.scalars(select(table)))
        session.expunge_all()
        return rows


def _count(url: str, table) -> int:
    with migrated_sessions(url) as sessions, session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(table))


def _classified(client: TestClient, texts: list[str], request_id: str) -> list[dict]:
    """Classify ``texts`` under ``request_id`` and wait until the capture holds the request."""
    answer = client.post(CLASSIFY, json={"texts": texts}, headers={"X-Request-ID": request_id})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + 20
    while True:
        probe = client.post(
            FEEDBACK, json={"items": [_correction(request_id=request_id, spam=False)]}
        )
        if probe.status_code == 200:
            return answer.json()["results"]
        assert probe.status_code == 404 and time.monotonic() < deadline, probe.text
        time.sleep(0.05)


def _fields(response, status: int = 422) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_a_correction_by_request_id_keeps_the_captured_text_and_answer(feedback_api):
    client, url = feedback_api
    results = _classified(client, ["宽带断网了", TEXT_WITH_PHONE], "fb-req-1")
    item = _correction(request_id="fb-req-1", index=1, category="宽带故障", spam=False)
    first = client.post(FEEDBACK, json={"items": [item]})
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 1, "created": 1, "replaced": 0}
    again = client.post(FEEDBACK, json={"items": [item | {"category": "网络信号"}]})
    assert again.json() == {"stored": 1, "created": 0, "replaced": 1}  # idempotent per index
    rows = {row.key: row for row in _rows(url, TextCorrection)}
    row = rows["request:fb-req-1#1"]
    assert (row.request_id, row.item_index, row.category, row.spam) == (
        "fb-req-1",
        1,
        "网络信号",
        False,
    )
    assert PHONE not in row.text and "宽带断网三天了" in row.text  # masked as the capture keeps it
    assert row.answered["category"] == results[1]["category"]
    assert row.answered["spam"] == results[1]["spam"]
    assert {m["name"] for m in row.answered["models"]} == {"demand-classifier", "spam-filter"}
    assert row.corrected_by == "坐席0421" and row.client.startswith("admin-")
    assert set(rows) == {"request:fb-req-1#0", "request:fb-req-1#1"}  # and the probe's


def test_a_correction_of_a_text_sent_as_such_is_masked_and_keyed_by_the_text(feedback_api):
    client, url = feedback_api
    item = _correction(text=TEXT_WITH_PHONE, category="宽带故障")
    assert client.post(FEEDBACK, json={"items": [item, item]}).json()["stored"] == 1
    assert client.post(FEEDBACK, json={"items": [item]}).json()["replaced"] == 1
    (row,) = _rows(url, TextCorrection)
    assert row.key.startswith("text:") and PHONE not in row.text and row.answered is None


def test_an_unknown_category_is_refused_listing_the_known_ones(feedback_api):
    client, url = feedback_api
    fields = _fields(
        client.post(FEEDBACK, json={"items": [_correction(text="话费", category="天气")]})
    )
    assert "must be one of: " in fields["items[0].category"]
    assert "宽带故障" in fields["items[0].category"] and "天气" not in fields["items[0].category"]
    assert _count(url, TextCorrection) == 0


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (_correction(text="话费"), "items[0].category"),  # no verdict
        (_correction(category="宽带故障"), "items[0].request_id"),  # neither request id nor text
        (_correction(text="话费", request_id="r", spam=True), "items[0].request_id"),  # both
        (_correction(text="话费", index=2, spam=True), "items[0].index"),
        (_correction(text=" ", spam=True), "items[0].text"),
        (_correction(text="\ud800断网", spam=True), "items[0].text"),
        ({"kind": "text", "text": "话费", "spam": True}, "items[0].corrected_by"),
        (_correction(text="话费", spam=True, corrected_by="a\x00b"), "items[0].corrected_by"),
        (_outcome(churned=True, reported_by="\x00"), "items[0].reported_by"),
        (_correction(text="话费", spam=True, churned=True), "items[0].churned"),
        (_outcome(), "items[0].churned"),  # no verdict
        (_outcome(occupation="宇航员"), "items[0].occupation"),
        (_outcome(channels=["app", "pigeon"]), "items[0].channels"),
        (_outcome(content=["新闻"]), "items[0].content"),  # slugs, as the answers name them
        (_outcome(churned=True, category="宽带故障"), "items[0].category"),
        ({"kind": "outcome", "customer_id": CUSTOMER, "churned": True}, "items[0].as_of"),
        (_outcome(churned="maybe"), "items[0].churned"),
        (_outcome(churned=True, mood="sad"), "items[0].mood"),
        ({"kind": "opinion"}, "items[0]"),
    ],
)
def test_each_broken_rule_is_a_422_naming_the_field(feedback_api, item, field):
    client, url = feedback_api
    body = json.dumps({"items": [item]})  # ASCII: a lone surrogate travels as its escape
    answer = client.post(FEEDBACK, content=body, headers={"Content-Type": "application/json"})
    assert field in _fields(answer)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (_correction(request_id="never-captured", spam=True), "items[0].request_id"),
        (_outcome(churned=True, customer_id="C-nobody"), "items[0].customer_id"),
    ],
)
def test_what_the_service_does_not_hold_is_a_404_naming_the_field(feedback_api, item, field):
    client, _ = feedback_api
    assert field in _fields(client.post(FEEDBACK, json={"items": [item]}), status=404)


def test_an_index_past_the_captured_batch_is_a_404(feedback_api):
    client, _ = feedback_api
    _classified(client, ["宽带断网了"], "fb-req-2")
    item = _correction(request_id="fb-req-2", index=1, spam=False)
    assert "items[0].index" in _fields(client.post(FEEDBACK, json={"items": [item]}), status=404)


def test_an_outcome_is_stored_once_per_customer_and_date(feedback_api):
    client, url = feedback_api
    item = _outcome(
        churned=True, occupation="学生", channels=["hotline", "app", "app"], content=["games"]
    )
    assert client.post(FEEDBACK, json={"items": [item]}).json()["created"] == 1
    assert (
        client.post(FEEDBACK, json={"items": [item | {"churned": False}]}).json()["replaced"] == 1
    )
    earlier = item | {"as_of": (date.today() - timedelta(days=30)).isoformat()}
    assert client.post(FEEDBACK, json={"items": [earlier]}).json()["created"] == 1
    rows = sorted(_rows(url, CustomerOutcome), key=lambda row: row.as_of)
    assert [row.churned for row in rows] == [True, False]
    assert rows[1].channels == ["app", "hotline"] and rows[1].content == ["games"]
    assert (rows[1].occupation, rows[1].reported_by) == ("学生", "dw")


def test_a_batch_with_one_bad_item_stores_nothing(feedback_api):
    client, url = feedback_api
    good = [_correction(text="宽带断网了", category="宽带故障"), _outcome(churned=True)]
    fields = _fields(
        client.post(FEEDBACK, json={"items": [*good, _outcome(churned=True, customer_id="C-x")]}),
        status=404,
    )
    assert list(fields) == ["items[2].customer_id"]
    assert _count(url, TextCorrection) == _count(url, CustomerOutcome) == 0
    assert client.post(FEEDBACK, json={"items": good}).json()["stored"] == 2


def test_the_batch_limit_and_an_empty_batch(feedback_api):
    client, _ = feedback_api
    items = [_correction(text=f"宽带断网{i}", spam=False) for i in range(6)]
    assert "at most 5" in client.post(FEEDBACK, json={"items": items}).json()["detail"]
    assert "items" in _fields(client.post(FEEDBACK, json={"items": []}))


def test_no_answer_or_log_line_carries_personal_data(feedback_api, caplog):
    client, _ = feedback_api
    caplog.set_level(logging.DEBUG)
    secret_customer = f"C{PHONE}"
    answers = [
        client.post(
            FEEDBACK, json={"items": [_outcome(churned=True, customer_id=secret_customer)]}
        ),
        client.post(FEEDBACK, json={"items": [_correction(text=TEXT_WITH_PHONE, category="天气")]}),
        client.post(FEEDBACK, json={"items": [_correction(request_id=PHONE, spam=True)]}),
    ]
    for answer in answers:
        assert answer.status_code in (404, 422)
        assert PHONE not in answer.text
    assert PHONE not in caplog.text


def test_the_feedback_scope_alone_is_enough(feedback_api):
    client, url = feedback_api
    answer = client.post(
        FEEDBACK,
        json={"items": [_outcome(churned=False)]},
        headers={"Authorization": f"Bearer {client.feedback_key}"},
    )
    assert answer.status_code == 200, answer.text
    (row,) = _rows(url, CustomerOutcome)
    assert row.client == "crm-feedback"
