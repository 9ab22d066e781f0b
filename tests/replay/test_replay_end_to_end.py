"""Replay over real HTTP, and replay of traffic the capture middleware itself recorded."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pandas as pd
import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.db import create_engine_for
from app.db.models import CapturedRequest
from app.main import create_app
from tests.conftest import (
    admin_headers,
    admin_secret,
    service_client,
    settings_for,
    wait_until_ready,
)
from tests.replay.conftest import SERVED, insert_captures
from tests.replay.test_replay_command import expected_demand, matrix_counts, staged_answer
from tests.serving import free_port


@pytest.fixture
def replay_key(replay_env) -> str:
    """An admin key, made before the staging server starts: a server reads the keys at start."""
    return admin_secret(replay_env)


@pytest.fixture
def staging_server(staged_store, replay_env, replay_key) -> Iterator[str]:
    """A staging deployment (INSIGHT_MODEL_ALIAS=staging) under uvicorn, on a thread."""
    settings = settings_for(
        staged_store, served_models=SERVED, model_alias="staging", capture_enabled=False
    )
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_replay_over_http_finds_what_the_staged_models_say(
    staging_server, replay_key, replay_env, production_traffic, staged_store, tmp_path
):
    insert_captures(replay_env, production_traffic.captures)
    demand_flips, _agree = expected_demand(production_traffic, staged_store)

    result = CliRunner().invoke(
        main,
        [
            "replay",
            "--base-url",
            staging_server,
            "--api-key",
            replay_key,
            "--endpoint",
            "/v1/demands/classify",
            "--report",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["target"]["kind"] == "http" and report["target"]["url"] == staging_server
    assert report["requests"]["replayed"] == 12 and report["requests"]["failed"] == 0
    category = report["models"]["demand-classifier"]["categorical"]["category"]
    assert matrix_counts(category) == demand_flips
    assert report["latency_ms"]["by_endpoint"]["/v1/demands/classify"]["requests"] == 12


def test_an_unreachable_base_url_is_a_clear_error(replay_env, production_traffic, tmp_path):
    insert_captures(replay_env, production_traffic.captures[:1])
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["replay", "--base-url", url, "--report", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{url}/readyz did not say ready" in result.output and "ConnectError" in result.output


def test_replaying_what_capture_recorded(replay_env, staged_store, demand_corpus, tmp_path):
    """Real traffic to a production app with capture on, then replayed against staging."""
    texts = demand_corpus["text"].tolist()[20:30]
    settings = settings_for(staged_store, served_models=SERVED, capture_enabled=True)
    headers = admin_headers(replay_env)
    with service_client(settings, headers=headers) as client:  # leaving it flushes the capture
        wait_until_ready(client)
        for text in texts:
            assert client.post("/v1/demands/classify", json={"text": text}).status_code == 200
    captured = _captured_rows(replay_env)
    assert len(captured) == len(texts)
    expected = _demand_flips_of(captured, staged_store)

    result = CliRunner().invoke(main, ["replay", "--report", str(tmp_path)])

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"]["replayed"] == len(texts)
    category = report["models"]["demand-classifier"]["categorical"]["category"]
    assert matrix_counts(category) == expected
    assert report["models"]["demand-classifier"]["answered_by"]["captured"] == {
        "1 (production)": len(texts)
    }


def _captured_rows(url: str) -> list[CapturedRequest]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            query = select(CapturedRequest.body, CapturedRequest.answer)
            return list(connection.execute(query.order_by(CapturedRequest.id)))
    finally:
        engine.dispose()


def _demand_flips_of(captured, store) -> Counter:
    """What the staged model says about the texts as stored (masked), against the answers."""
    model = staged_answer(store, "demand-classifier")
    texts = [row.body["text"] for row in captured]
    staged = model.predict(None, pd.DataFrame({"text": texts}))["label"].tolist()
    return Counter(zip([row.answer["results"][0]["category"] for row in captured], staged))
