"""The ``insight`` command in-process for the batch tests, on the session's trained store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli import main
from model_registry.store import MlflowStore
from tests.db.databases import database_url, migrated_url  # noqa: F401
from training.customers.schema import LABEL_COLUMNS


@pytest.fixture
def insight(tmp_path: Path, monkeypatch, full_store: MlflowStore):
    """``insight`` on the store holding all six production models; an exception nothing
    handles fails the test."""
    monkeypatch.setenv("INSIGHT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", full_store.tracking_uri)
    monkeypatch.setenv("INSIGHT_MLFLOW_ARTIFACT_ROOT", full_store.artifact_root)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [str(arg) for arg in args], catch_exceptions=False)

    return run


@pytest.fixture
def customers(customer_world: pd.DataFrame) -> pd.DataFrame:
    """300 customers' features, without the labels, blanks included."""
    table = customer_world.iloc[:300].drop(columns=list(LABEL_COLUMNS))
    assert table.isna().any().any()
    return table.reset_index(drop=True)
