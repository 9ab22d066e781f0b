"""A customer model's reference profile (``training.common.profile``), and the same features
read from any records: each feature as the model reads it (``RecordEncoder``: numbers as
floats, categories among those seen in training, blank or unseen as missing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.common.profile import (
    answer_references,
    categorical_reference,
    numeric_reference,
    profile_document,
)
from training.customers.data import FeatureSpec, RecordEncoder
from training.customers.model import CustomerModel


def feature_values(
    features: FeatureSpec, records: Sequence[Mapping[str, Any]] | pd.DataFrame
) -> dict[str, np.ndarray]:
    """Per feature, its values in ``records``: floats (NaN when blank) for a number, the
    category (None when blank or unseen) for a category."""
    encoded = RecordEncoder(features).encode(records)
    values: dict[str, np.ndarray] = {
        name: encoded[:, column] for column, name in enumerate(features.numeric)
    }
    for column, (name, categories) in enumerate(features.categorical.items(), len(values)):
        names = np.array([*categories, None], dtype=object)
        codes = encoded[:, column]
        values[name] = names[np.where(np.isnan(codes), len(categories), codes).astype(int)]
    return values


def profile_features(profile: Mapping[str, Any]) -> FeatureSpec:
    """The features a profile describes, as the spec ``feature_values`` reads."""
    described = profile["features"]
    return FeatureSpec(
        numeric=tuple(n for n, r in described.items() if r["kind"] == "numeric"),
        categorical={
            n: tuple(r["categories"]) for n, r in described.items() if r["kind"] == "categorical"
        },
    )


def customer_profile(
    model_name: str,
    model: CustomerModel,
    *,
    training: pd.DataFrame,
    held_out: pd.DataFrame,
) -> dict:
    """Bins and category shares of each feature in the training split; the model's answers
    on the held-out split."""
    features = model.features
    references = {}
    for name, values in feature_values(features, training).items():
        if name in features.categorical:
            references[name] = categorical_reference(values, features.categorical[name])
        else:
            references[name] = numeric_reference(values)
    answers = answer_references(model.answer_columns(model.probabilities(held_out)))
    rows = {"training": len(training), "held_out": len(held_out)}
    return profile_document(model_name, "customer", rows, features=references, answers=answers)
