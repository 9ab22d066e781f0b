"""Capture through the real app: rows with every field, masked; a real database outage; the
service under uvicorn flushing at shutdown."""

import json
import logging
import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from app.db.migrations import migrated_sessions, upgrade
from app.db.models import CapturedRequest
from app.replay.selection import ReplayFilter, count_captured
from tests.capture.conftest import captured_rows
from tests.capture.outage import DatabaseOutage
from tests.conftest import (
    CUSTOMER_MODEL_NAMES,
    TEXT_MODELS,
    admin_headers,
    make_key,
    random_part,
    service_client,
    settings_for,
    wait_until_ready,
)
from tests.serving import running_service, service_env

CLASSIFY = "/v1/demands/classify"
PHONE, ID_NUMBER, EMAIL, NAME = "13812345678", "110101199003071234", "zhang.wei@example.com", "张伟"
SECRET_TEXT = f"我叫{NAME}，手机{PHONE}，身份证{ID_NUMBER}，邮箱{EMAIL}，宽带断网三天了"


@contextmanager
def capturing_app(store, database_url: str, **overrides) -> Iterator[TestClient]:
    settings = settings_for(
        store,
        database_url=database_url,
        capture_flush_interval_seconds=0.05,
        **overrides,
    )
    with service_client(settings, headers=admin_headers(database_url)) as client:
        wait_until_ready(client)
        yield client


def _metric(client: TestClient, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.M)
    return float(found.group(1))


