"""GET /v1/models, /healthz and /readyz."""

import threading
import time

from app.services import model_catalog
from tests.conftest import service_client, settings_for, wait_until_ready


def test_models_lists_what_is_loaded(api, trained_store):
    body = api.get("/v1/models").json()
    assert body["alias"] == "production"
    loaded = {m["name"]: m for m in body["models"]}
    assert set(loaded) == {"demand-classifier", "spam-filter"}
    client = trained_store.activate()
    for name, model in loaded.items():
        assert model["version"] == str(
            client.get_model_version_by_alias(name, "production").version
        )
        assert model["loaded_at"] and model["run_id"]
    assert loaded["spam-filter"]["outputs"] == ["ham", "spam"]


def test_one_model_by_name_and_an_unknown_one(api):
    assert api.get("/v1/models/spam-filter").json()["name"] == "spam-filter"
    response = api.get("/v1/models/churn-oracle")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_readyz_is_503_until_the_models_are_loaded(trained_store, monkeypatch):
    release = threading.Event()
    real_load = model_catalog.load_served_model

    def slow_load(*args, **kwargs):
        release.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(model_catalog, "load_served_model", slow_load)
    with service_client(settings_for(trained_store)) as client:
        assert client.get("/healthz").status_code == 200
        waiting = client.get("/readyz")
        assert waiting.status_code == 503 and waiting.json()["loading"] is True
        assert client.post("/v1/demands/classify", json={"text": "流量"}).status_code == 503
        # the Open Inference Protocol's probes say the same, in its words
        v2_ready = client.get("/v2/health/ready")
        assert (v2_ready.status_code, v2_ready.json()) == (503, {"ready": False})
        model_ready = client.get("/v2/models/demand-classifier/ready")
        assert (model_ready.status_code, model_ready.json()) == (
            503,
            {"name": "demand-classifier", "ready": False},
        )
        assert client.get("/v2/health/live").json() == {"live": True}
        release.set()
        wait_until_ready(client)
        assert client.get("/v2/models/demand-classifier/ready").json()["ready"] is True
        loaded = client.get("/readyz").json()["loaded"]
        assert loaded["production"].keys() == {"demand-classifier", "spam-filter"}


def test_readyz_names_a_model_missing_from_the_registry(trained_store):
    settings = settings_for(trained_store, served_models=["demand-classifier", "churn-oracle"])
    with service_client(settings) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").json()["loading"]:
            assert time.monotonic() < deadline, "the models never finished loading"
            time.sleep(0.05)
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert "production" in body["unavailable"]["churn-oracle"]
        (failure,) = body["failures"]
        assert (failure["model"], failure["alias"], failure["version"]) == (
            "churn-oracle",
            "production",
            None,
        )


def test_openapi_has_chinese_examples_in_plain_utf8(api):
    response = api.get("/openapi.json")
    assert "一条客户诉求" in response.text
    assert api.get("/docs").status_code == 200


def test_metrics_are_served_in_the_prometheus_format(api):
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "insight_capture_dropped_total" in response.text
