"""What /readyz reports per component: a state, since when, why; logged once per change."""

from __future__ import annotations

import logging

import mlflow
import pytest

from app.core.health import Component
from app.services.model_catalog import ModelCatalog
from model_registry.store import MlflowStore
from tests.serving import free_port


def test_a_component_logs_going_down_and_coming_back_once(caplog):
    caplog.set_level(logging.INFO)
    database = Component("app_database", down_note="customer calls answer 503")
    database.ready()
    up_since = database.current.since
    database.ready()
    assert database.current.since == up_since
    for _ in range(3):
        database.down(ConnectionRefusedError("13912345678"))  # the message is never shown
    down = database.current
    assert (down.state, down.error) == ("down", "ConnectionRefusedError")
    database.down("TimeoutError")  # another reason: the same outage, the same since
    assert database.current.since == down.since and database.current.error == "TimeoutError"
    database.ready()
    assert database.current.state == "ready" and database.current.error is None
    assert caplog.text.count("app_database down (ConnectionRefusedError)") == 1
    assert caplog.text.count("customer calls answer 503") == 1
    assert caplog.text.count("app_database back after") == 1
    assert "13912345678" not in caplog.text


@pytest.fixture
def unreachable_store(tmp_path, monkeypatch):
    """A registry behind a port nothing listens on; MLflow's global URIs restored after."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield MlflowStore(tracking_uri=f"http://127.0.0.1:{free_port()}", artifact_root=str(tmp_path))
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)


def test_a_registry_out_of_reach_shows_as_down(unreachable_store):
    catalog = ModelCatalog(store=unreachable_store, names=["demand-classifier"])
    assert catalog.registry_health.current.state == "loading"
    assert catalog.models_health.current.state == "loading"
    catalog.load()
    assert catalog.registry_health.current.state == "down"
    assert catalog.registry_health.current.error
    models = catalog.models_health.current
    assert (models.state, models.error) == ("down", "no version to serve: demand-classifier")
