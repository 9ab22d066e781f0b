"""Shared fixtures: a small demand corpus and a real MLflow store with both text models in it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from model_registry.registry import promote
from model_registry.store import MlflowStore
from tests.text_versions import text_versions, text_versions_store  # noqa: F401
from training.text.corpus import generate_demands
from training.text.data import labelled_texts
from training.text.trainer import DEMAND_CLASSIFIER, SPAM_FILTER, train_text_model

SMALL_CORPUS_ROWS = 1500


@pytest.fixture(scope="session")
def demand_corpus() -> pd.DataFrame:
    return generate_demands(SMALL_CORPUS_ROWS, seed=7)


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory, demand_corpus) -> MlflowStore:
    """Both text models trained on the small corpus, registered and promoted to production."""
    return promoted_text_models(tmp_path_factory.mktemp("mlflow"), demand_corpus)


def promoted_text_models(folder: Path, corpus: pd.DataFrame, **training) -> MlflowStore:
    """A store in ``folder`` with both text models trained on ``corpus`` (``training``: more
    arguments of ``train_text_model``) and promoted to production."""
    store = MlflowStore.embedded(folder)
    for task in (DEMAND_CLASSIFIER, SPAM_FILTER):
        data = labelled_texts(
            corpus,
            text_column="text",
            label_column=task.label_column,
            binary=task.binary,
            source="test corpus",
        )
        outcome = train_text_model(task, data, store=store, **training)
        promote(store.activate(), task.model_name, version=outcome.version)
    return store


@pytest.fixture(scope="session", autouse=True)
def app_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated SQLite app database, named by INSIGHT_DATABASE_URL for the whole session,
    holding the admin key of ``ADMIN_HEADERS``.

    Through the environment, so ``Settings()`` here and ``insight serve`` in a subprocess both
    find it (the service refuses to start on an unmigrated database).
    """
    from app.db.migrations import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('app-db') / 'insight.db'}"
    upgrade(url)
    ADMIN_HEADERS["Authorization"] = f"Bearer {make_key(url, 'test-admin', ['admin'])}"
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("INSIGHT_DATABASE_URL", url)
        yield url


# Sent by every client of the session's app database (``service_client``): its admin key.
ADMIN_HEADERS: dict[str, str] = {}


def make_key(database_url: str, name: str, scopes: list[str], **options) -> str:
    """Make an API key in the app database at ``database_url``; its secret."""
    from app.db.migrations import migrated_sessions
    from app.db.session import session_scope
    from app.services.api_keys import create_key

    with migrated_sessions(database_url) as sessions, session_scope(sessions) as session:
        return create_key(session, name=name, scopes=scopes, **options).secret


def random_part(secret: str) -> str:
    """The 256 random bits of a secret, after ``isk_<key id>_``: what must never leak."""
    return secret[len("isk_0123456789ab_") :]


def service_client(settings: Settings, *, headers: dict[str, str] | None = None) -> TestClient:
    """A client of the service built from ``settings``, sending the session's admin key (or
    ``headers``: a key of another app database)."""
    return TestClient(create_app(settings), headers=ADMIN_HEADERS if headers is None else headers)


def admin_secret(database_url: str) -> str:
    """The secret of a new admin key in the app database at ``database_url``."""
    return make_key(database_url, f"admin-{uuid.uuid4().hex[:8]}", ["admin"])


def admin_headers(database_url: str) -> dict[str, str]:
    """The headers of a new admin key in the app database at ``database_url``."""
    return {"Authorization": f"Bearer {admin_secret(database_url)}"}


TEXT_MODELS = ["demand-classifier", "spam-filter"]


@pytest.fixture(scope="session")
def customer_world() -> pd.DataFrame:
    from training.customers.world import generate_customers

    return generate_customers(2500, seed=5)


@pytest.fixture(scope="session")
def full_store(trained_store: MlflowStore, customer_world) -> MlflowStore:
    """The text models' store plus the four customer models, all promoted to production:
    channel-preference's targets logistic regressions, the others' boosted trees, so the service
    scores both families side by side (model selection itself is tested in tests/training)."""
    from training.customers.tasks import CUSTOMER_TASKS
    from training.customers.trainer import customer_data, train_customer_model

    for task in CUSTOMER_TASKS.values():
        data = customer_data(
            customer_world, task=task, targets=task.targets, id_column="customer_id", source="test"
        )
        family = "logistic" if task.model_name == "channel-preference" else "default"
        outcome = train_customer_model(task, data, store=trained_store, candidates=family)
        promote(trained_store.activate(), task.model_name, version=outcome.version)
    return trained_store


@pytest.fixture(scope="module")
def full_api(full_store: MlflowStore) -> Iterator[TestClient]:
    """The app serving all six models, started once per module (loading six models takes
    a second or two)."""
    settings = settings_for(full_store, served_models=TEXT_MODELS + list(CUSTOMER_MODEL_NAMES))
    with service_client(settings) as client:
        wait_until_ready(client)
        yield client


CUSTOMER_MODEL_NAMES = ("churn", "channel-preference", "occupation", "content-preference")


def settings_for(store: MlflowStore, **overrides) -> Settings:
    """Settings for a service on ``store``, serving the text models unless told otherwise."""
    return Settings(
        mlflow_tracking_uri=store.tracking_uri,
        mlflow_artifact_root=store.artifact_root,
        **{"served_models": TEXT_MODELS, **overrides},
    )


def wait_until_ready(client: TestClient, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.05)


@pytest.fixture(scope="module")
def api(trained_store: MlflowStore) -> Iterator[TestClient]:
    """The app over httpx, with its lifespan run and the production models loaded; started
    once per module."""
    with service_client(settings_for(trained_store)) as client:
        wait_until_ready(client)
        yield client


@pytest.fixture
def corpus_csv(tmp_path: Path, demand_corpus: pd.DataFrame) -> Path:
    path = tmp_path / "demands.csv"
    demand_corpus.to_csv(path, index=False)
    return path
