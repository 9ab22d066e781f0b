"""A real MLflow store of its own with versions of the text models, for the reload tests.

No training: each version is the session store's production model logged again (about a
second each), so the versions answer alike and differ only in their number. The
fixtures are named in tests/conftest.py; ``text_versions`` resets the aliases per test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest

from model_registry.registry import PRODUCTION, STAGING
from model_registry.store import MlflowStore
from training.common.registration import log_and_register

DEMAND, SPAM = "demand-classifier", "spam-filter"


@dataclass(frozen=True)
class TextVersions:
    store: MlflowStore
    base: str  # demand-classifier in production at the start of each test
    twin: str  # the same model again: a version to move an alias to
    broken: str  # its pickled model deleted from the artifact store: does not load
    spam: str  # the one spam-filter version, in production


def log_again(source: MlflowStore, target: MlflowStore, name: str) -> str:
    """Log ``source``'s production version of ``name`` as a new version in ``target``."""
    client = source.activate()
    version = client.get_model_version_by_alias(name, PRODUCTION).version
    pyfunc = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, version))
    target.activate()
    with mlflow.start_run(experiment_id=target.experiment_id("reload-tests")):
        return log_and_register(
            pyfunc.unwrap_python_model(),
            model_name=name,
            example=pyfunc.input_example,
            card="logged again for the reload tests",
        )


def break_artifact(store: MlflowStore, name: str, version: str) -> None:
    """Delete the version's pickled model from the (local) artifact store."""
    uri = store.activate().get_model_version_download_uri(name, version)
    (Path(urlparse(uri).path) / "python_model.pkl").unlink()


@pytest.fixture(scope="session")
def text_versions_store(
    tmp_path_factory: pytest.TempPathFactory, trained_store: MlflowStore
) -> TextVersions:
    store = MlflowStore.embedded(tmp_path_factory.mktemp("reload-mlflow"))
    versions = TextVersions(
        store=store,
        base=log_again(trained_store, store, DEMAND),
        twin=log_again(trained_store, store, DEMAND),
        broken=log_again(trained_store, store, DEMAND),
        spam=log_again(trained_store, store, SPAM),
    )
    break_artifact(store, DEMAND, versions.broken)
    return versions


@pytest.fixture
def text_versions(text_versions_store: TextVersions) -> TextVersions:
    """The versions with production on ``base`` (and the spam filter's one), nothing staged."""
    return serving_base(text_versions_store)


def serving_base(versions: TextVersions) -> TextVersions:
    """Production back on ``base`` (and the spam filter's one), nothing staged."""
    client = versions.store.activate()
    for name in (DEMAND, SPAM):
        if STAGING in client.get_registered_model(name).aliases:
            client.delete_registered_model_alias(name, STAGING)
    client.set_registered_model_alias(DEMAND, PRODUCTION, versions.base)
    client.set_registered_model_alias(SPAM, PRODUCTION, versions.spam)
    return versions
