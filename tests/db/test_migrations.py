"""Migrations up and down, the revision check the service runs at startup, models vs migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app.db import Base, create_engine_for
from app.db.migrations import (
    DatabaseBehindError,
    UnknownRevisionError,
    current_revision,
    downgrade,
    ensure_up_to_date,
    head_revision,
    upgrade,
)
from app.db.session import redacted

STORE_TABLES = {
    "customers",
    "customer_scores",
    "model_events",
    "captured_requests",
    "api_keys",
    "service_workers",
    "text_corrections",
    "customer_outcomes",
}


def _tables(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_the_tables_and_downgrade_drops_them(database_url):
    upgrade(database_url)
    assert _tables(database_url) >= STORE_TABLES
    assert current_revision(database_url) == head_revision()

    downgrade(database_url, "base")
    assert not STORE_TABLES & _tables(database_url)
    assert current_revision(database_url) is None

    upgrade(database_url)  # and up again, from where a downgrade leaves it
    assert _tables(database_url) >= STORE_TABLES


def test_the_migrations_build_what_the_models_describe(migrated_url):
    engine = create_engine_for(migrated_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_an_empty_database_is_refused_with_what_to_run(database_url):
    with pytest.raises(DatabaseBehindError, match=r"no tables yet: run `insight db upgrade`"):
        ensure_up_to_date(database_url)


def test_checking_a_missing_sqlite_file_does_not_create_it(tmp_path: Path):
    path = tmp_path / "absent.db"
    with pytest.raises(DatabaseBehindError):
        ensure_up_to_date(f"sqlite:///{path}")
    assert not path.exists()


def test_a_migrated_database_passes(migrated_url):
    ensure_up_to_date(migrated_url)


def test_a_revision_this_code_does_not_know_is_refused(migrated_url):
    engine = create_engine_for(migrated_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dface'"))
    engine.dispose()
    with pytest.raises(UnknownRevisionError, match="f00dface, which this code does not know"):
        ensure_up_to_date(migrated_url)


def test_messages_name_the_database_without_its_password():
    assert redacted("postgresql+psycopg://insight:s3cret@db:5432/app") == (
        "postgresql+psycopg://insight:***@db:5432/app"
    )
