"""A model version's reference profile: what its training data and its answers looked like,
logged with the version as ``reference_profile.json`` for ``insight monitor drift``
(docs/monitoring.md, "Drift").

Every statistic is a ``reference``: the bin edges of a number (at the training data's
quantiles) or the categories of a label, with the share of the data in each, in the form
``training.common.drift`` compares; the monitor measures traffic with ``shares_like``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from mlflow.tracking import MlflowClient

from training.common.drift import bin_shares, category_shares, quantile_edges

PROFILE_ARTIFACT = "reference_profile.json"
PROFILE_FORMAT = 1


def numeric_reference(values: Iterable[float], edges: np.ndarray | None = None) -> dict:
    """Bins of a number (edges at its quantiles unless given), the share in each, then the
    share missing."""
    values = np.asarray(list(values), dtype=float)
    edges = quantile_edges(values) if edges is None else np.asarray(edges, dtype=float)
    shares = bin_shares(values, edges)
    return {"kind": "numeric", "edges": edges.tolist(), "shares": shares.tolist()}


def categorical_reference(values: Iterable[Any], categories: Iterable[str]) -> dict:
    """The share of each category, then the share of anything else (blank or unseen)."""
    categories = list(categories)
    shares = category_shares(list(values), categories)
    return {"kind": "categorical", "categories": categories, "shares": shares.tolist()}


def shares_like(reference: Mapping[str, Any], values: Iterable[Any]) -> np.ndarray:
    """The shares of ``values`` over the bins or categories of ``reference``."""
    if reference["kind"] == "numeric":
        return bin_shares(np.asarray(list(values), dtype=float), np.asarray(reference["edges"]))
    return category_shares(list(values), reference["categories"])


def answer_value(value: Any) -> str | float | None:
    """An answer's field as the monitor reads it from a service answer: a flag as "true" or
    "false", a label as it is, a number as a float; anything else (a list) is no output."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return None


def answer_references(columns: Mapping[str, Iterable[Any]]) -> dict[str, dict]:
    """Per field of a model's answers (column by column, as the service phrases them): bins
    of a number, shares of a label or flag. Fields that are lists (explanations) are left out."""
    references = {}
    for field, column in columns.items():
        values = [answer_value(value) for value in column]
        if values and all(isinstance(value, str) for value in values):
            references[field] = categorical_reference(values, sorted(set(values)))
        elif values and all(isinstance(value, float) for value in values):
            references[field] = numeric_reference(values)
    return references


def profile_document(model_name: str, kind: str, rows: Mapping[str, int], **sections) -> dict:
    """The whole profile: its format, model, kind (customer or text), row counts, sections."""
    head = {"format": PROFILE_FORMAT, "model": model_name, "kind": kind, "rows": dict(rows)}
    return head | sections


def log_reference_profile(run_id: str, profile: Mapping[str, Any]) -> None:
    """Store ``profile`` in the run of the registered version (the active tracking store)."""
    MlflowClient().log_dict(run_id, dict(profile), PROFILE_ARTIFACT)
