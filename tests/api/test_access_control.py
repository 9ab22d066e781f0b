"""API keys and scopes, through real HTTP: `insight serve` in its own process, with two workers
where it matters (a revoked key, an admin refresh)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from app.core.security import SCOPES
from app.db.base import utc_now
from app.db.migrations import migrated_sessions, upgrade
from app.db.models import ApiKey, ModelEvent
from app.db.session import session_scope
from app.services.api_keys import revoke_key
from model_registry.registry import PRODUCTION
from tests.api.test_customers import _features
from tests.conftest import (
    ADMIN_HEADERS,
    CUSTOMER_MODEL_NAMES,
    TEXT_MODELS,
    admin_headers,
    make_key,
    random_part,
    service_client,
    settings_for,
    wait_until_ready,
)
from tests.open_inference import pd_request, text_request
from tests.serving import LiveService, on_each_worker, running_service, service_env
from tests.text_versions import DEMAND, serving_base

CUSTOMER = "C-access-1"
REFUSED_SECRET_ID = "0123456789ab"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    scope: str
    body: dict | None = None

    def send(self, client, headers: dict[str, str]):
        return client.request(self.method, self.path, json=self.body, headers=headers)

    @property
    def open_inference(self) -> bool:
        return self.path.startswith("/v2/")

    @property
    def error_type(self) -> str:
        return "application/json" if self.open_inference else "application/problem+json"


def _calls(features: dict) -> list[Call]:
    customer = {"customer_id": CUSTOMER, "features": features}
    return [
        Call("POST", "/v1/demands/classify", "classify", {"text": "宽带断网了"}),
        Call("POST", "/v1/customers/score", "score", {"customers": [customer]}),
        Call("PUT", f"/v1/customers/{CUSTOMER}", "customers:write", {"features": features}),
        Call("POST", "/v1/feedback", "feedback", {"items": [_outcome(CUSTOMER)]}),
        Call("GET", f"/v1/customers/{CUSTOMER}", "customers:read"),
        Call("GET", f"/v1/customers/{CUSTOMER}/profile", "customers:read"),
        Call("GET", "/v1/reports/channel-preference", "customers:read"),
        Call("GET", "/v1/models", "models:read"),
        Call("GET", "/v1/models/churn", "models:read"),
        Call("POST", "/v1/admin/models/refresh", "admin"),
        Call(
            "POST", "/v2/models/demand-classifier/infer", "classify", text_request(["宽带断网了"])
        ),
        Call("POST", "/v2/models/churn/infer", "score", pd_request([features])),
        Call("GET", "/v2/models/churn", "models:read"),
    ]


def _outcome(customer_id: str) -> dict:
    return {
        "kind": "outcome",
        "customer_id": customer_id,
        "as_of": date.today().isoformat(),
        "churned": False,
        "reported_by": "warehouse",
    }


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _keys_by_scope(url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Per scope, a key holding just it, and a key holding every other scope but admin."""
    holders, lackers = {}, {}
    others = [scope for scope in SCOPES if scope != "admin"]
    for scope in SCOPES:
        tag = uuid.uuid4().hex[:6]
        holders[scope] = make_key(url, f"holds-{tag}", [scope])
        lackers[scope] = make_key(url, f"lacks-{tag}", [s for s in others if s != scope])
    holders["classify+staging"] = make_key(
        url, f"qa-{uuid.uuid4().hex[:6]}", ["classify", "staging"]
    )
    return holders, lackers


@pytest.fixture(scope="module")
def six_model_service(full_store, app_database, customer_world, tmp_path_factory):
    """One worker serving all six models, with a key per scope made before it started."""
    holders, lackers = _keys_by_scope(app_database)
    env = service_env(full_store, TEXT_MODELS + list(CUSTOMER_MODEL_NAMES))
    log = tmp_path_factory.mktemp("access") / "server.log"
    with running_service(env, log) as service:
        yield service, holders, lackers, _features(customer_world, 0)


