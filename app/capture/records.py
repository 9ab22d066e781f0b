"""From a raw capture to a ``captured_requests`` row: parsed, masked, with its model refs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from app.capture.buffer import RawCapture
from app.capture.masking import mask_document, mask_text

MODEL_REF_FIELDS = ("name", "version", "alias")
UUID_FORM = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def captured_row(entry: RawCapture) -> dict[str, Any]:
    """The row to insert for ``entry``; nothing personal survives in it."""
    answer = _parsed(entry.answer)
    return {
        "request_id": _request_id(entry.request_id),
        "endpoint": mask_text(entry.endpoint),
        "body": mask_document(_parsed(entry.body)),
        "answer": mask_document(answer, keep=("models",)),
        "model_versions": model_refs(answer),
        "latency_ms": round(entry.latency_ms, 3),
        "status": entry.status,
        "client": entry.client,
        "captured_at": datetime.fromtimestamp(entry.received_at, UTC),
    }


def _request_id(request_id: str) -> str:
    """A UUID (ours, or a client's in that form) is kept whole: its random hex digits sometimes
    look like a phone or card number, and a masked id could no longer be sent as a header."""
    return request_id if UUID_FORM.fullmatch(request_id) else mask_text(request_id)


def model_refs(answer: Any) -> list[dict[str, str]]:
    """The models an answer says answered it (every scoring answer names them in ``models``)."""
    models = answer.get("models") if isinstance(answer, dict) else None
    if not isinstance(models, list):
        return []
    return [
        {field: str(model[field]) for field in MODEL_REF_FIELDS}
        for model in models
        if isinstance(model, dict) and all(field in model for field in MODEL_REF_FIELDS)
    ]


def _parsed(content: bytes) -> Any:
    """JSON as sent; text that is not JSON (a 400's body) stays a string, to be masked."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content.decode("utf-8", errors="replace")
