"""Open Inference Protocol (V2) request bodies for the tests."""

from __future__ import annotations

from typing import Any


def text_request(texts: list[str], **extra: Any) -> dict:
    """One BYTES input of texts, one a row; ``extra``: more members of the request."""
    tensor = {"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}
    return {"inputs": [tensor]} | extra


def pd_request(records: list[dict]) -> dict:
    """MLServer's pd form: one input per feature column (BYTES where a value is text, FP64
    otherwise), the content type on the request."""
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {
                "name": name,
                "shape": [len(records)],
                "datatype": "BYTES" if any(isinstance(r[name], str) for r in records) else "FP64",
                "data": [record[name] for record in records],
            }
            for name in records[0]
        ],
    }
