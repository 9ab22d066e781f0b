"""What the README promises of the HTTP API that no other test held:

- ``X-Model-Alias: staging`` on the customer endpoints when some customer models have a staged
  version and others do not: each staged one answers from staging, the others from
  production, and ``models`` names each one's real alias and version;
- the request limits follow the settings (422 naming the field for a batch or a text over its
  limit, 413 for a body over its byte limit), and ``/openapi.json`` says so;
- when the forest scorer cannot reproduce a pipeline, customer scoring falls back to
  scikit-learn's pipelines, with their numbers, and says so once in the log.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest

from app.core.body_limit import SLACK_BYTES
from model_registry.registry import PRODUCTION, STAGING
from model_registry.store import MlflowStore
from tests.conftest import (
    CUSTOMER_MODEL_NAMES,
    TEXT_MODELS,
    make_key,
    service_client,
    settings_for,
    wait_until_ready,
)
from tests.open_inference import pd_request
from tests.text_versions import log_again
from training.customers import forest_scorer, linear_scorer
from training.customers.model import CustomerModel, PipelineScorer
from training.customers.schema import LABEL_COLUMNS
from training.customers.tasks import ANSWERS, CHURN
from training.customers.trainer import customer_data, train_customer_model

CLASSIFY, SCORE = "/v1/demands/classify", "/v1/customers/score"
CUSTOMERS = list(CUSTOMER_MODEL_NAMES)
ASK_STAGING = {"X-Model-Alias": STAGING}


def _features(customer_world: pd.DataFrame, row: int) -> dict[str, Any]:
    record = customer_world.drop(columns=["customer_id", *LABEL_COLUMNS]).iloc[row].to_dict()
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in record.items()}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in plain.items()}


def _refs(response) -> dict[str, tuple[str, str]]:
    assert response.status_code == 200, response.text
    return {m["name"]: (m["version"], m["alias"]) for m in response.json()["models"]}


def _assert_close(actual: Any, expected: Any, where: str = "answer") -> None:
    """Equal, floats to 1e-9, through nested dicts and lists."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            _assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (mine, theirs) in enumerate(zip(actual, expected)):
            _assert_close(mine, theirs, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=0, abs=1e-9), where
    else:
        assert actual == expected, where


def _model(store: MlflowStore, name: str, version: str) -> CustomerModel:
    client = store.activate()
    uri = client.get_model_version_download_uri(name, version)
    return mlflow.pyfunc.load_model(uri).unwrap_python_model()


# --- X-Model-Alias: staging on the customer endpoints -------------------------------------------


@dataclass(frozen=True)
class CustomerVersions:
    store: MlflowStore
    production: dict[str, str]  # every customer model: its production version
    staged: dict[str, str]  # churn (trained on flipped labels: answers differently) and occupation


@pytest.fixture(scope="module")
def customer_versions(tmp_path_factory, full_store, customer_world) -> CustomerVersions:
    """A store of its own: the session's four customer models logged again (no training) in
    production; churn and occupation with a staged version, the other two without."""
    store = MlflowStore.embedded(tmp_path_factory.mktemp("customer-staging-mlflow"))
    production = {name: log_again(full_store, store, name) for name in CUSTOMERS}
    flipped = customer_world.assign(churned=1 - customer_world["churned"])
    data = customer_data(
        flipped, task=CHURN, targets=CHURN.targets, id_column="customer_id", source="flipped"
    )
    staged = {
        "churn": train_customer_model(CHURN, data, store=store, candidates="default").version,
        "occupation": log_again(full_store, store, "occupation"),
    }
    client = store.activate()
    for aliases, alias in ((production, PRODUCTION), (staged, STAGING)):
        for name, version in aliases.items():
            client.set_registered_model_alias(name, alias, version)
    return CustomerVersions(store, production, staged)


def _bearer(database_url: str, name: str, scopes: list[str]) -> dict[str, str]:
    secret = make_key(database_url, f"{name}-{uuid.uuid4().hex[:8]}", scopes)
    return {"Authorization": f"Bearer {secret}"}