def _wait_until_written(client: TestClient, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while _metric(client, "insight_capture_pending") > 0:
        assert time.monotonic() < deadline, "captured requests still pending"
        time.sleep(0.05)


def _stored_text(url: str) -> str:
    """Every captured row as JSON text: what a search of the database would find."""
    return json.dumps(
        [
            {
                column: str(getattr(row, column))
                for column in CapturedRequest.__table__.columns.keys()  # noqa: SIM118
            }
            | {"body": row.body, "answer": row.answer}
            for row in captured_rows(url)
        ],
        ensure_ascii=False,
    )


@pytest.fixture
def customer_features(customer_world) -> dict:
    from tests.api.test_customers import _features

    return _features(customer_world, 0)


def test_scoring_requests_are_captured_with_every_field_and_masked(
    full_store, migrated_url, customer_features
):
    served = TEXT_MODELS + list(CUSTOMER_MODEL_NAMES)
    record = customer_features | {"客户姓名": NAME, "Mobile": PHONE, "note": SECRET_TEXT}
    with capturing_app(full_store, migrated_url, served_models=served) as client:
        classified = client.post(
            CLASSIFY, json={"text": SECRET_TEXT}, headers={"X-Request-ID": "t-1"}
        )
        invalid = client.post(CLASSIFY, json={"texts": [SECRET_TEXT, 5]})
        scored = client.post("/v1/customers/score", json={"customers": [{"features": record}]})
        assert client.put(f"/v1/customers/C{PHONE}", json={"features": record}).status_code == 200
        profile = client.get(f"/v1/customers/C{PHONE}/profile")
        assert client.get("/healthz").status_code == 200  # not a scoring endpoint
        _wait_until_written(client)
    rows = captured_rows(migrated_url)
    assert [(row.endpoint, row.status) for row in rows] == [
        (CLASSIFY, 200),
        (CLASSIFY, 422),
        ("/v1/customers/score", 200),
        ("/v1/customers/{customer_id}/profile", 200),
    ]
    assert [row.path_params for row in rows] == [None, None, None, {"customer_id": "C〔手机号〕"}]
    assert [row.body_truncated for row in rows] == [False] * 4
    assert len({row.capture_id for row in rows}) == 4
    first = rows[0]
    assert first.request_id == "t-1"
    assert first.body == {
        "text": "我叫〔姓名〕，手机〔手机号〕，身份证〔身份证号〕，邮箱〔邮箱〕，宽带断网三天了"
    }
    assert first.answer == classified.json()
    assert first.model_versions == classified.json()["models"]
    assert 0 < first.latency_ms < 5000
    assert rows[1].request_id == invalid.headers["x-request-id"] and rows[1].model_versions == []
    assert rows[2].model_versions == scored.json()["models"]
    assert rows[2].body["customers"][0]["features"]["客户姓名"] == "〔姓名〕"
    assert rows[2].body["customers"][0]["features"]["age"] == customer_features["age"]
    assert rows[3].body is None
    assert rows[3].answer["customer"]["features"]["Mobile"] == "〔手机号〕"
    assert rows[3].answer["scores"] == profile.json()["scores"]
    stored = _stored_text(migrated_url)
    for secret in (PHONE, ID_NUMBER, EMAIL, NAME):
        assert secret not in stored


def test_refused_bodies_are_captured_as_a_masked_prefix_marked_truncated(
    trained_store, migrated_url
):
    settings = {"max_body_bytes": 10_000, "capture_refused_body_bytes": 200}
    big = json.dumps({"texts": [SECRET_TEXT * 10] * 30}, ensure_ascii=False).encode()
    assert len(big) > 10_000
    with capturing_app(trained_store, migrated_url, **settings) as client:
        declared = client.post(CLASSIFY, content=big, headers=_json_id("declared"))
        streamed = client.post(CLASSIFY, content=_chunks(big, 4096), headers=_json_id("streamed"))
        too_long = client.post(CLASSIFY, json={"text": "宽" * 2001}, headers=_json_id("long"))
        _wait_until_written(client)
    assert (declared.status_code, streamed.status_code, too_long.status_code) == (413, 413, 422)
    assert declared.json()["errors"] == [{"field": "body", "message": "longer than 10000 bytes"}]
    rows = {row.request_id: row for row in captured_rows(migrated_url)}
    assert all(row.body_truncated and isinstance(row.body, str) for row in rows.values())
    assert rows["declared"].body == ""  # refused by its declared length: never read
    assert rows["streamed"].status == 413 and 0 < len(rows["streamed"].body) <= 200
    assert rows["long"].status == 422 and rows["long"].body.startswith('{"text":"宽宽')
    assert len(rows["long"].body.encode()) <= 200
    stored = _stored_text(migrated_url)
    for secret in (PHONE, ID_NUMBER, EMAIL, NAME):
        assert secret not in stored


def _json_id(request_id: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Request-ID": request_id}


def _chunks(content: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


def test_captured_requests_name_the_key_that_sent_them_and_replay_selects_by_it(
    trained_store, migrated_url
):
    secrets = {name: make_key(migrated_url, name, ["classify"]) for name in ("crm-a", "crm-b")}
    with capturing_app(trained_store, migrated_url) as client:
        for name, count in (("crm-a", 2), ("crm-b", 1)):
            for _ in range(count):
                headers = {"Authorization": f"Bearer {secrets[name]}"}
                assert client.post(CLASSIFY, json={"text": "话费"}, headers=headers).is_success
        _wait_until_written(client)
    rows = captured_rows(migrated_url)
    assert [row.client for row in rows] == ["crm-a", "crm-a", "crm-b"]
    stored = _stored_text(migrated_url)
    assert not [secret for secret in secrets.values() if random_part(secret) in stored]
    with migrated_sessions(migrated_url) as sessions:
        assert count_captured(sessions, ReplayFilter(client="crm-a")) == 2
        assert count_captured(sessions, ReplayFilter(client="crm-b")) == 1


def test_capture_off_installs_nothing(trained_store, migrated_url):
    with capturing_app(trained_store, migrated_url, capture_enabled=False) as client:
        assert client.post(CLASSIFY, json={"text": "宽带断网了"}).status_code == 200
        assert client.app.state.capture is None
    assert captured_rows(migrated_url) == []


BOUND, PAST_BOUND = 20, 7


def test_a_database_outage_loses_nothing_within_the_bound_and_counts_the_rest(
    trained_store, migrated_url, caplog
):
    caplog.set_level(logging.WARNING, logger="app.capture")
    outage = DatabaseOutage(migrated_url)
    try:
        with capturing_app(trained_store, outage.app_url, capture_buffer_size=BOUND) as client:
            _classify(client, ["before-0", "before-1"])
            _wait_until_written(client)
            dropped_before = _metric(client, "insight_capture_dropped_total")
            outage.begin()
            ids = [f"during-{i:02d}" for i in range(BOUND + PAST_BOUND)]
            latencies = _classify(client, ids)
            assert max(latencies) < 1.0 and statistics.median(latencies) < 0.25
            assert _metric(client, "insight_capture_pending") == BOUND
            assert _metric(client, "insight_capture_dropped_total") - dropped_before == PAST_BOUND
            _wait_for_log(caplog, "unavailable")  # the writer failed, and retries meanwhile
            outage.end()
            _wait_until_written(client)
    finally:
        outage.dispose()
    stored = [row.request_id for row in captured_rows(migrated_url)]
    assert stored == ["before-0", "before-1", *ids[:BOUND]]
    messages = [record.getMessage() for record in caplog.records]
    assert sum("unavailable" in message for message in messages) == 1
    assert sum("buffer is full" in message for message in messages) == 1
    assert sum(f"{PAST_BOUND} were dropped" in message for message in messages) == 1


def _wait_for_log(caplog, words: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not any(words in record.getMessage() for record in caplog.records):
        assert time.monotonic() < deadline, f"nothing logged {words!r}"
        time.sleep(0.05)


def _classify(client: TestClient, request_ids: list[str]) -> list[float]:
    latencies = []
    for request_id in request_ids:
        started = time.perf_counter()
        response = client.post(
            CLASSIFY, json={"text": SECRET_TEXT}, headers={"X-Request-ID": request_id}
        )
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200
    return latencies


def test_insight_serve_writes_what_is_pending_when_it_stops(trained_store, tmp_path):
    url = f"sqlite:///{tmp_path / 'insight.db'}"
    upgrade(url)
    headers = admin_headers(url)
    # Nothing is written before the stop: what the table holds, the shutdown flushed.
    env = service_env(
        trained_store, TEXT_MODELS, database_url=url, capture_flush_interval_seconds=3600
    )
    with (
        running_service(env, tmp_path / "server.log") as service,
        service.client(headers) as client,
    ):
        for _ in range(3):
            assert client.post(CLASSIFY, json={"text": SECRET_TEXT}).status_code == 200
    output = service.output()
    rows = captured_rows(url)
    assert len(rows) == 3 and all(row.status == 200 for row in rows)
    assert PHONE not in _stored_text(url) and PHONE not in output and NAME not in output
