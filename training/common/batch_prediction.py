"""Offline prediction: a table in, each row's answer from a registered model out, as CSV."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from training.common.labels import DataError
from training.common.progress import report
from training.text.model import TextClassifierModel

CHUNK_ROWS = 20_000


def predict_file(
    model_uri: str,
    *,
    data: Path,
    out: Path,
    text_column: str = "text",
    id_column: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Write one answer per row of ``data`` to ``out``; return the number of rows.

    A text model's answer (label, confidence) is written beside the input columns; a customer
    model's answer (probabilities, levels) beside the id column when one is given.
    """
    model = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    is_text = isinstance(model, TextClassifierModel)
    written = 0
    for number, chunk in enumerate(_chunks(data, chunk_rows)):
        if is_text:
            result = _text_answers(model, chunk, text_column)
        else:
            result = _customer_answers(model, chunk, id_column)
        result.to_csv(out, mode="w" if number == 0 else "a", header=number == 0, index=False)
        written += len(result)
        report(f"… {written} rows predicted")
    return written


def _text_answers(model, chunk: pd.DataFrame, text_column: str) -> pd.DataFrame:
    _require(chunk, text_column)
    texts = pd.DataFrame({"text": chunk[text_column].fillna("").astype(str)})
    answers = model.predict(None, texts)
    return chunk.assign(
        label=answers["label"].to_numpy(), confidence=answers["confidence"].to_numpy()
    )


def _customer_answers(model, chunk: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    answers = model.predict(None, chunk)
    if id_column is None:
        return answers
    _require(chunk, id_column)
    return pd.concat([chunk[[id_column]].reset_index(drop=True), answers], axis=1)


def _require(chunk: pd.DataFrame, column: str) -> None:
    if column not in chunk.columns:
        raise DataError(f"column {column!r} not found; the table has: {', '.join(map(str, chunk))}")


def _chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    if path.suffix.lower() in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield batch.to_pandas()
        return
    encoding = _csv_encoding(path)
    try:
        yield from pd.read_csv(path, chunksize=rows, encoding=encoding, low_memory=False)
    except UnicodeDecodeError:
        raise DataError(f"{path.name} is neither UTF-8 nor GB18030 text") from None


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file is, else GB18030: as training reads it.
    Decided before the first chunk is written; one pass, bounded memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"