def test_staging_answers_each_staged_customer_model_from_staging_and_the_rest_from_production(
    customer_versions, customer_world, app_database
):
    versions = customer_versions
    qa = _bearer(app_database, "qa", ["score", "customers:read", "customers:write", "staging"])
    crm = _bearer(app_database, "crm", ["score", "customers:read", "customers:write"])
    records = [_features(customer_world, row) for row in range(4)]
    body = {"customers": [{"customer_id": f"S{i}", "features": r} for i, r in enumerate(records)]}
    customer_id = f"STAGED-{uuid.uuid4().hex[:8]}"
    settings = settings_for(versions.store, served_models=CUSTOMERS, reload_interval_seconds=0)

    with service_client(settings, headers=qa) as api:
        wait_until_ready(api)
        staged = api.post(SCORE, json=body, headers=ASK_STAGING)
        plain = api.post(SCORE, json=body)
        assert api.put(f"/v1/customers/{customer_id}", json={"features": records[0]}).is_success
        staged_profile = api.get(f"/v1/customers/{customer_id}/profile", headers=ASK_STAGING)
        plain_profile = api.get(f"/v1/customers/{customer_id}/profile")
        refused = api.post(SCORE, json=body, headers=crm | ASK_STAGING)
        by_number = api.post(
            f"/v2/models/churn/versions/{versions.staged['churn']}/infer", json=pd_request(records)
        )

    expected_refs = {
        name: (versions.staged[name], STAGING)
        if name in versions.staged
        else (versions.production[name], PRODUCTION)
        for name in CUSTOMERS
    }
    assert _refs(staged) == _refs(staged_profile) == expected_refs
    production_refs = {name: (versions.production[name], PRODUCTION) for name in CUSTOMERS}
    assert _refs(plain) == _refs(plain_profile) == production_refs

    # Each model's numbers are those of the version the answer names.
    answered = [result["scores"] for result in staged.json()["results"]]
    for name, (version, _) in expected_refs.items():
        expected = _model(versions.store, name, version).answer_records(records)
        _assert_close([scores[name] for scores in answered], expected, f"{name}@{version}")
    _assert_close(staged_profile.json()["scores"], answered[0], "staged profile")
    # The Open Inference Protocol reaches the staged churn by its number, with its own trees.
    (probability,) = [o for o in by_number.json()["outputs"] if o["name"] == "churn_probability"]
    assert probability["data"] == [scores["churn"]["churn_probability"] for scores in answered]
    # The staged churn model really is another model: production's answers differ.
    production_churn = [result["scores"]["churn"] for result in plain.json()["results"]]
    expected = _model(versions.store, "churn", versions.production["churn"]).answer_records(records)
    _assert_close(production_churn, expected, "churn in production")
    differences = [
        abs(a["churn"]["churn_probability"] - b["churn_probability"])
        for a, b in zip(answered, production_churn)
    ]
    assert max(differences) > 0.2
    _assert_close(plain_profile.json()["scores"], plain.json()["results"][0]["scores"], "profile")

    assert refused.status_code == 403 and refused.json()["missing_scope"] == STAGING


# --- request limits --------------------------------------------------------------------------


SMALL_LIMITS = {
    "INSIGHT_MAX_TEXTS_PER_REQUEST": "3",
    "INSIGHT_MAX_TEXT_CHARS": "12",
    "INSIGHT_MAX_CUSTOMERS_PER_REQUEST": "2",
    "INSIGHT_MAX_RECORD_BYTES": "2000",
}


