"""Checking a chunk of customer rows against the customer schema before it is stored.

A column named in ``training.customer_schema.COLUMNS`` must hold values of its type (a number,
a whole number, one of its categories); any other column is kept as it is. A row that breaks a
rule is reported with its line number and every reason, and left out: nothing is coerced.
Reasons name the column and the rule, never the value (it is customer data).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from app.db.models import CUSTOMER_ID_LENGTH
from training.customer_schema import COLUMNS, Column

KNOWN_COLUMNS = {column.name: column for column in COLUMNS}
# Spellings of "no value" a numeric column may carry besides an empty cell.
MISSING_NUMBER_SPELLINGS = frozenset({"na", "n/a", "nan", "null", "none"})
LARGEST_WHOLE_NUMBER = 2**53  # beyond this a JSON reader may not keep every digit


@dataclass(frozen=True)
class RowProblem:
    """Why one row of the file was left out."""

    line: int
    reason: str


@dataclass(frozen=True)
class CheckedChunk:
    """The rows of a chunk that may be stored, and the problems of those that may not."""

    customer_ids: list[str]
    records: list[dict[str, Any]]
    problems: list[RowProblem]


def check_chunk(
    frame: pd.DataFrame, *, id_column: str, lines: Sequence[int], row_word: str = "line"
) -> CheckedChunk:
    """Split ``frame`` into storable records and problems; ``lines`` numbers its rows."""
    reasons: dict[int, list[str]] = defaultdict(list)
    ids = _check_ids(frame[id_column], [f"{row_word} {line}" for line in lines], reasons)
    names = [name for name in frame.columns if name != id_column]
    columns = [_column_values(name, frame[name], reasons) for name in names]
    rows = zip(ids, *columns, strict=True) if columns else ((i,) for i in ids)
    kept_ids, records = [], []
    for i, (customer_id, *values) in enumerate(rows):
        if i not in reasons:
            kept_ids.append(customer_id)
            records.append(dict(zip(names, values)))
    problems = [RowProblem(lines[i], "; ".join(reasons[i])) for i in sorted(reasons)]
    return CheckedChunk(kept_ids, records, problems)


def _check_ids(ids: pd.Series, places: list[str], reasons: dict[int, list[str]]) -> list[str]:
    text = ids.astype("string")
    blank = _blank(text.to_numpy(dtype=object))
    too_long = (text.str.len() > CUSTOMER_ID_LENGTH).fillna(False).to_numpy()
    first_place: dict[str, str] = {}
    for i, customer_id in enumerate(text):
        if blank[i]:
            reasons[i].append(f"{ids.name}: blank")
        elif too_long[i]:
            reasons[i].append(f"{ids.name}: longer than {CUSTOMER_ID_LENGTH} characters")
        elif customer_id in first_place:
            reasons[i].append(f"{ids.name}: repeats the id on {first_place[customer_id]}")
        else:
            first_place[customer_id] = places[i]
    return text.fillna("").tolist()


def _column_values(name: str, series: pd.Series, reasons: dict[int, list[str]]) -> list[Any]:
    """The column's values for JSON (None for a blank), noting each value that breaks a rule."""
    column = KNOWN_COLUMNS.get(name)
    if column is None:
        return _as_given(series)
    if column.dtype == "category":
        values, bad, rule = _categories(series, column)
    elif column.dtype in ("int64", "float64"):
        values, bad, rule = _numbers(series, whole=column.dtype == "int64")
    else:
        return _as_given(series.astype("string"))
    for i in np.flatnonzero(bad):
        reasons[int(i)].append(f"{name}: {rule}")
    return values


def _as_given(series: pd.Series) -> list[Any]:
    values = series.to_numpy(dtype=object)
    values[_blank(values)] = None
    return values.tolist()


def _categories(series: pd.Series, column: Column) -> tuple[list[Any], np.ndarray, str]:
    values = series.to_numpy(dtype=object)
    blank = _blank(values)
    bad = ~blank & ~pd.Series(values).isin(column.categories).to_numpy()
    values[blank | bad] = None
    return values.tolist(), bad, f"not one of {', '.join(column.categories)}"


def _numbers(series: pd.Series, *, whole: bool) -> tuple[list[Any], np.ndarray, str]:
    numbers = _parse_numbers(series)
    valid = np.isfinite(numbers)
    if whole:
        magnitude = np.abs(numbers, where=valid, out=np.zeros_like(numbers))
        valid &= (magnitude <= LARGEST_WHOLE_NUMBER) & (np.mod(magnitude, 1) == 0)
    # Only the values that are not numbers are looked at one by one: blanks, or mistakes.
    raw = series.to_numpy(dtype=object)
    failed = np.flatnonzero(~valid)
    blank = np.zeros(len(numbers), dtype=bool)
    blank[failed] = [_missing_number(raw[i]) for i in failed]
    values = np.where(valid, numbers, 0).astype(np.int64 if whole else float).astype(object)
    values[~valid] = None
    rule = "not a whole number" if whole else "not a number"
    return values.tolist(), ~valid & ~blank, rule


def _parse_numbers(series: pd.Series) -> np.ndarray:
    """The values as floats, NaN where a value is blank or not a number."""
    if not pd.api.types.is_numeric_dtype(series):
        try:  # Arrow parses a clean column of text many times faster than pandas
            parsed = pc.cast(pa.array(series, from_pandas=True), pa.float64())
            return parsed.to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _missing_number(value: object) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return True
    return isinstance(value, str) and value.strip().lower() in MISSING_NUMBER_SPELLINGS | {""}


def _blank(values: np.ndarray) -> np.ndarray:
    """Missing, or text that is empty or only spaces."""
    blank = pd.isna(values)
    text = np.flatnonzero(~blank)
    blank[text] = [isinstance(v, str) and not v.strip() for v in values[text]]
    return blank
