"""Reading labels the way users spell them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

POSITIVE_SPELLINGS = frozenset(
    {"1", "1.0", "yes", "y", "true", "t", "spam", "是", "垃圾", "垃圾信息", "垃圾短信", "正例"}
)
NEGATIVE_SPELLINGS = frozenset(
    {"0", "0.0", "no", "n", "false", "f", "ham", "否", "正常", "正常信息", "非垃圾", "负例"}
)


class DataError(ValueError):
    """Input data that cannot be used as asked: a missing column, unreadable labels."""


def clean_labels(values: pd.Series) -> pd.Series:
    """Labels as stripped strings; blanks become missing."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def binary_labels(values: pd.Series, *, column: str) -> pd.Series:
    """Map the usual yes/no spellings (1/0, true/false, spam/ham, 是/否 ...) to booleans."""
    spelled = clean_labels(values).str.lower()
    known = spelled.dropna()
    unknown = sorted(set(known) - POSITIVE_SPELLINGS - NEGATIVE_SPELLINGS)
    if unknown:
        raise DataError(
            f"column {column!r} must hold yes/no labels (1/0, true/false, spam/ham, 是/否); "
            f"found {_preview(unknown)}"
        )
    flags = [None if pd.isna(label) else label in POSITIVE_SPELLINGS for label in spelled]
    return pd.Series(flags, index=values.index, dtype=object)


def _preview(values: Iterable[str], limit: int = 5) -> str:
    shown = list(values)
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(repr(value) for value in shown[:limit]) + more
