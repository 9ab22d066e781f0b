"""Checking customer records against the customer schema before they are stored: a chunk of
rows of an imported file, or one record sent as JSON (``PUT /v1/customers/{id}``).

A column named in ``training.customers.schema.COLUMNS`` must hold values of its type (a number,
a whole number, one of its categories); any other column is kept as it is. No value may hold
a NUL character (PostgreSQL cannot store it). A row that breaks a rule is reported with its
line number and every reason, and left out: nothing is coerced (a whole number written ``1e3``
or ``30.0`` is refused, not stored as 1000 or 30). Reasons name the column and the rule, never
the value (it is customer data).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from app.core.errors import FieldError
from app.services.customer_ids import customer_id_problem
from training.customers.schema import COLUMNS, Column

KNOWN_COLUMNS = {column.name: column for column in COLUMNS}
# Spellings of "no value" a numeric column may carry besides an empty cell.
MISSING_NUMBER_SPELLINGS = frozenset({"na", "n/a", "nan", "null", "none"})
# Whole numbers from 2**53 on: a JSON reader (or a float) may not keep every digit.
WHOLE_NUMBER_LIMIT = 2**53
# A whole number written as text: digits, maybe a sign; RE2 (Arrow) and Python agree on it.
WHOLE_NUMBER_TEXT = r"^\s*[+-]?[0-9]+\s*$"
NUL_RULE = "holds a NUL character"
PLAIN_VALUE_RULE = "must be a number, text, true or false, or null"
# What no stored text may hold: NUL (PostgreSQL refuses it), half a surrogate pair (no UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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
    first_place: dict[str, str] = {}
    for i, customer_id in enumerate(text):
        if blank[i]:
            reasons[i].append(f"{ids.name}: blank")
        elif problem := customer_id_problem(customer_id):
            reasons[i].append(f"{ids.name}: {problem}")
        elif customer_id in first_place:
            reasons[i].append(f"{ids.name}: repeats the id on {first_place[customer_id]}")
        else:
            first_place[customer_id] = places[i]
    return text.fillna("").tolist()


def _column_values(name: str, series: pd.Series, reasons: dict[int, list[str]]) -> list[Any]:
    """The column's values for JSON (None for a blank), noting each value that breaks a rule."""
    column = KNOWN_COLUMNS.get(name)
    if column is not None and column.dtype == "category":
        values, bad, rule = _categories(series, column)
    elif column is not None and column.dtype in ("int64", "float64"):
        values, bad, rule = _numbers(series, whole=column.dtype == "int64")
    else:  # kept as given (text, for a column of the schema's text type)
        given = series if column is None else series.astype("string")
        values, bad, rule = _as_given(given), _holds_nul(given), NUL_RULE
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


def _holds_nul(series: pd.Series) -> np.ndarray:
    """True where a value is text holding a NUL character."""
    if pd.api.types.is_numeric_dtype(series):
        return np.zeros(len(series), dtype=bool)
    text = _as_text(series)
    if text is not None:
        return pc.match_substring(text, "\x00").fill_null(False).to_numpy(zero_copy_only=False)
    values = series.to_numpy(dtype=object)
    return np.fromiter((isinstance(v, str) and "\x00" in v for v in values), bool, len(values))


def _as_text(series: pd.Series) -> pa.Array | None:
    """The column as Arrow text, or None when it holds values that are not text."""
    try:
        return pa.array(series, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _numbers(series: pd.Series, *, whole: bool) -> tuple[list[Any], np.ndarray, str]:
    numbers = _parse_numbers(series)
    valid = np.isfinite(numbers)
    if whole:
        magnitude = np.abs(numbers, where=valid, out=np.zeros_like(numbers))
        valid &= (magnitude < WHOLE_NUMBER_LIMIT) & (np.mod(magnitude, 1) == 0)
        valid &= _written_whole(series)
    values = np.where(valid, numbers, 0).astype(np.int64 if whole else float).astype(object)
    values[~valid] = None
    rule = "not a whole number" if whole else "not a number"
    return values.tolist(), _not_blank(series, ~valid), rule


def number_column(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as floats (NaN where blank) and where a value is neither a finite
    number nor blank: the batch scorer's rule for a model's numeric feature."""
    numbers = _parse_numbers(series)
    failed = ~np.isfinite(numbers)
    return np.where(failed, np.nan, numbers), _not_blank(series, failed)


def _not_blank(series: pd.Series, failed: np.ndarray) -> np.ndarray:
    """Of the ``failed`` values, those that are not one of the spellings of a blank: only
    these are looked at one by one (blanks, or mistakes)."""
    raw = series.to_numpy(dtype=object)
    where = np.flatnonzero(failed)
    bad = np.zeros(len(raw), dtype=bool)
    bad[where] = [not _missing_number(raw[i]) for i in where]
    return bad


def _written_whole(series: pd.Series) -> np.ndarray:
    """False where a value is text not written as a whole number (``1e3``, ``30.0``): the
    text's number may be whole, but reading it so would be a guess."""
    if pd.api.types.is_numeric_dtype(series):
        return np.ones(len(series), dtype=bool)
    text = _as_text(series)
    if text is not None:
        written = pc.match_substring_regex(text, WHOLE_NUMBER_TEXT)
        return written.fill_null(True).to_numpy(zero_copy_only=False)
    values = series.to_numpy(dtype=object)
    whole = re.compile(WHOLE_NUMBER_TEXT)
    return np.fromiter((not isinstance(v, str) or bool(whole.match(v)) for v in values), bool)


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


def record_problems(record: Mapping[str, Any], *, field: str = "features") -> list[FieldError]:
    """What breaks the schema's rules in one record sent as JSON: the import's rules, for
    values JSON has typed already (``null`` is a blank); named ``<field>.<column>``."""
    if not record:
        return [FieldError(field, "must hold at least one feature")]
    problems = []
    for name, value in record.items():
        if rule := _text_problem(name):  # a name that cannot be stored is not quoted back
            problems.append(FieldError(field, f"a feature's name {rule}"))
        elif rule := _value_problem(KNOWN_COLUMNS.get(name), value):
            problems.append(FieldError(f"{field}.{name}", rule))
    return problems


def _value_problem(column: Column | None, value: Any) -> str | None:
    if isinstance(value, list | Mapping):  # a record is a row of a table
        return PLAIN_VALUE_RULE
    if rule := _text_problem(value):
        return rule
    if column is None or value is None:
        return None
    if column.dtype == "category" and value not in column.categories:
        return f"not one of {', '.join(column.categories)}"
    if column.dtype == "int64" and not _whole_number(value):
        return "not a whole number"
    if column.dtype == "float64" and not _number(value):
        return "not a number"
    return None


def _text_problem(value: Any) -> str | None:
    """Why ``value``, when it is text, cannot be stored, or None."""
    found = _UNSTORABLE.search(value) if isinstance(value, str) else None
    if found is None:
        return None
    return NUL_RULE if found.group() == "\x00" else "holds text that is not valid Unicode"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole_number(value: Any) -> bool:
    # JSON has one number type: 30.0 is a whole number as much as 30 is.
    return _number(value) and value == int(value) and abs(value) < WHOLE_NUMBER_LIMIT
