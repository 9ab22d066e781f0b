"""The app database down, in process (PostgreSQL behind a proxy the test closes): customer
calls answer 503 with Retry-After, /readyz says which component is down and since when,
classify keeps answering. SQLite (write-ahead log) held by another writer: reads go on, a write
answers 503 once its wait runs out. An error nothing handles is a 500 whose message reaches no
log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.db.migrations import upgrade
from tests.capture.outage import DatabaseOutage
from tests.conftest import admin_headers, service_client, settings_for, wait_until_ready
from tests.db.databases import BACKENDS, empty_database

BACK_WITHIN_S = 10  # a deadline for the test, not a speed claim (the probe runs every 0.2 s)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'insight.db'}"
    upgrade(url)
    return url


def _service(trained_store, database_url: str, headers: dict[str, str]) -> TestClient:
    settings = settings_for(
        trained_store,
        database_url=database_url,
        capture_enabled=False,
        database_statement_timeout_seconds=0.5,
        sync_interval_seconds=0.2,
    )
    return service_client(settings, headers=headers)


@pytest.fixture
def api_on(trained_store, sqlite_url) -> Iterator[TestClient]:
    with _service(trained_store, sqlite_url, admin_headers(sqlite_url)) as client:
        wait_until_ready(client)
        yield client


@pytest.fixture
def postgres_outage(trained_store) -> Iterator[tuple[TestClient, DatabaseOutage]]:
    """The service on PostgreSQL through a proxy: ``outage.begin()`` cuts and refuses its
    connections, as a stopped server does."""
    if "postgresql" not in BACKENDS:
        pytest.skip("needs INSIGHT_TEST_POSTGRES_URL (make test sets it)")
    for url in empty_database("postgresql", Path()):
        upgrade(url)
        outage = DatabaseOutage(url)
        try:
            with _service(trained_store, outage.app_url, admin_headers(url)) as client:
                wait_until_ready(client)
                yield client, outage
        finally:
            outage.dispose()


def test_readyz_reports_each_component(api_on):
    body = api_on.get("/readyz").json()
    assert body["status"] == "ready"
    assert set(body["components"]) == {"models", "app_database", "registry"}
    for component in body["components"].values():
        assert component["state"] == "ready" and component["since"]
        assert component["error"] is None


def test_customer_calls_answer_503_while_the_database_is_down(postgres_outage, caplog):
    api_on, outage = postgres_outage
    caplog.set_level(logging.INFO)
    assert api_on.put("/v1/customers/C1", json={"features": {"age": 30}}).status_code == 200
    try:
        outage.begin()
        for _ in range(5):
            response = api_on.get("/v1/customers/C1")
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert int(response.headers["retry-after"]) >= 1
        put = api_on.put("/v1/customers/C2", json={"features": {"age": 31}})
        assert put.status_code == 503
        correction = {"kind": "text", "text": "宽带断网了", "spam": False, "corrected_by": "a1"}
        feedback = api_on.post("/v1/feedback", json={"items": [correction]})
        assert feedback.status_code == 503 and int(feedback.headers["retry-after"]) >= 1
        ready = api_on.get("/readyz")
        assert ready.status_code == 200  # the models still answer: see the README's Readiness
        assert ready.json()["status"] == "degraded"
        database = ready.json()["components"]["app_database"]
        assert database["state"] == "down" and database["error"] == "OperationalError"
        assert api_on.post("/v1/demands/classify", json={"text": "宽带断网了"}).status_code == 200
    finally:
        outage.end()
    deadline = time.monotonic() + BACK_WITHIN_S
    while (status := api_on.get("/v1/customers/C1").status_code) != 200:
        assert status == 503 and time.monotonic() < deadline, status
        time.sleep(0.05)
    assert api_on.get("/readyz").json()["components"]["app_database"]["state"] == "ready"
    assert caplog.text.count("app_database down (OperationalError)") == 1
    assert caplog.text.count("app_database back after") == 1
    assert "Traceback" not in caplog.text


def test_on_sqlite_reads_go_on_beside_another_writer_and_a_write_answers_503_in_time(
    api_on, sqlite_url
):
    """The write-ahead log: an import (or any writer) holding SQLite's write lock never stops
    a read; a PUT waits its statement timeout, answers 503 with Retry-After, and succeeds
    once the lock is let go."""
    assert api_on.put("/v1/customers/C1", json={"features": {"age": 30}}).status_code == 200
    outage = DatabaseOutage(sqlite_url)  # an exclusive write transaction, held
    try:
        outage.begin()
        assert api_on.get("/v1/customers/C1").status_code == 200
        put = api_on.put("/v1/customers/C2", json={"features": {"age": 31}})
        assert put.status_code == 503 and int(put.headers["retry-after"]) >= 1
    finally:
        outage.end()
    deadline = time.monotonic() + BACK_WITHIN_S
    while (
        status := api_on.put("/v1/customers/C2", json={"features": {"age": 31}}).status_code
    ) != 200:
        assert status == 503 and time.monotonic() < deadline, status
        time.sleep(0.05)


def test_an_unexpected_error_is_a_500_whose_message_is_not_logged(api_on, monkeypatch, caplog):
    from app.api.routes import customers

    def broken(*args, **kwargs):
        # As a driver's message may quote a record; made here, so no source line shows it.
        raise RuntimeError("1391234" + "5678")

    monkeypatch.setattr(customers, "get_customer_or_raise", broken)
    caplog.set_level(logging.INFO)
    response = api_on.get("/v1/customers/C1")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "13912345678" not in response.text + caplog.text
    assert "unexpected RuntimeError on /v1/customers/{customer_id}" in caplog.text
    assert api_on.post("/v1/demands/classify", json={"text": "宽带断网了"}).status_code == 200
