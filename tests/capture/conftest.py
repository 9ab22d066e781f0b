"""The database fixtures of ``tests.db.databases`` for the tests in this folder, and a look
at what capture stored."""

import time
from typing import Any

import orjson
import sqlalchemy as sa

from app.capture.buffer import RawCapture
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


def raw_capture(
    request_id: str, text: str, *, default_answer: dict[str, Any], **fields
) -> RawCapture:
    """What the request path keeps of a one-text classify; ``fields`` replace any part."""
    values = {
        "request_id": request_id,
        "endpoint": "/v1/demands/classify",
        "body": orjson.dumps({"text": text}),
        "answer": orjson.dumps(default_answer),
        "status": 200,
        "latency_ms": 1.0,
        "received_at": time.time(),
    }
    return RawCapture(**(values | fields))
