"""The database fixtures of ``tests.db.databases`` for the tests in this folder, and a look
at what capture stored."""

import sqlalchemy as sa

from app.db import create_engine_for
from app.db.models import CapturedRequest
from tests.db.databases import database_url, migrated_url  # noqa: F401


def captured_rows(url: str) -> list[CapturedRequest]:
    """Every captured_requests row of the database at ``url``, in the order written."""
    engine = create_engine_for(url)
    try:
        with sa.orm.Session(engine) as session:
            return list(session.scalars(sa.select(CapturedRequest).order_by(CapturedRequest.id)))
    finally:
        engine.dispose()
