"""A real MLflow store holding churn versions made to pass or fail each promotion gate.

Small data (800 customers): building them all takes about 7 s, once per test session. Import
the fixtures into a test module (or its conftest) to use them; ``churn`` resets the aliases
before each test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from app.db.session import create_engine_for, create_session_factory
from model_registry.registry import PRODUCTION, STAGING
from model_registry.store import MlflowStore
from training.customers.tasks import CUSTOMER_TASKS
from training.customers.trainer import customer_data, train_customer_model
from training.customers.world import generate_customers

CHURN = "churn"


@dataclass(frozen=True)
class ChurnVersions:
    """Version numbers of the churn model, each made for one purpose."""

    store: MlflowStore
    base: str  # what production holds at the start of each test
    twin: str  # the same data and seed as base: passes every gate
    shuffled: str  # labels shuffled: ROC-AUC near 0.5, fails the evaluation gate
    other_columns: str  # `age` dropped, `loyalty_points` added: fails the signature gate
    broken: str  # its pickled model deleted from the artifact store: fails the smoke test


def _train(store: MlflowStore, frame: pd.DataFrame) -> str:
    task = CUSTOMER_TASKS[CHURN]
    data = customer_data(
        frame, task=task, targets=task.targets, id_column="customer_id", source="test"
    )
    return train_customer_model(task, data, store=store, candidates="default").version


def _break_artifact(store: MlflowStore, version: str) -> None:
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{CHURN}/{version}"))
    # The local artifact store hands back its own folder: deleting here breaks the version.
    (folder / "python_model.pkl").unlink()


_BUILT: list[ChurnVersions] = []


@pytest.fixture(scope="session")
def churn_versions(tmp_path_factory: pytest.TempPathFactory) -> ChurnVersions:
    """Built once per test session, even when conftests in two folders import this fixture."""
    if not _BUILT:
        _BUILT.append(_build_churn_versions(tmp_path_factory))
    return _BUILT[0]


def _build_churn_versions(tmp_path_factory: pytest.TempPathFactory) -> ChurnVersions:
    store = MlflowStore.embedded(tmp_path_factory.mktemp("lifecycle-mlflow"))
    store.activate()
    world = generate_customers(800, seed=3)
    shuffled = world.assign(churned=np.random.default_rng(0).permutation(world["churned"]))
    other_columns = world.drop(columns=["age"]).assign(loyalty_points=1.5)
    versions = ChurnVersions(
        store=store,
        base=_train(store, world),
        twin=_train(store, world),
        shuffled=_train(store, shuffled),
        other_columns=_train(store, other_columns),
        broken=_train(store, world),
    )
    _break_artifact(store, versions.broken)
    return versions


@pytest.fixture
def churn(churn_versions: ChurnVersions) -> ChurnVersions:
    """The churn versions with production on ``base`` and nothing staged."""
    client = churn_versions.store.activate()
    if STAGING in client.get_registered_model(CHURN).aliases:
        client.delete_registered_model_alias(CHURN, STAGING)
    client.set_registered_model_alias(CHURN, PRODUCTION, churn_versions.base)
    return churn_versions


@pytest.fixture
def sessions(migrated_url: str):
    """Sessions on a migrated app database of the test's own (SQLite, and PostgreSQL if set)."""
    engine = create_engine_for(migrated_url)
    yield create_session_factory(engine)
    engine.dispose()