def test_every_endpoint_refuses_no_key_a_wrong_key_and_a_key_without_its_scope(
    six_model_service,
):
    service, holders, lackers, features = six_model_service
    wrong = f"isk_{REFUSED_SECRET_ID}_{secrets.token_urlsafe(32)}"
    with service.client() as client:
        assert client.put(
            f"/v1/customers/{CUSTOMER}", json={"features": features}, headers=ADMIN_HEADERS
        ).is_success
        for call in _calls(features):
            for headers in ({}, _bearer(wrong), _bearer("not-a-key"), {"X-API-Key": wrong}):
                refused = call.send(client, headers)
                assert refused.status_code == 401, (call, headers, refused.text)
                assert refused.headers["www-authenticate"] == "Bearer"
                assert refused.headers["content-type"] == call.error_type
            lacking = call.send(client, _bearer(lackers[call.scope]))
            assert lacking.status_code == 403, (call, lacking.text)
            if call.open_inference:  # the protocol's {"error": ...}
                assert f"'{call.scope}'" in lacking.json()["error"]
            else:
                assert lacking.json()["missing_scope"] == call.scope
                assert call.scope in lacking.json()["detail"]
            for headers in (_bearer(holders[call.scope]), {"X-API-Key": holders[call.scope]}):
                allowed = call.send(client, headers)
                assert allowed.status_code == 200, (call, allowed.text)
            assert call.send(client, _bearer(holders["admin"])).status_code == 200
    log = service.output()
    assert f"isk_{REFUSED_SECRET_ID}…" in log  # a refused key is named by its id
    for secret in [wrong, *holders.values(), *lackers.values()]:
        assert random_part(secret) not in log


def test_staging_needs_its_own_scope(six_model_service):
    service, holders, _lackers, _features = six_model_service
    both = holders["classify+staging"]
    body = {"text": "宽带断网了"}
    staging = {"X-Model-Alias": "staging"}
    with service.client() as client:
        refused = client.post(
            "/v1/demands/classify", json=body, headers=_bearer(holders["classify"]) | staging
        )
        assert refused.status_code == 403 and refused.json()["missing_scope"] == "staging"
        allowed = client.post("/v1/demands/classify", json=body, headers=_bearer(both) | staging)
        assert allowed.status_code == 200


def test_probes_docs_and_loopback_metrics_need_no_key(six_model_service):
    service, *_ = six_model_service
    with service.client() as client:
        for path in ("/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/metrics"):
            assert client.get(path).status_code == 200, path


