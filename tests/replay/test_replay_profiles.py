"""Profile requests captured as the route template plus the (masked) customer id: replay
rebuilds the path, reaches the same customer, and does not send one whose id was masked."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
from click.testing import CliRunner

from app.cli import main
from app.replay.selection import PROFILE, Captured, endpoint_template
from app.replay.sending import send
from tests.capture.conftest import captured_rows
from tests.conftest import (
    CUSTOMER_MODEL_NAMES,
    TEXT_MODELS,
    admin_headers,
    service_client,
    settings_for,
    wait_until_ready,
)
from tests.replay.conftest import customer_features


def _captured(endpoint: str, path_params: dict | None = None) -> Captured:
    return Captured(
        id=1,
        request_id="r",
        endpoint=endpoint,
        body=None,
        answer={},
        model_versions=[],
        latency_ms=1.0,
        captured_at=datetime.now(UTC),
        path_params=path_params,
    )


def test_the_path_is_the_template_filled_with_the_stored_parameters():
    captured = _captured(PROFILE, {"customer_id": "C00000042"})
    assert captured.template == PROFILE and captured.path == "/v1/customers/C00000042/profile"
    assert _captured(PROFILE, {"customer_id": "a b/c"}).path == "/v1/customers/a%20b%2Fc/profile"
    # Rows captured before the template was: the path itself.
    old = _captured("/v1/customers/C00000042/profile")
    assert old.path == old.endpoint and endpoint_template(old.endpoint) == PROFILE
    assert not captured.masked_path and not old.masked_path
    assert _captured(PROFILE, {"customer_id": "C〔手机号〕"}).masked_path
    assert _captured("/v1/customers/〔姓名〕〔手机号〕/profile").masked_path


def test_a_masked_customer_id_is_not_sent():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.url}")

    async def replay() -> object:
        transport = httpx.MockTransport(refuse)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return await send(client, _captured(PROFILE, {"customer_id": "C〔手机号〕"}))

    replayed = asyncio.run(replay())
    assert replayed.status is None and replayed.problem == "masked customer id"


def test_captured_profiles_are_replayed_to_the_same_customer(
    full_store, migrated_url, customer_world, tmp_path, monkeypatch
):
    """A profile needs every customer model: the session's store has them all (production
    only, so the replay's staging falls back to production and every answer agrees)."""
    served = [*TEXT_MODELS, *CUSTOMER_MODEL_NAMES]
    settings = settings_for(full_store, served_models=served, database_url=migrated_url)
    for name in ("mlflow_tracking_uri", "mlflow_artifact_root", "database_url"):
        monkeypatch.setenv(f"INSIGHT_{name.upper()}", str(getattr(settings, name)))
    monkeypatch.setenv("INSIGHT_SERVED_MODELS", json.dumps(served))
    features = customer_features(customer_world, 0)
    with service_client(settings, headers=admin_headers(migrated_url)) as client:
        wait_until_ready(client)
        for customer_id in ("C00000042", "C13812345678"):
            stored = client.put(f"/v1/customers/{customer_id}", json={"features": features})
            assert stored.status_code == 200
            profile = client.get(f"/v1/customers/{customer_id}/profile")
            assert profile.status_code == 200, profile.text
    rows = captured_rows(migrated_url)  # leaving the client flushed the capture
    assert [(row.endpoint, row.path_params) for row in rows] == [
        (PROFILE, {"customer_id": "C00000042"}),
        (PROFILE, {"customer_id": "C〔手机号〕"}),
    ]

    result = CliRunner().invoke(main, ["replay", "--endpoint", PROFILE, "--report", str(tmp_path)])

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"]["replayed"] == 2 and report["requests"]["answered"] == 1
    assert report["failures"]["by_status"] == {"masked customer id": 1}
    assert report["requests"]["agreeing"] == 1  # the customer reached: the same answers
    assert report["models"]["churn"]["answers"] == 1
