"""The real thing: `insight serve` under uvicorn, spoken to over HTTP by httpx."""

from tests.conftest import ADMIN_HEADERS, TEXT_MODELS
from tests.serving import running_service, service_env


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
