"""Customer tables: reading them, inferring which columns are numbers and which are categories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.common.labels import DataError

MAX_CATEGORIES = 60  # more distinct values than this in a text column: an id or free text
NUMERIC_SHARE = 0.95  # a column is numeric when this share of its non-blank values parse


@dataclass(frozen=True)
class FeatureSpec:
    """The feature columns a customer model reads, and the categories seen in training."""

    numeric: tuple[str, ...]
    categorical: dict[str, tuple[str, ...]]
    dropped: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numeric + tuple(self.categorical)

    def prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature columns in model order: numbers as floats, categories as strings."""
        missing = [column for column in self.columns if column not in frame.columns]
        if missing:
            raise DataError(f"missing feature columns: {', '.join(missing)}")
        numbers = frame[list(self.numeric)].apply(pd.to_numeric, errors="coerce").astype(float)
        categories = (
            frame[list(self.categorical)]
            .astype(object)
            .where(frame[list(self.categorical)].notna(), np.nan)
        )
        # astype(object): a wholly blank column would otherwise stay float, which the encoder refuses.
        return pd.concat([numbers, categories.map(category_text).astype(object)], axis=1)

    def encode_records(self, records: list[dict]) -> np.ndarray:
        """Records straight to the matrix the trees read, without pandas on the way.

        Numbers as floats (NaN for blanks and anything that is not a number), categories as
        their position among the training categories (NaN when blank or unseen): exactly what
        ``prepare`` and the fitted ordinal encoder give, at a fraction of the cost per row.
        """
        codes = {c: {value: i for i, value in enumerate(v)} for c, v in self.categorical.items()}
        matrix = np.full((len(records), len(self.columns)), np.nan)
        for row, record in enumerate(records):
            for column, name in enumerate(self.numeric):
                matrix[row, column] = number_value(record.get(name))
            for column, name in enumerate(self.categorical, start=len(self.numeric)):
                text = category_text(record.get(name))
                matrix[row, column] = (
                    codes[name].get(text, np.nan) if text is not np.nan else np.nan
                )
        return matrix


PLAIN_NUMBERS = {float, int}  # exact types: bool, a subclass of int, counts as blank


class RecordEncoder:
    """Feature records (dicts from JSON, or a frame) to the float matrix the fitted column step
    gives: numbers as floats, categories as their position in the spec, NaN when blank or
    unseen. The fast scorers of every model family read this matrix."""

    def __init__(self, features: FeatureSpec):
        self.features = features
        self._codes = {
            name: {value: float(code) for code, value in enumerate(values)}
            for name, values in features.categorical.items()
        }

    def encode(self, records: Sequence[Mapping[str, Any]] | pd.DataFrame) -> np.ndarray:
        if isinstance(records, pd.DataFrame):
            return self._encode_frame(records)
        return np.array([self._encode_record(record) for record in records], dtype=float).reshape(
            len(records), len(self.features.columns)
        )

    def _encode_record(self, record: Mapping[str, Any]) -> list[float]:
        # Plain floats, ints and text take a shortcut; anything else follows the rules below
        # (bools and unparsable text are blank), as FeatureSpec.encode_records does.
        get = record.get
        row = [
            float(value) if type(value) in PLAIN_NUMBERS else number_value(value)
            for value in map(get, self.features.numeric)
        ]
        for name, codes in self._codes.items():
            value = get(name)
            text = value.strip() if type(value) is str else category_text(value)
            row.append(codes.get(text, np.nan) if isinstance(text, str) and text else np.nan)
        return row

    def _encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [column for column in self.features.columns if column not in frame.columns]
        if missing:
            raise DataError(f"missing feature columns: {', '.join(missing)}")
        numbers = frame[list(self.features.numeric)].apply(pd.to_numeric, errors="coerce")
        categories = [_category_codes(frame[name], codes) for name, codes in self._codes.items()]
        return np.column_stack([numbers.to_numpy(dtype=float), *categories]).reshape(len(frame), -1)


def _category_codes(values: pd.Series, codes: Mapping[str, float]) -> np.ndarray:
    """Each value's code, as ``category_text`` reads it (its text, stripped; NaN when blank
    or unseen), for a whole column at once."""
    present = values.notna().to_numpy()
    result = np.full(len(values), np.nan)
    if present.any():
        text = values[present].astype(str).str.strip()
        result[present] = text.map(codes).to_numpy(dtype=float, na_value=np.nan)
    return result


def signed_log(values: np.ndarray) -> np.ndarray:
    """log(1 + |x|) with the sign of x: the size of a number, for any sign."""
    return np.sign(values) * np.log1p(np.abs(values))


def number_value(value: object) -> float:
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, int | float | np.number):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return np.nan


def category_text(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    text = str(value).strip()
    return text if text else np.nan


def read_customer_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file of customers; blank cells become missing values."""
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    try:
        return pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="gb18030", low_memory=False)


def infer_features(frame: pd.DataFrame, *, exclude: set[str]) -> FeatureSpec:
    """Numbers where nearly every non-blank value parses as one, categories otherwise."""
    numeric, categorical, dropped = [], {}, []
    for column in frame.columns:
        if column in exclude:
            continue
        values = frame[column]
        present = values.dropna()
        if present.empty:
            dropped.append(column)
        elif _is_numeric(present):
            numeric.append(column)
        elif present.astype(str).nunique() <= MAX_CATEGORIES:
            categorical[column] = tuple(sorted(present.astype(str).str.strip().unique()))
        else:
            dropped.append(column)
    if not numeric and not categorical:
        raise DataError("no usable feature columns: every column is blank, an id or free text")
    return FeatureSpec(tuple(numeric), categorical, tuple(dropped))


def _is_numeric(present: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(present) or isinstance(present.dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_numeric_dtype(present):
        return True
    parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    return parsed.notna().mean() >= NUMERIC_SHARE
