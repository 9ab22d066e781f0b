"""The service's engine bounds every wait on the app database, and no engine's error message
holds a statement's parameters (customer data)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.core.errors import is_database_unavailable
from app.db.session import DatabaseTimeouts, create_engine_for

SECRET = "13912345678-张三"


@pytest.fixture
def service_engine(migrated_url):
    engine = create_engine_for(
        migrated_url, timeouts=DatabaseTimeouts(connect_s=2, statement_s=0.5)
    )
    yield engine
    engine.dispose()


def test_the_service_engine_has_short_timeouts(service_engine, migrated_url):
    assert service_engine.pool.timeout() == 0.5
    with service_engine.connect() as connection:
        if service_engine.dialect.name == "sqlite":
            assert connection.scalar(sa.text("PRAGMA busy_timeout")) == 500
            return
        assert connection.scalar(sa.text("SHOW statement_timeout")) == "500ms"
        # The URL's own options (the test schema's search path) are kept beside it.
        assert connection.scalar(sa.text("SHOW search_path")).startswith("insight_test_")
        with pytest.raises(sa.exc.OperationalError) as stuck:
            connection.execute(sa.text("SELECT pg_sleep(5)"))
    assert is_database_unavailable(stuck.value)


def test_a_command_engine_waits_long(migrated_url):
    engine = create_engine_for(migrated_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                assert connection.scalar(sa.text("PRAGMA busy_timeout")) == 30_000
            else:
                assert connection.scalar(sa.text("SHOW statement_timeout")) == "0"
    finally:
        engine.dispose()


def test_an_error_message_holds_no_parameter(service_engine):
    with pytest.raises(sa.exc.StatementError) as failed, service_engine.connect() as connection:
        connection.execute(sa.text("SELECT no_such_column, :secret"), {"secret": SECRET})
    assert SECRET not in str(failed.value)
    assert not is_database_unavailable(failed.value)  # a bug, not an outage: a 500


def test_a_database_that_is_not_there_is_unavailable():
    engine = create_engine_for(
        "postgresql+psycopg://postgres@127.0.0.1:1/none",
        timeouts=DatabaseTimeouts(connect_s=2, statement_s=1),
    )
    try:
        with pytest.raises(sa.exc.OperationalError) as refused, engine.connect():
            pass
    finally:
        engine.dispose()
    assert is_database_unavailable(refused.value)
