"""From a raw capture to a ``captured_requests`` row: parsed, masked, with its model refs."""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from app.capture.buffer import RawCapture
from app.capture.masking import NAME, mask_document, mask_text, placeholder_for_key

MODEL_REF_FIELDS = ("name", "version", "alias")
UUID_FORM = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# A placeholder, or a run of Chinese characters.
_PLACEHOLDER_OR_CJK = re.compile(r"〔[^〕]*〕|[\u4e00-\u9fff]+")
# A member of a JSON object, its string value possibly cut off at the end of a fragment.
_JSON_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[^,}\]\s]+)')
_NON_ASCII_ESCAPES = re.compile(r"(?:\\u(?!00[0-7])[0-9a-fA-F]{4})+")


def captured_row(entry: RawCapture) -> dict[str, Any]:
    """The row to insert for ``entry``; nothing personal survives in it."""
    answer = _parsed(entry.answer)
    body = _fragment(entry.body) if entry.body_truncated else mask_document(_parsed(entry.body))
    return {
        "capture_id": f"{entry.capture_id:032x}" if entry.capture_id else None,
        "request_id": captured_request_id(entry.request_id),
        "endpoint": mask_text(entry.endpoint),
        "path_params": masked_path_params(entry.path_params),
        "body": body,
        "body_truncated": entry.body_truncated,
        "answer": mask_document(answer, keep=("models",)),
        "model_versions": model_refs(answer),
        "latency_ms": round(entry.latency_ms, 3),
        "status": entry.status,
        "client": entry.client,
        "captured_at": datetime.fromtimestamp(entry.received_at, UTC),
    }


def captured_request_id(request_id: str) -> str:
    """A UUID (ours, or a client's in that form) is kept whole: its random hex digits sometimes
    look like a phone or card number, and a masked id could no longer be sent as a header."""
    return request_id if UUID_FORM.fullmatch(request_id) else mask_text(request_id)


def model_refs(answer: Any) -> list[dict[str, str]]:
    """The models an answer says answered it (every scoring answer names them in ``models``;
    an Open Inference Protocol answer in ``model_name``, ``model_version`` and the alias
    parameter)."""
    if not isinstance(answer, dict):
        return []
    models = answer.get("models")
    if "model_name" in answer:
        alias = (answer.get("parameters") or {}).get("alias")
        models = [
            {"name": answer["model_name"], "version": answer.get("model_version"), "alias": alias}
        ]
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


def masked_path_params(params: dict[str, Any] | None) -> dict[str, str] | None:
    """A path's parameters (a customer id), each masked: an ordinary id (C00000001) stays as it
    is, so replay reaches the same customer; personal data in one does not."""
    if not params:
        return None
    return {key: _masked_id(str(value)) for key, value in params.items()}


def _masked_id(value: str) -> str:
    """The rules' masking, and Chinese characters left in an id taken for a name: an id is a
    code, and a name in it has no cue word for the rules to find (``张伟13812345678``)."""
    return _PLACEHOLDER_OR_CJK.sub(_name_unless_placeholder, mask_text(value))


def _name_unless_placeholder(match: re.Match[str]) -> str:
    return match.group() if match.group().startswith("〔") else NAME


def _fragment(prefix: bytes) -> str:
    """A refused body's kept prefix, masked: it is no longer JSON, so the values of personal
    keys are found by a pattern, and escaped characters are read, before the text rules run."""
    # Not final: a character the cut split in two is left out, not replaced by U+FFFD.
    text = _unescaped(codecs.getincrementaldecoder("utf-8")("replace").decode(prefix))
    return mask_text(_JSON_MEMBER.sub(_masked_member, text))


def _masked_member(match: re.Match[str]) -> str:
    key, colon, value = match.groups()
    placeholder = placeholder_for_key(key)
    return match.group() if placeholder is None else f'"{key}"{colon}"{placeholder}"'


def _unescaped(text: str) -> str:
    """``\\uXXXX`` escapes of characters outside ASCII read as the characters (a client may
    escape all of its Chinese); ASCII escapes stay, so quotes keep their meaning."""
    return _NON_ASCII_ESCAPES.sub(_decoded_escapes, text)


def _decoded_escapes(match: re.Match[str]) -> str:
    units = bytes.fromhex(match.group().replace("\\u", ""))
    return units.decode("utf-16-be", errors="replace")
