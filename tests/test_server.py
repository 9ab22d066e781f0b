"""The real thing: `insight serve` under uvicorn, spoken to over HTTP by httpx."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import settings_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_insight_serve_answers_over_http(trained_store):
    port = _free_port()
    settings = settings_for(trained_store)
    env = {
        **os.environ,
        "INSIGHT_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "INSIGHT_MLFLOW_ARTIFACT_ROOT": settings.mlflow_artifact_root,
        "INSIGHT_PORT": str(port),
        "INSIGHT_SERVED_MODELS": json.dumps(settings.served_models),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            _wait_ready(client, server)
            response = client.post(
                "/v1/demands/classify", json={"texts": ["宽带断网了", "查一下上个月账单"]}
            )
            assert response.status_code == 200
            assert len(response.json()["results"]) == 2
            assert client.get("/v1/models").json()["alias"] == "production"
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert "宽带断网了" not in output


def _wait_ready(client: httpx.Client, server: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server never became ready")
