"""X-Model-Alias routes a request to the staged versions; a deployment may run on staging."""

from __future__ import annotations

import time

import pytest

from model_registry.registry import PRODUCTION, STAGING
from tests.conftest import make_key, service_client, settings_for, wait_until_ready
from tests.open_inference import text_request
from tests.text_versions import DEMAND, SPAM

CLASSIFY = "/v1/demands/classify"
TEXT = {"text": "宽带断网了，报修也没人来"}


def _refs(response) -> dict[str, tuple[str, str]]:
    assert response.status_code == 200, response.text
    return {m["name"]: (m["version"], m["alias"]) for m in response.json()["models"]}


def _serving(store, **overrides):
    return service_client(settings_for(store, reload_interval_seconds=0, **overrides))


@pytest.fixture
def staged(text_versions):
    """demand-classifier's twin staged; the spam filter has no staged version."""
    client = text_versions.store.activate()
    client.set_registered_model_alias(DEMAND, STAGING, text_versions.twin)
    return text_versions


def test_the_staging_header_reaches_staged_versions_and_falls_back_per_model(staged):
    with _serving(staged.store) as api:
        wait_until_ready(api)
        plain = _refs(api.post(CLASSIFY, json=TEXT))
        asked = _refs(api.post(CLASSIFY, json=TEXT, headers={"X-Model-Alias": STAGING}))
        production = _refs(api.post(CLASSIFY, json=TEXT, headers={"X-Model-Alias": PRODUCTION}))
        one = api.get(f"/v1/models/{DEMAND}", headers={"X-Model-Alias": STAGING}).json()
        listed = {(m["name"], m["alias"]): m for m in api.get("/v1/models").json()["models"]}

    assert (
        plain
        == production
        == {
            DEMAND: (staged.base, PRODUCTION),
            SPAM: (staged.spam, PRODUCTION),
        }
    )
    assert asked == {DEMAND: (staged.twin, STAGING), SPAM: (staged.spam, PRODUCTION)}
    assert (one["version"], one["alias"]) == (staged.twin, STAGING)
    assert set(listed) == {(DEMAND, PRODUCTION), (DEMAND, STAGING), (SPAM, PRODUCTION)}
    staging = listed[(DEMAND, STAGING)]
    assert staging["version"] == staged.twin and staging["run_id"] and staging["loaded_at"]


def test_any_other_header_value_is_a_422_naming_the_header(text_versions):
    with _serving(text_versions.store) as api:
        wait_until_ready(api)
        answers = [
            send(headers={"X-Model-Alias": value})
            for value in ("canary", "Staging ", "", "production,staging")
            for send in (
                lambda **h: api.post(CLASSIFY, json=TEXT, **h),
                lambda **h: api.post("/v1/customers/score", json={"customers": []}, **h),
                lambda **h: api.get(f"/v1/models/{DEMAND}", **h),
            )
        ]
    for response in answers:
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        (error,) = response.json()["errors"]
        assert error["field"] == "X-Model-Alias"
        assert "canary" not in response.text


def test_unsetting_the_staging_alias_unloads_it_and_staging_falls_back(staged):
    with _serving(staged.store) as api:
        wait_until_ready(api)
        staged.store.activate().delete_registered_model_alias(DEMAND, STAGING)
        refresh = api.post("/v1/admin/models/refresh").json()
        asked = _refs(api.post(CLASSIFY, json=TEXT, headers={"X-Model-Alias": STAGING}))
        loaded = api.get("/readyz").json()["loaded"]
    (removed,) = refresh["removed"]
    assert (removed["model"], removed["previous_version"]) == (DEMAND, staged.twin)
    assert asked[DEMAND] == (staged.base, PRODUCTION)
    assert loaded[STAGING] == {}


