"""Database fixtures: every test that takes them runs on SQLite, and on PostgreSQL too when
``INSIGHT_TEST_POSTGRES_URL`` names a server.

On PostgreSQL each database is a schema with a unique name, made for the test (or the module)
and dropped after it, so parallel runs and tables left by a crashed run cannot collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.db import create_engine_for
from app.db.migrations import upgrade

POSTGRES_URL = os.environ.get("INSIGHT_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'insight.db'}"


def _postgres_schema_url(schema: str) -> str:
    """``POSTGRES_URL`` with every connection's search path set to ``schema`` alone."""
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _run_on_server(statement: str) -> None:
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a database with no tables, removed afterwards."""
    if backend == "sqlite":
        yield _sqlite_url(folder)
        return
    schema = f"insight_test_{uuid.uuid4().hex[:12]}"
    _run_on_server(f'CREATE SCHEMA "{schema}"')
    try:
        yield _postgres_schema_url(schema)
    finally:
        _run_on_server(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own for one test."""
    yield from empty_database(request.param, tmp_path)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A database of its own for one test, migrated to the head revision."""
    upgrade(database_url)
    return database_url


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database shared by a module's tests; ``session`` keeps them apart."""
    for url in empty_database(request.param, tmp_path_factory.mktemp("db")):
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def module_engine(module_database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine_for(module_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(module_engine: sa.Engine) -> Iterator[Session]:
    """A session inside a transaction rolled back after the test; its commits are savepoints."""
    with module_engine.connect() as connection:
        transaction = connection.begin()
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as test_session:
            yield test_session
        transaction.rollback()
