"""Customer models: gradient-boosted trees over a customer's feature record.

One ``HistGradientBoostingClassifier`` per target reads the numbers as they are (it handles
blanks natively) and the categories through an ordinal encoding it treats as categorical.
``CustomerModel`` is the MLflow model logged for every customer task: it holds the feature
spec and one fitted pipeline per target, and turns probabilities into the task's answer.
"""

from __future__ import annotations

from collections.abc import Callable

import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from training.tabular_data import FeatureSpec


def build_tabular_pipeline(features: FeatureSpec, *, seed: int = 0) -> Pipeline:
    """An unfitted pipeline: ordinal-encode the categories, then boosted trees."""
    encoder = OrdinalEncoder(
        categories=[list(values) for values in features.categorical.values()],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
    )
    columns = ColumnTransformer(
        [
            ("numbers", "passthrough", list(features.numeric)),
            ("categories", encoder, list(features.categorical)),
        ],
        verbose_feature_names_out=False,
    )
    is_category = [False] * len(features.numeric) + [True] * len(features.categorical)
    trees = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.08,
        max_leaf_nodes=31,
        l2_regularization=1.0,
        categorical_features=is_category or None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=15,
        random_state=seed,
    )
    return Pipeline([("columns", columns), ("trees", trees)])


class CustomerModel(mlflow.pyfunc.PythonModel):
    """A customer task's fitted pipelines, one per target, and how to phrase their answer."""

    def __init__(
        self,
        *,
        task: str,
        features: FeatureSpec,
        pipelines: dict[str, Pipeline],
        answer: Callable[[dict[str, np.ndarray], list[str]], pd.DataFrame],
    ):
        self.task = task
        self.features = features
        self.pipelines = pipelines
        self.answer = answer

    def probabilities(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per target: P(positive) for a yes/no target, the class probabilities otherwise."""
        prepared = self.features.prepare(frame)
        result = {}
        for target, pipeline in self.pipelines.items():
            proba = pipeline.predict_proba(prepared)
            result[target] = proba[:, 1] if proba.shape[1] == 2 else proba
        return result

    def classes(self, target: str) -> list[str]:
        return [str(label) for label in self.pipelines[target].classes_]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        probabilities = self.probabilities(model_input)
        classes = self.classes(next(iter(self.pipelines)))
        return self.answer(probabilities, classes)
