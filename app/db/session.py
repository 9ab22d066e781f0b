"""Engines and sessions for the app database, from a SQLAlchemy URL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_LOCK_WAIT_S = 30  # what a command waits for another process's write to end


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long the service waits on its database before giving up (and answering 503)."""

    connect_s: float  # to open a connection; PostgreSQL counts whole seconds, at least 2
    statement_s: float  # for one statement, a lock (SQLite: any), or a free pooled connection


def create_engine_for(
    url: str, *, timeouts: DatabaseTimeouts | None = None, **options: Any
) -> Engine:
    """An engine for ``url`` (SQLite or PostgreSQL), writing JSON as compact UTF-8.

    Without ``timeouts`` it waits as a command should (an import waits out the service's
    writes); the service passes short ones, so a database that is down or stuck costs a
    request seconds, not minutes. No engine puts a statement's parameters (customer data)
    into an error message.
    """
    engine_options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
        "pool_pre_ping": True,
        "hide_parameters": True,
    }
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Wait for a writer (an import in another process) rather than fail at once.
        wait_s = timeouts.statement_s if timeouts else SQLITE_LOCK_WAIT_S
        engine_options["connect_args"] = {"timeout": wait_s}
    elif timeouts is not None:
        engine_options["connect_args"] = _postgres_timeouts(parsed, timeouts)
    if timeouts is not None and parsed.database not in (None, "", ":memory:"):
        engine_options["pool_timeout"] = timeouts.statement_s
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


def _postgres_timeouts(url: URL, timeouts: DatabaseTimeouts) -> dict[str, Any]:
    """libpq's connection parameters bounding every wait: connecting, a statement (or a lock),
    and a server that stopped answering mid-statement (TCP keepalives and user timeout)."""
    given = url.query.get("options", "")  # a search_path, say: kept beside the timeout
    given = " ".join(given) if isinstance(given, tuple) else given
    statement_ms = max(1, round(timeouts.statement_s * 1000))
    silent_s = math.ceil(timeouts.statement_s) + 3
    return {
        "connect_timeout": max(2, math.ceil(timeouts.connect_s)),
        "options": f"{given} -c statement_timeout={statement_ms}".strip(),
        "keepalives": 1,
        "keepalives_idle": math.ceil(timeouts.statement_s),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": silent_s * 1000,
    }


def _json_dumps(value: Any) -> str:
    # NaN is not JSON (PostgreSQL rejects it): records carry None for a blank.
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, default=str, option=options).decode()


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging: readers and the one writer never block each other, so the workers'
    # reads, their capture writes and a PUT share the file without "database is locked"
    # (measured by bench.soak: with the default rollback journal, 10% of a mixed load at 64
    # connections answered 503). It stays set in the file; this makes sure of it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
