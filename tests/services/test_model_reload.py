"""The service follows the registry: swaps under load, refuses broken versions, polls."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi.testclient import TestClient

from app.core.metrics import MODEL_LOAD_FAILURES, MODEL_SWAPS
from app.main import create_app
from model_registry.registry import PRODUCTION
from tests.conftest import ADMIN_HEADERS, service_client, settings_for, wait_until_ready
from tests.text_versions import DEMAND

CLASSIFY = "/v1/demands/classify"
REFRESH = "/v1/admin/models/refresh"
TEXTS = {"texts": ["宽带断网了", "查一下上个月的账单"]}


@dataclass(frozen=True)
class Answer:
    started: float
    finished: float
    status: int
    demand_versions: tuple[str, ...]  # every demand-classifier version the answer names


@contextmanager
def served_over_http(settings) -> Iterator[str]:
    """The app under a real uvicorn on a free port, in this process; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(60)


def _wait_ready(base_url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the service never became ready")


def _keep_classifying(base_url: str, stop: threading.Event, answers: list[Answer]) -> None:
    with httpx.Client(base_url=base_url, headers=ADMIN_HEADERS, timeout=30) as client:
        while not stop.is_set():
            started = time.monotonic()
            response = client.post(CLASSIFY, json=TEXTS)
            refs = response.json().get("models", []) if response.status_code == 200 else []
            versions = tuple(m["version"] for m in refs if m["name"] == DEMAND)
            answers.append(Answer(started, time.monotonic(), response.status_code, versions))


def _counter(counter, **labels) -> float:
    return counter.labels(**labels)._value.get()


def test_a_swap_under_concurrent_load_fails_and_mixes_no_request(text_versions):
    settings = settings_for(text_versions.store, reload_interval_seconds=0)
    swaps_before = _counter(MODEL_SWAPS, model=DEMAND, alias=PRODUCTION)
    with served_over_http(settings) as base_url:
        stop, answers = threading.Event(), []
        clients = [
            threading.Thread(target=_keep_classifying, args=(base_url, stop, answers))
            for _ in range(4)
        ]
        for client in clients:
            client.start()
        time.sleep(0.5)
        text_versions.store.activate().set_registered_model_alias(
            DEMAND, PRODUCTION, text_versions.twin
        )
        refresh_sent = time.monotonic()
        refresh = httpx.post(f"{base_url}{REFRESH}", headers=ADMIN_HEADERS, timeout=60)
        swapped_at = time.monotonic()
        time.sleep(0.5)
        stop.set()
        for client in clients:
            client.join(30)
        models = httpx.get(f"{base_url}/v1/models", headers=ADMIN_HEADERS).json()["models"]

    assert refresh.status_code == 200
    (swap,) = refresh.json()["swapped"]
    assert (swap["model"], swap["alias"]) == (DEMAND, PRODUCTION)
    assert (swap["previous_version"], swap["version"]) == (text_versions.base, text_versions.twin)
    assert [a for a in answers if a.status != 200] == []
    assert all(len(a.demand_versions) == 1 for a in answers)
    before = [a for a in answers if a.finished < refresh_sent]
    after = [a for a in answers if a.started > swapped_at]
    assert len(before) > 10 and len(after) > 10
    assert {a.demand_versions[0] for a in before} == {text_versions.base}
    assert {a.demand_versions[0] for a in after} == {text_versions.twin}
    assert {(m["name"], m["version"]) for m in models} >= {(DEMAND, text_versions.twin)}
    assert _counter(MODEL_SWAPS, model=DEMAND, alias=PRODUCTION) == swaps_before + 1


def test_a_broken_version_is_not_swapped_in_and_the_failure_shows(text_versions, caplog):
    failures_before = _counter(MODEL_LOAD_FAILURES, model=DEMAND, alias=PRODUCTION)
    settings = settings_for(text_versions.store, reload_interval_seconds=0)
    with service_client(settings) as api:
        wait_until_ready(api)
        client = text_versions.store.activate()
        client.set_registered_model_alias(DEMAND, PRODUCTION, text_versions.broken)
        with caplog.at_level(logging.ERROR):
            refresh = api.post(REFRESH).json()

        (failed,) = refresh["failed"]
        assert (failed["model"], failed["version"]) == (DEMAND, text_versions.broken)
        assert failed["previous_version"] == text_versions.base
        assert "failed to load" in failed["error"] and refresh["swapped"] == []
        answer = api.post(CLASSIFY, json=TEXTS)
        assert answer.status_code == 200
        assert _demand_ref(answer.json()) == (text_versions.base, PRODUCTION)
        ready = api.get("/readyz")
        assert ready.status_code == 200
        (failure,) = ready.json()["failures"]
        assert failure["model"] == DEMAND and failure["alias"] == PRODUCTION
        assert failure["version"] == text_versions.broken and failure["error"] and failure["at"]
        assert f'model="{DEMAND}"' in _metric_lines(api, "insight_model_load_failures_total")
        assert "not swapped in" in caplog.text and "宽带" not in caplog.text
        assert _counter(MODEL_LOAD_FAILURES, model=DEMAND, alias=PRODUCTION) == failures_before + 1

        # The poller does not try the same broken version again until its alias moves.
        api.app.state.catalog.refresh()
        assert _counter(MODEL_LOAD_FAILURES, model=DEMAND, alias=PRODUCTION) == failures_before + 1

        client.set_registered_model_alias(DEMAND, PRODUCTION, text_versions.base)
        assert api.post(REFRESH).json()["failed"] == []
        assert api.get("/readyz").json()["failures"] == []


def test_the_poller_picks_up_a_moved_alias_without_an_admin_call(text_versions):
    settings = settings_for(text_versions.store, reload_interval_seconds=0.2)
    with service_client(settings) as api:
        wait_until_ready(api)
        assert api.get(f"/v1/models/{DEMAND}").json()["version"] == text_versions.base
        text_versions.store.activate().set_registered_model_alias(
            DEMAND, PRODUCTION, text_versions.twin
        )
        deadline = time.monotonic() + 30
        while api.get(f"/v1/models/{DEMAND}").json()["version"] != text_versions.twin:
            assert time.monotonic() < deadline, "the poller never swapped the new version in"
            time.sleep(0.1)
        answer = api.post(CLASSIFY, json=TEXTS).json()
        assert _demand_ref(answer) == (text_versions.twin, PRODUCTION)


def test_zero_interval_never_polls(text_versions):
    settings = settings_for(text_versions.store, reload_interval_seconds=0)
    with service_client(settings) as api:
        wait_until_ready(api)
        checked_at = api.get("/v1/models").json()["checked_at"]
        text_versions.store.activate().set_registered_model_alias(
            DEMAND, PRODUCTION, text_versions.twin
        )
        # Never polling means the watcher's thread ends once the models are loaded.
        deadline = time.monotonic() + 30
        while api.app.state.watcher.polling:
            assert time.monotonic() < deadline, "the watcher kept running"
            time.sleep(0.05)
        body = api.get("/v1/models").json()
        assert body["checked_at"] == checked_at
        assert {(m["name"], m["version"]) for m in body["models"]} >= {(DEMAND, text_versions.base)}


def _demand_ref(answer: dict) -> tuple[str, str]:
    (ref,) = [m for m in answer["models"] if m["name"] == DEMAND]
    return ref["version"], ref["alias"]


def _metric_lines(api: TestClient, name: str) -> str:
    text = api.get("/metrics").text
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


def test_production_alias_deleted_keeps_the_loaded_version_serving(text_versions):
    settings = settings_for(text_versions.store, reload_interval_seconds=0)
    with service_client(settings) as api:
        wait_until_ready(api)
        text_versions.store.activate().delete_registered_model_alias(DEMAND, PRODUCTION)
        (failed,) = api.post(REFRESH).json()["failed"]
        answer = api.post(CLASSIFY, json=TEXTS).json()
        ready = api.get("/readyz")
    assert failed["version"] is None and "still serving version" in failed["error"]
    assert _demand_ref(answer) == (text_versions.base, PRODUCTION)
    assert ready.status_code == 200 and ready.json()["failures"][0]["model"] == DEMAND


def test_loading_versions_again_and_again_leaves_the_import_path_as_it_was(text_versions):
    import sys

    from app.services.served_models import load_served_model
    from model_registry.registry import resolve_version

    client = text_versions.store.activate()
    version = resolve_version(client, "demand-classifier", alias="production")
    before = list(sys.path)
    for _ in range(2):
        assert load_served_model(client, version, "production").version == str(version.version)
    assert sys.path == before
