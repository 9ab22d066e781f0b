"""A registry with staged versions trained to disagree on purpose, and production traffic.

Production: demand-classifier, spam-filter and churn trained on the true labels. Staging:
a demand-classifier trained with every category renamed to the next one, a churn model trained
on flipped labels, and the production spam-filter (so its outputs must all agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.db import create_engine_for
from app.db.models import CapturedRequest
from app.db.session import create_session_factory, session_scope
from model_registry.registry import PRODUCTION, STAGING, promote
from model_registry.store import MlflowStore
from tests.conftest import service_client, settings_for, wait_until_ready
from tests.db.databases import database_url, migrated_url  # noqa: F401
from training.common.registration import log_and_register
from training.customers.schema import LABEL_COLUMNS
from training.customers.tasks import CHURN
from training.customers.trainer import customer_data, train_customer_model
from training.text.data import labelled_texts
from training.text.trainer import DEMAND_CLASSIFIER, train_text_model

SERVED = ["demand-classifier", "spam-filter", "churn"]
CLASSIFY, SCORE = "/v1/demands/classify", "/v1/customers/score"
# Recent: a service starting on the database prunes captures past their retention.
FIRST_CAPTURE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)


@pytest.fixture(scope="session")
def staged_store(tmp_path_factory, trained_store, demand_corpus, customer_world) -> MlflowStore:
    store = MlflowStore.embedded(tmp_path_factory.mktemp("replay-mlflow"))
    for name in ("demand-classifier", "spam-filter"):
        _copy_production(trained_store, store, name)
    promote(store.activate(), "spam-filter", version="1", alias=STAGING)
    _train_renamed_demand(store, _renamed_categories(demand_corpus))
    _train_churn(store, customer_world, alias=PRODUCTION)
    flipped = customer_world.assign(churned=1 - customer_world["churned"])
    _train_churn(store, flipped, alias=STAGING)
    return store


def _copy_production(source: MlflowStore, target: MlflowStore, name: str) -> None:
    """The session store's production version, logged as version 1 here (no training)."""
    client = source.activate()
    version = client.get_model_version_by_alias(name, PRODUCTION).version
    pyfunc = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, version))
    target.activate()
    with mlflow.start_run(experiment_id=target.experiment_id("replay-tests")):
        copied = log_and_register(
            pyfunc.unwrap_python_model(),
            model_name=name,
            example=pyfunc.input_example,
            card="the production version, copied for the replay tests",
        )
    promote(target.activate(), name, version=copied, alias=PRODUCTION)


def _train_renamed_demand(store: MlflowStore, corpus: pd.DataFrame) -> None:
    data = labelled_texts(
        corpus,
        text_column="text",
        label_column=DEMAND_CLASSIFIER.label_column,
        binary=False,
        source="replay tests: categories renamed",
    )
    version = train_text_model(DEMAND_CLASSIFIER, data, store=store).version
    promote(store.activate(), DEMAND_CLASSIFIER.model_name, version=version, alias=STAGING)


def _renamed_categories(corpus: pd.DataFrame) -> pd.DataFrame:
    """Every demand category renamed to the next one: a model that disagrees on purpose."""
    column = DEMAND_CLASSIFIER.label_column
    categories = sorted(corpus[column].dropna().unique())
    shifted = dict(zip(categories, categories[1:] + categories[:1]))
    return corpus.assign(**{column: corpus[column].map(shifted)})


def _train_churn(store, world: pd.DataFrame, *, alias: str) -> None:
    data = customer_data(
        world, task=CHURN, targets=CHURN.targets, id_column="customer_id", source="replay tests"
    )
    outcome = train_customer_model(CHURN, data, store=store, candidates="default")
    promote(store.activate(), CHURN.model_name, version=outcome.version, alias=alias)


@dataclass(frozen=True)
class Capture:
    """A row for captured_requests, as the capture middleware would write it."""

    endpoint: str
    body: Any
    answer: Any
    status: int = 200
    model_versions: tuple = ()
    latency_ms: float = 1.0