def _problem(response, status: int) -> list[dict[str, str]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()["errors"]


def test_the_batch_and_text_limits_follow_the_settings_and_the_openapi_document_says_so(
    full_store, customer_world, monkeypatch
):
    for variable, value in SMALL_LIMITS.items():
        monkeypatch.setenv(variable, value)
    settings = settings_for(
        full_store, served_models=TEXT_MODELS + CUSTOMERS, reload_interval_seconds=0
    )
    assert (settings.max_texts_per_request, settings.max_text_chars) == (3, 12)
    assert (settings.max_customers_per_request, settings.max_record_bytes) == (2, 2000)
    customer = {"features": _features(customer_world, 0)}
    customer_id = f"LIMITS-{uuid.uuid4().hex[:8]}"
    oversized = {"features": {**customer["features"], "note": "x" * (2000 + SLACK_BYTES)}}
    with service_client(settings) as api:
        wait_until_ready(api)
        texts_at_limit = api.post(CLASSIFY, json={"texts": ["宽带断网了"] * 3})
        text_at_limit = api.post(CLASSIFY, json={"text": "宽" * 12})
        too_many_texts = api.post(CLASSIFY, json={"texts": ["宽带断网了"] * 4})
        long_in_batch = api.post(CLASSIFY, json={"texts": ["宽带断网了", "宽" * 13]})
        long_text = api.post(CLASSIFY, json={"text": "宽" * 13})
        customers_at_limit = api.post(SCORE, json={"customers": [customer] * 2})
        too_many_customers = api.post(SCORE, json={"customers": [customer] * 3})
        put_record = api.put(f"/v1/customers/{customer_id}", json=customer)
        # A record's body may take max_record_bytes plus room for JSON (64 KiB), no more.
        put_oversized = api.put(f"/v1/customers/{customer_id}", json=oversized)
        document = api.get("/openapi.json").json()

    for answer in (texts_at_limit, text_at_limit, customers_at_limit, put_record):
        assert answer.status_code == 200, answer.text
    assert len(texts_at_limit.json()["results"]) == 3
    assert len(customers_at_limit.json()["results"]) == 2
    (error,) = _problem(too_many_texts, 422)
    assert error["field"] == "texts" and "the maximum is 3" in error["message"]
    (error,) = _problem(long_in_batch, 422)
    assert error["field"] == "texts[1]" and "longer than 12 characters" in error["message"]
    (error,) = _problem(long_text, 422)
    assert error["field"] == "text" and "longer than 12 characters" in error["message"]
    (error,) = _problem(too_many_customers, 422)
    assert error["field"] == "customers" and "the maximum is 2" in error["message"]
    (error,) = _problem(put_oversized, 413)
    assert error == {"field": "body", "message": f"longer than {2000 + SLACK_BYTES} bytes"}

    schemas = document["components"]["schemas"]
    text = {"type": "string", "maxLength": 12}
    classify = schemas["ClassifyRequest"]["properties"]
    assert text.items() <= classify["text"]["anyOf"][0].items()
    texts = classify["texts"]["anyOf"][0]
    assert texts["maxItems"] == 3 and text.items() <= texts["items"].items()
    assert schemas["ScoreRequest"]["properties"]["customers"]["maxItems"] == 2


def test_the_score_body_limit_follows_the_customer_and_record_settings(trained_store, monkeypatch):
    for variable, value in SMALL_LIMITS.items():
        monkeypatch.setenv(variable, value)
    limit = 2 * 2000 + SLACK_BYTES
    settings = settings_for(trained_store, reload_interval_seconds=0)
    headers = {"content-type": "application/json"}

    def score_body(size: int) -> bytes:
        start = b'{"customers": [{"features": {"note": "'
        end = b'"}}]}'
        return start + b"x" * (size - len(start) - len(end)) + end

    with service_client(settings) as api:
        at_limit = api.post(SCORE, content=score_body(limit), headers=headers)
        over_limit = api.post(SCORE, content=score_body(limit + 1), headers=headers)
    # At the limit the body is read, and answered for what it holds (503: no customer model
    # is served here); one byte more is refused unread.
    assert at_limit.status_code == 503, at_limit.text
    (error,) = _problem(over_limit, 413)
    assert error == {"field": "body", "message": f"longer than {limit} bytes"}


def test_one_body_limit_for_every_endpoint(trained_store, monkeypatch):
    monkeypatch.setenv("INSIGHT_MAX_BODY_BYTES", "600")
    settings = settings_for(trained_store, reload_interval_seconds=0)
    assert settings.max_body_bytes == 600
    headers = {"content-type": "application/json"}
    large = b'{"texts": ["' + b"x" * 600 + b'"]}'
    # Five texts of 48 characters: within the count and length limits, over 600 bytes.
    five_long = {"texts": ["宽带从昨晚就断网了，报修也没人来" * 3] * 5}
    five_short = {"texts": ["宽带断网了"] * 5}
    with service_client(settings) as api:
        wait_until_ready(api)
        within = api.post(CLASSIFY, json=five_short)
        refused = {
            "classify": api.post(CLASSIFY, json=five_long),
            "score": api.post(SCORE, content=large, headers=headers),
            "put": api.put("/v1/customers/C1", content=large, headers=headers),
            "refresh": api.post("/v1/admin/models/refresh", content=large, headers=headers),
        }
    assert within.status_code == 200, within.text
    for endpoint, answer in refused.items():
        (error,) = _problem(answer, 413)
        assert error == {"field": "body", "message": "longer than 600 bytes"}, endpoint


# --- the scikit-learn fallback ----------------------------------------------------------------


def _sklearn_answers(model: CustomerModel, records: list[dict]) -> list[dict]:
    """The model's answers from its fitted pipelines alone (no scorer of ours), risk factors
    aside."""
    prepared = model.features.prepare(pd.DataFrame(records, columns=list(model.features.columns)))
    probabilities = {}
    for target, pipeline in model.pipelines.items():
        proba = pipeline.predict_proba(prepared)
        probabilities[target] = proba[:, 1] if proba.shape[1] == 2 else proba
    classes = model.classes(next(iter(model.pipelines)))
    columns = ANSWERS[model.task](probabilities, classes)
    return [dict(zip(columns, row)) for row in zip(*columns.values())]


def test_customer_scoring_falls_back_to_the_sklearn_pipelines_and_says_so_once(
    full_store, customer_world, monkeypatch, caplog
):
    """The fast scorers' self-checks find them scoring differently from scikit-learn (here: a
    millionth off, forced, for trees and regressions alike); they are not used, and every
    answer is scikit-learn's."""
    for owner, method in (
        (forest_scorer._Forest, "probabilities"),
        (linear_scorer.LinearScorer, "encoded_probabilities"),
    ):
        monkeypatch.setattr(owner, method, _a_millionth_off(getattr(owner, method)))
    caplog.set_level(logging.WARNING, logger="training.customers.model")
    caplog.set_level(logging.WARNING, logger="app.services.served_models")
    records = [_features(customer_world, row) for row in range(100, 106)]
    body = {"customers": [{"features": record} for record in records]}
    settings = settings_for(
        full_store, served_models=CUSTOMERS, reload_interval_seconds=0, load_staging=False
    )
    with service_client(settings) as api:
        wait_until_ready(api)
        serving = api.app.state.catalog.serving(PRODUCTION)
        logged_at_load = _fallback_lines(caplog)
        joint_lines_at_load = _joint_lines(caplog)
        answers = [api.post(SCORE, json=body) for _ in range(3)]
        one_by_one = [api.post(SCORE, json={"customers": [c]}) for c in body["customers"][:2]]

    assert serving.joint is None  # no joint scorer either: it failed the same check
    for name in CUSTOMERS:
        assert isinstance(serving.get(name).model.scorer, PipelineScorer), name
    for answer in [*answers, *one_by_one]:
        assert answer.status_code == 200, answer.text
    results = [result["scores"] for result in answers[0].json()["results"]]
    for name in CUSTOMERS:
        expected = _sklearn_answers(serving.get(name).model, records)
        got = [{k: v for k, v in scores[name].items() if k != "risk_factors"} for scores in results]
        _assert_close(got, expected, name)
    assert all(isinstance(scores["churn"]["risk_factors"], list) for scores in results)
    for single, scores in zip(one_by_one, results):
        _assert_close(single.json()["results"][0]["scores"], scores, "one customer alone")
    assert answers[1].json() == answers[0].json() == answers[2].json()

    # One line per model, at load, naming the target the check caught; none per request.
    lines = _fallback_lines(caplog)
    assert lines == logged_at_load
    assert len(lines) == len(CUSTOMERS), lines
    for model in (serving.get(name).model for name in CUSTOMERS):
        first_target = next(iter(model.pipelines))
        assert sum(f": {first_target}: " in line for line in lines) == 1
        assert all("scored differently from sklearn" in line for line in lines)
    # And one line for the joint scorer the four could not share.
    assert _joint_lines(caplog) == joint_lines_at_load
    assert len(joint_lines_at_load) == 1, joint_lines_at_load
    assert all(name in joint_lines_at_load[0] for name in CUSTOMERS)


def _a_millionth_off(probabilities):
    def off(*args, **options) -> dict[str, np.ndarray]:
        return {target: p + 1e-6 for target, p in probabilities(*args, **options).items()}

    return off


def _joint_lines(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().endswith("each model scores alone")
    ]


def _fallback_lines(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("scoring with the sklearn pipelines")
    ]
