"""Engines and sessions for the app database, from a SQLAlchemy URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def create_engine_for(url: str, **options: Any) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL), writing JSON as compact UTF-8."""
    engine_options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
        "pool_pre_ping": True,
    }
    if make_url(url).get_backend_name() == "sqlite":
        # Wait for a writer (an import in another process) rather than fail at once.
        engine_options["connect_args"] = {"timeout": 30}
    engine = create_engine(url, **(engine_options | options))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed if the block succeeds, rolled back if it raises."""
    with sessions.begin() as session:
        yield session


def redacted(url: str) -> str:
    """``url`` with its password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _json_dumps(value: Any) -> str:
    # NaN is not JSON (PostgreSQL rejects it): records carry None for a blank.
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, default=str, option=options).decode()


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