def customer_features(customer_world: pd.DataFrame, row: int) -> dict[str, Any]:
    record = customer_world.drop(columns=["customer_id", *LABEL_COLUMNS]).iloc[row].to_dict()
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in record.items()}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in plain.items()}


@dataclass(frozen=True)
class Traffic:
    captures: list[Capture]
    texts_by_request: list[list[str]]  # the classify requests' texts, in capture order
    customers_by_request: list[list[dict]]  # the churn score requests' feature records


@pytest.fixture(scope="session")
def production_traffic(staged_store, demand_corpus, customer_world) -> Traffic:
    """Requests answered by the production versions, plus three the replay cannot answer well."""
    texts = demand_corpus["text"].tolist()[:16]
    text_batches = [[t] for t in texts[:10]] + [texts[10:13], texts[13:16]]
    customer_batches = [
        [customer_features(customer_world, row) for row in (2 * i, 2 * i + 1)] for i in range(4)
    ]
    settings = settings_for(staged_store, served_models=SERVED)
    captures = []
    with service_client(settings) as client:
        wait_until_ready(client)
        for batch in text_batches:
            body = {"text": batch[0]} if len(batch) == 1 else {"texts": batch}
            captures.append(_answered(client, CLASSIFY, body))
        for records in customer_batches:
            body = {"customers": [{"features": r} for r in records], "models": ["churn"]}
            captures.append(_answered(client, SCORE, body))
    captures += _unanswerable(customer_batches[0][0], captures[0])
    return Traffic(captures, text_batches, customer_batches)


def _answered(client: TestClient, endpoint: str, body: dict) -> Capture:
    response = client.post(endpoint, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    return Capture(endpoint, body, answer, model_versions=tuple(answer["models"]), latency_ms=2.0)


def _unanswerable(features: dict[str, Any], classified: Capture) -> list[Capture]:
    """Captured fine in production; on replay a model the deployment lacks (503), a customer
    no longer stored (404). Not replayed: a request that already failed in production, and
    one a staged version answered."""
    occupation = {"occupation": "学生", "occupation_probability": 0.61}
    return [
        Capture(
            SCORE,
            {"customers": [{"features": features}], "models": ["occupation"]},
            {
                "results": [{"customer_id": None, "scores": {"occupation": occupation}}],
                "models": [{"name": "occupation", "version": "1", "alias": "production"}],
            },
        ),
        Capture("/v1/customers/C-GONE/profile", None, {"scores": {}, "models": []}),
        Capture(CLASSIFY, {"text": ""}, {"title": "Invalid input"}, status=422),
        Capture(
            CLASSIFY,
            classified.body,
            classified.answer,
            model_versions=({"name": "demand-classifier", "version": "2", "alias": "staging"},),
        ),
    ]


def insert_captures(url: str, captures: list[Capture]) -> list[int]:
    """Store the captures a minute apart from FIRST_CAPTURE; their row ids, in order."""
    engine = create_engine_for(url)
    try:
        with session_scope(create_session_factory(engine)) as session:
            rows = [
                CapturedRequest(
                    request_id=f"req-{i:03d}",
                    endpoint=capture.endpoint,
                    body=capture.body,
                    answer=capture.answer,
                    model_versions=list(capture.model_versions),
                    latency_ms=capture.latency_ms,
                    status=capture.status,
                    captured_at=FIRST_CAPTURE + timedelta(minutes=i),
                )
                for i, capture in enumerate(captures)
            ]
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows]
    finally:
        engine.dispose()


@pytest.fixture
def replay_env(staged_store, migrated_url, monkeypatch) -> str:  # noqa: F811
    """The environment ``insight replay`` reads: the staged registry and a fresh app database."""
    settings = settings_for(staged_store, served_models=SERVED)
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("INSIGHT_MLFLOW_ARTIFACT_ROOT", settings.mlflow_artifact_root)
    monkeypatch.setenv("INSIGHT_SERVED_MODELS", '["demand-classifier", "spam-filter", "churn"]')
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    return migrated_url
