"""Deleting captured requests older than the retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from app.db.models import CapturedRequest

PRUNE_CHUNK_ROWS = 5000


def prune_captures(engine: Engine, *, retention_days: int, now: datetime | None = None) -> int:
    """Delete captured requests older than ``retention_days``, a chunk per transaction so a
    large backlog never holds a long lock; the number deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    oldest = (
        select(CapturedRequest.id)
        .where(CapturedRequest.captured_at < cutoff)
        .limit(PRUNE_CHUNK_ROWS)
        .scalar_subquery()
    )
    deleted = 0
    while True:
        with engine.begin() as connection:
            chunk = connection.execute(
                delete(CapturedRequest).where(CapturedRequest.id.in_(oldest))
            ).rowcount
        deleted += chunk
        if chunk < PRUNE_CHUNK_ROWS:
            return deleted
