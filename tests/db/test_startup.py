"""The service refuses to start on an app database that is empty or behind, saying what to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.db.migrations import DatabaseBehindError
from app.main import create_app


def test_the_service_refuses_an_unmigrated_database(tmp_path: Path):
    empty = tmp_path / "empty.db"
    empty.touch()
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{empty}")
    with (
        pytest.raises(DatabaseBehindError, match="run `insight db upgrade`"),
        TestClient(create_app(settings)),
    ):
        pass
