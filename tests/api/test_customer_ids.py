"""Customer ids and record text that no database can store, or that SQLite would store and
PostgreSQL refuse: the same 422 on both, naming the field, and nothing of them in the log."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import admin_headers, service_client, settings_for, wait_until_ready
from tests.db.databases import database_url, migrated_url  # noqa: F401

JSON = {"Content-Type": "application/json"}
SECRET = "13912345678-张三-secret"  # what must never reach a log
RECORD = {"age": 30, "note": SECRET}
BAD_IDS = {
    "NUL": "%00",
    "20,000 characters": "C" * 20_000,
    "a control character": "C%01",
    "a line feed": "C%0A1",
    "a space": "C%201",
    "a letter beyond ASCII": "%E5%AE%A2%E6%88%B71",  # 客户1: one id, one spelling
}


@pytest.fixture
def store_api(trained_store, migrated_url) -> Iterator[TestClient]:  # noqa: F811
    """The service on a database of its own (SQLite, and PostgreSQL when there is one)."""
    settings = settings_for(trained_store, database_url=migrated_url, capture_enabled=False)
    with service_client(settings, headers=admin_headers(migrated_url)) as client:
        wait_until_ready(client)
        yield client


@pytest.mark.parametrize("customer_id", BAD_IDS.values(), ids=BAD_IDS.keys())
def test_a_bad_id_is_422_naming_customer_id(store_api, customer_id, caplog):
    caplog.set_level(logging.DEBUG)
    for method, path in (
        ("GET", f"/v1/customers/{customer_id}"),
        ("GET", f"/v1/customers/{customer_id}/profile"),
        ("PUT", f"/v1/customers/{customer_id}"),
    ):
        response = store_api.request(method, path, json={"features": RECORD})
        assert response.status_code == 422, (method, path[:40], response.text[:300])
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == ["customer_id"]
        assert "letters, digits" in response.json()["errors"][0]["message"]
    assert SECRET not in caplog.text


def test_a_bad_id_in_a_score_body_is_422(store_api):
    body = {"customers": [{"customer_id": "C\x001", "features": RECORD}]}
    response = store_api.post("/v1/customers/score", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["customers[0].customer_id"]


def test_a_record_holding_nul_is_422_naming_the_field(store_api, caplog):
    caplog.set_level(logging.DEBUG)
    for features, field in (
        ({"age": 30, "note": f"{SECRET}\x00"}, "features.note"),
        ({"age": 30, "contacts": [{"name": f"{SECRET}\x00"}]}, "features.contacts"),
        ({"age": 30, "bad\x00name": SECRET}, "features"),
        ({"age": 30, "note": f"{SECRET}\ud800"}, "features.note"),  # no UTF-8 for it
    ):
        body = json.dumps({"features": features})  # ASCII: NUL and the surrogate as \u escapes
        response = store_api.put("/v1/customers/C-nul", content=body, headers=JSON)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]
        assert SECRET not in response.text
    assert store_api.get("/v1/customers/C-nul").status_code == 404
    assert SECRET not in caplog.text


def test_good_ids_are_stored_alike_on_every_database(store_api):
    for customer_id in ("C00000001", "KH-42", "a.b@x.cn", "x" * 128, "+8613800000000", "A_1:z"):
        put = store_api.put(f"/v1/customers/{customer_id}", json={"features": RECORD})
        assert put.status_code == 200, (customer_id, put.text)
        got = store_api.get(f"/v1/customers/{customer_id}")
        assert got.json()["customer_id"] == customer_id


def test_an_unknown_customer_is_404_without_its_id(store_api):
    response = store_api.get("/v1/customers/13800138000")
    assert response.status_code == 404
    assert "13800138000" not in response.json()["detail"]