def test_a_staging_deployment_answers_from_staging_with_the_same_fallback(staged):
    with _serving(staged.store, model_alias=STAGING) as api:
        wait_until_ready(api)
        plain = _refs(api.post(CLASSIFY, json=TEXT))
        production = _refs(api.post(CLASSIFY, json=TEXT, headers={"X-Model-Alias": PRODUCTION}))
        ready = api.get("/readyz").json()
        models = api.get("/v1/models").json()
    assert plain == {DEMAND: (staged.twin, STAGING), SPAM: (staged.spam, PRODUCTION)}
    assert production[DEMAND] == (staged.base, PRODUCTION)
    assert ready["status"] == "ready" and ready["alias"] == STAGING
    assert models["alias"] == STAGING


def test_a_staging_deployment_with_nothing_staged_is_ready_on_production(text_versions):
    with _serving(text_versions.store, model_alias=STAGING) as api:
        wait_until_ready(api)
        plain = _refs(api.post(CLASSIFY, json=TEXT))
    assert plain == {
        DEMAND: (text_versions.base, PRODUCTION),
        SPAM: (text_versions.spam, PRODUCTION),
    }


def test_without_load_staging_the_header_falls_back_to_production(staged):
    with _serving(staged.store, load_staging=False) as api:
        wait_until_ready(api)
        asked = _refs(api.post(CLASSIFY, json=TEXT, headers={"X-Model-Alias": STAGING}))
        aliases = {m["alias"] for m in api.get("/v1/models").json()["models"]}
    assert asked[DEMAND] == (staged.base, PRODUCTION)
    assert aliases == {PRODUCTION}


def test_the_header_is_documented_in_openapi(text_versions):
    with _serving(text_versions.store) as api:
        operation = api.get("/openapi.json").json()["paths"][CLASSIFY]["post"]
        refresh = api.get("/openapi.json").json()["paths"]["/v1/admin/models/refresh"]["post"]
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert headers == ["X-Model-Alias"]
    assert refresh["tags"] == ["admin"] and "`admin` scope" in refresh["description"]
    assert refresh["security"] == [{"ApiKey": []}]


def test_the_open_inference_protocol_reaches_a_staged_version_by_its_number(staged, app_database):
    """/v2/models/{name}/versions/{v}: any loaded version; one only staging holds needs the
    staging scope, as X-Model-Alias: staging does; without {v}, the deployment's alias."""
    body = text_request([TEXT["text"]])
    classify_only = {"Authorization": f"Bearer {make_key(app_database, 'v2-plain', ['classify'])}"}
    with _serving(staged.store, sync_interval_seconds=0.1) as api:
        wait_until_ready(api)
        metadata = api.get(f"/v2/models/{DEMAND}").json()
        plain = api.post(f"/v2/models/{DEMAND}/infer", json=body).json()
        twin = api.post(f"/v2/models/{DEMAND}/versions/{staged.twin}/infer", json=body).json()
        base = api.post(f"/v2/models/{DEMAND}/versions/{staged.base}/infer", json=body)
        refused = _until_known(
            lambda: api.post(
                f"/v2/models/{DEMAND}/versions/{staged.twin}/infer",
                json=body,
                headers=classify_only,
            )
        )
        ready = api.get(f"/v2/models/{DEMAND}/versions/{staged.twin}/ready")

    assert metadata["versions"] == [staged.base, staged.twin]  # production's, then staging's
    assert (plain["model_version"], plain["parameters"]["alias"]) == (staged.base, PRODUCTION)
    assert (twin["model_version"], twin["parameters"]["alias"]) == (staged.twin, STAGING)
    assert base.status_code == 200
    assert refused.status_code == 403 and "'staging'" in refused.json()["error"]
    assert ready.json() == {"name": DEMAND, "ready": True}


def _until_known(send, timeout_s: float = 10):
    """The answer once the key made after the start has reached the worker (its sync)."""
    deadline = time.monotonic() + timeout_s
    while (answer := send()).status_code == 401 and time.monotonic() < deadline:
        time.sleep(0.1)
    return answer
