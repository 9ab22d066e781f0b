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
        typical: dict[str, object] | None = None,
    ):
        self.task = task
        self.features = features
        self.pipelines = pipelines
        self.answer = answer
        self.typical = typical or {}  # per feature, the training median or most common value

    def probabilities(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per target: P(positive) for a yes/no target, the class probabilities otherwise."""
        prepared = self.features.prepare(frame)
        # Every target's column step was fitted on the same rows and spec, so they agree:
        # encode once, then ask each target's trees (a ColumnTransformer call costs ~5 ms).
        encoded = next(iter(self.pipelines.values())).named_steps["columns"].transform(prepared)
        return self._tree_probabilities(np.asarray(encoded, dtype=float))

    def _tree_probabilities(self, encoded: np.ndarray) -> dict[str, np.ndarray]:
        result = {}
        for target, pipeline in self.pipelines.items():
            proba = pipeline.named_steps["trees"].predict_proba(encoded)
            result[target] = proba[:, 1] if proba.shape[1] == 2 else proba
        return result

    def answer_records(self, records: list[dict]) -> list[dict]:
        """The task's answer for each record, as dicts; churn adds what pushed the risk up."""
        encoded = self.features.encode_records(records)
        probabilities = self._tree_probabilities(encoded)
        classes = self.classes(next(iter(self.pipelines)))
        answers = self.answer(probabilities, classes).to_dict(orient="records")
        if self.task == "churn" and getattr(self, "typical", None):
            for answer, factors in zip(answers, self._risk_factors(encoded, probabilities)):
                answer["risk_factors"] = factors
        return answers

    def classes(self, target: str) -> list[str]:
        return [str(label) for label in self.pipelines[target].classes_]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        probabilities = self.probabilities(model_input)
        classes = self.classes(next(iter(self.pipelines)))
        return self.answer(probabilities, classes)

    def risk_factors(self, records: list[dict], *, top: int = 3) -> list[list[dict]]:
        """Per record, the features that push a yes/no probability up the most.

        A feature's push is how far the probability falls when that feature alone takes its
        typical training value; only features that push up are listed, strongest first.
        """
        encoded = self.features.encode_records(records)
        return self._risk_factors(encoded, self._tree_probabilities(encoded), top=top)

    def _risk_factors(self, encoded, probabilities, *, top: int = 3) -> list[list[dict]]:
        (target,) = self.pipelines
        typical = self.features.encode_records([self.typical])[0]
        columns = [i for i, name in enumerate(self.features.columns) if name in self.typical]
        if not columns:
            return [[] for _ in range(len(encoded))]
        variants = np.repeat(encoded, len(columns), axis=0)
        for offset, column in enumerate(columns):
            variants[offset :: len(columns), column] = typical[column]
        changed = self._tree_probabilities(variants)[target].reshape(len(encoded), len(columns))
        pushes = probabilities[target][:, None] - changed
        names = [self.features.columns[i] for i in columns]
        return [_strongest(row, names, top) for row in pushes]


def _strongest(pushes: np.ndarray, columns: list[str], top: int) -> list[dict]:
    order = np.argsort(pushes)[::-1][:top]
    return [
        {"feature": columns[i], "push": round(float(pushes[i]), 4)} for i in order if pushes[i] > 0
    ]


def typical_values(frame: pd.DataFrame, features: FeatureSpec) -> dict[str, object]:
    """Median of each numeric feature and most common value of each category."""
    typical: dict[str, object] = {}
    for column in features.numeric:
        median = frame[column].median()
        if pd.notna(median):
            typical[column] = float(median)
    for column in features.categorical:
        common = frame[column].mode()
        if not common.empty:
            typical[column] = common.iloc[0]
    return typical
