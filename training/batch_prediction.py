"""Offline prediction: a CSV in, the same rows with each model's answer out."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from training.labels import DataError
from training.progress import report

CHUNK_ROWS = 5000


def predict_text_file(
    model_uri: str, *, data: Path, text_column: str, out: Path, chunk_rows: int = CHUNK_ROWS
) -> int:
    """Write ``data`` plus ``label`` and ``confidence`` columns to ``out``; return the row count."""
    model = mlflow.pyfunc.load_model(model_uri)
    written = 0
    chunks = pd.read_csv(data, dtype=str, keep_default_na=False, chunksize=chunk_rows)
    for number, chunk in enumerate(chunks):
        if text_column not in chunk.columns:
            raise DataError(f"column {text_column!r} not found; the table has: {', '.join(chunk)}")
        answers = model.predict(pd.DataFrame({"text": chunk[text_column].astype(str)}))
        chunk = chunk.assign(label=answers["label"].to_numpy(), confidence=answers["confidence"])
        chunk.to_csv(out, mode="w" if number == 0 else "a", header=number == 0, index=False)
        written += len(chunk)
        report(f"… {written} rows predicted")
    return written