def test_the_docs_work_offline_and_declare_the_bearer_scheme(six_model_service):
    service, *_ = six_model_service
    with service.client() as client:
        pages = client.get("/docs").text + client.get("/redoc").text
        assets = [part.split('"')[0] for part in pages.split('src="')[1:]]
        assets += [part.split('"')[0] for part in pages.split('href="')[1:]]
        assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))]
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        openapi = client.get("/openapi.json").json()
    assert openapi["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "isk_...",
        "description": openapi["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    classify = openapi["paths"]["/v1/demands/classify"]["post"]
    assert classify["security"] == [{"ApiKey": []}]
    assert "security" not in openapi["paths"]["/readyz"]["get"]


# Two workers: what one is told, both do.


@dataclass
class Deployment:
    """Two workers on an app database of their own: the whole deployment, nothing else."""

    service: LiveService
    database_url: str
    admin: dict[str, str]


@pytest.fixture(scope="module")
def two_workers(text_versions_store, tmp_path_factory) -> Iterator[Deployment]:
    """Two workers of one deployment serving the base versions, started once for the
    module's tests."""
    serving_base(text_versions_store)
    folder = tmp_path_factory.mktemp("two-workers")
    url = f"sqlite:///{folder / 'insight.db'}"
    upgrade(url)
    admin = admin_headers(url)
    env = service_env(
        text_versions_store.store,
        TEXT_MODELS,
        workers=2,
        reload_interval_seconds=0,
        database_url=url,
    )
    with running_service(env, folder / "server.log") as service:
        yield Deployment(service, url, admin)


def _classify(headers):
    return lambda client: (
        client.post(
            "/v1/demands/classify", json={"text": "话费扣错了"}, headers=headers
        ).status_code
    )


def test_a_revoked_key_is_refused_by_both_workers_within_5_seconds(two_workers):
    service, url = two_workers.service, two_workers.database_url
    secret = make_key(url, "soon-revoked", ["classify"])
    deadline = time.monotonic() + 10
    while set(on_each_worker(service, _classify(_bearer(secret)), workers=2).values()) != {200}:
        assert time.monotonic() < deadline, "a new key never reached both workers"
        time.sleep(0.2)
    with migrated_sessions(url) as sessions, session_scope(sessions) as session:
        revoke_key(session, "soon-revoked")
    deadline = time.monotonic() + 5
    while set(
        (refused := on_each_worker(service, _classify(_bearer(secret)), workers=2)).values()
    ) != {401}:
        assert time.monotonic() < deadline, refused
        time.sleep(0.2)


def test_an_admin_refresh_reaches_both_workers(two_workers, text_versions):
    service, admin = two_workers.service, two_workers.admin
    before = on_each_worker(service, _served_version, workers=2, headers=admin)
    assert set(before.values()) == {text_versions.base}
    text_versions.store.activate().set_registered_model_alias(
        DEMAND, PRODUCTION, text_versions.twin
    )
    with service.client(admin) as client:
        answer = client.post("/v1/admin/models/refresh").json()
    assert answer["workers"] == {"confirmed": 2, "live": 2}
    after = on_each_worker(service, _served_version, workers=2, headers=admin)
    assert set(after.values()) == {text_versions.twin}
    with migrated_sessions(two_workers.database_url) as sessions, session_scope(sessions) as s:
        (event,) = s.scalars(select(ModelEvent)).all()
        assert (event.action, event.model_name, event.to_version) == ("refresh", "*", None)
        assert event.actor.startswith("admin-")  # the name of the key that asked


def _served_version(client) -> str:
    return client.get(f"/v1/models/{DEMAND}").json()["version"]


# In process: expiry, rate limits, last use and /metrics from another host.


@pytest.fixture(scope="module")
def keyed_api(trained_store, app_database):
    """One app for the module's key tests (each makes keys of its own), syncing keys often."""
    with service_client(settings_for(trained_store, sync_interval_seconds=0.1)) as client:
        wait_until_ready(client)
        yield client


def _until(condition, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def test_an_expired_key_is_refused(keyed_api, app_database):
    secret = make_key(app_database, f"expiring-{uuid.uuid4().hex[:6]}", ["classify"])
    classify = _classify(_bearer(secret))
    _until(lambda: classify(keyed_api) == 200)
    with migrated_sessions(app_database) as sessions, session_scope(sessions) as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == secret.split("_")[1])
            .values(expires_at=utc_now() - timedelta(seconds=1))
        )
    _until(lambda: classify(keyed_api) == 401)
    refused = keyed_api.post("/v1/demands/classify", json={"text": "x"}, headers=_bearer(secret))
    assert refused.json()["detail"] == "the API key has expired"


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(keyed_api, app_database):
    secret = make_key(app_database, f"limited-{uuid.uuid4().hex[:6]}", ["classify"], rate_limit=1.0)
    classify = _classify(_bearer(secret))
    _until(lambda: classify(keyed_api) == 200)
    answers = [
        keyed_api.post("/v1/demands/classify", json={"text": "话费"}, headers=_bearer(secret))
        for _ in range(5)
    ]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and {a.status_code for a in answers} <= {200, 429}
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].headers["content-type"] == "application/problem+json"
    assert classify(keyed_api) in (200, 429)  # other keys are not limited by it
    assert keyed_api.post("/v1/demands/classify", json={"text": "话费"}).status_code == 200


def test_last_use_is_stored_without_a_round_trip_per_request(keyed_api, app_database):
    secret = make_key(app_database, f"used-{uuid.uuid4().hex[:6]}", ["classify"])
    _until(lambda: _classify(_bearer(secret))(keyed_api) == 200)

    def last_used():
        with migrated_sessions(app_database) as sessions, session_scope(sessions) as session:
            key_id = secret.split("_")[1]
            return session.scalar(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id))

    _until(lambda: last_used() is not None)


def test_metrics_from_another_host_need_an_admin_key(trained_store):
    # The test client calls from the address "testclient", not loopback.
    with service_client(settings_for(trained_store), headers={}) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=ADMIN_HEADERS).status_code == 200
    with service_client(settings_for(trained_store, metrics_open=True), headers={}) as client:
        assert client.get("/metrics").status_code == 200


def test_keys_not_required_let_every_call_in(trained_store):
    with service_client(settings_for(trained_store, require_api_keys=False), headers={}) as api:
        wait_until_ready(api)
        staging = {"X-Model-Alias": "staging"}
        assert api.post("/v1/demands/classify", json={"text": "话费"}, headers=staging).is_success
