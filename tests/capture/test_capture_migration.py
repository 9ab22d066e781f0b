"""Revision 0004 on rows captured before it: a profile's path becomes the route template with
its customer id apart, and back again on downgrade (SQLite and PostgreSQL)."""

import json
from datetime import UTC, datetime

import sqlalchemy as sa

from app.db import create_engine_for
from app.db.migrations import downgrade, upgrade

PROFILE = "/v1/customers/{customer_id}/profile"
OLD_ROWS = [
    ("r1", "/v1/customers/C00000042/profile"),
    ("r2", "/v1/customers/C〔手机号〕/profile"),
    ("r3", "/v1/demands/classify"),
]


def _rows(url: str, columns: str) -> list[tuple]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            query = f"SELECT {columns} FROM captured_requests ORDER BY request_id"
            return [tuple(row) for row in connection.execute(sa.text(query))]
    finally:
        engine.dispose()


def _json(value: object) -> object:
    """A JSON column read by plain SQL: text on SQLite, already parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def _insert_old_rows(url: str) -> None:
    engine = create_engine_for(url)
    table = sa.table(
        "captured_requests",
        *(sa.column(name) for name in ("request_id", "endpoint", "latency_ms", "status")),
        sa.column("body", sa.JSON),
        sa.column("model_versions", sa.JSON),
        sa.column("captured_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    rows = [
        {"request_id": request_id, "endpoint": endpoint, "latency_ms": 1.0, "status": 200}
        | {"body": None, "model_versions": [], "captured_at": now}
        for request_id, endpoint in OLD_ROWS
    ]
    try:
        with engine.begin() as connection:
            connection.execute(sa.insert(table), rows)
    finally:
        engine.dispose()


def test_profile_paths_become_templates_and_come_back_on_downgrade(database_url):
    upgrade(database_url, "0003")
    _insert_old_rows(database_url)
    upgrade(database_url, "0004")
    migrated = _rows(database_url, "request_id, endpoint, path_params, body_truncated, capture_id")
    assert [(rid, endpoint, _json(params)) for rid, endpoint, params, *_ in migrated] == [
        ("r1", PROFILE, {"customer_id": "C00000042"}),
        ("r2", PROFILE, {"customer_id": "C〔手机号〕"}),
        ("r3", "/v1/demands/classify", None),
    ]
    assert all(not truncated and capture_id is None for *_, truncated, capture_id in migrated)
    downgrade(database_url, "0003")
    assert _rows(database_url, "request_id, endpoint") == OLD_ROWS
