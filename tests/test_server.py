"""The real thing: `insight serve` under uvicorn, spoken to over HTTP by httpx."""

import re
import time

from tests.conftest import ADMIN_HEADERS, TEXT_MODELS
from tests.serving import on_each_worker, running_service, service_env


def test_insight_serve_answers_over_http(trained_store, tmp_path):
    env = service_env(trained_store, TEXT_MODELS)
    with (
        running_service(env, tmp_path / "server.log") as service,
        service.client(ADMIN_HEADERS) as client,
    ):
        response = client.post(
            "/v1/demands/classify", json={"texts": ["宽带断网了", "查一下上个月账单"]}
        )
        assert response.status_code == 200
        assert len(response.json()["results"]) == 2
        assert client.get("/v1/models").json()["alias"] == "production"
    assert "宽带断网了" not in service.output()


MODELS_LOADED = re.compile(r" INFO \[(\d+)\] app\.services\.model_catalog: models loaded")


def test_every_worker_logs_its_own_lines_with_its_process_id(trained_store, tmp_path):
    env = service_env(trained_store, TEXT_MODELS, workers=2)
    with running_service(env, tmp_path / "server.log") as service:
        workers = on_each_worker(service, lambda client: None, workers=2)
        deadline = time.monotonic() + 30  # the line follows readiness by a moment
        while len(pids := MODELS_LOADED.findall(service.output())) < 2:
            assert time.monotonic() < deadline, service.output()[-3000:]
            time.sleep(0.1)
    assert sorted(map(int, pids)) == sorted(workers)
