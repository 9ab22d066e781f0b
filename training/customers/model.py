"""Customer models: one pipeline per target over a customer's feature record.

Every pipeline starts with the same column step (numbers as they are, categories as their
position in the spec). Then either a ``HistGradientBoostingClassifier`` reads that directly
(blanks handled natively, the categories as categorical), or a logistic regression reads the
categories one-hot and the numbers scaled, with a flag for each blank; training chooses per
target by cross-validation.
``CustomerModel`` is the MLflow model logged for every customer task: it holds the feature
spec and one fitted pipeline per target, and turns probabilities into the task's answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import mlflow.pyfunc
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)

from training.customers.data import FeatureSpec, signed_log
from training.customers.forest_scorer import UnsupportedPipelineError
from training.customers.risk_factors import risk_factors
from training.customers.scorer import CustomerScorer

logger = logging.getLogger(__name__)
Records = Sequence[Mapping[str, object]] | pd.DataFrame


def build_tabular_pipeline(features: FeatureSpec, *, seed: int = 0) -> Pipeline:
    """An unfitted pipeline: ordinal-encode the categories, then boosted trees."""
    return Pipeline([("columns", column_step(features)), ("trees", boosted_trees(features, seed))])


def build_linear_pipeline(features: FeatureSpec, *, c: float = 1.0) -> Pipeline:
    """An unfitted pipeline: the same column step, then a regularised logistic regression on
    one-hot categories and scaled numbers (blanks: the median, and a missing-value flag)."""
    return Pipeline([("columns", column_step(features)), *linear_steps(features, c=c)])


def column_step(features: FeatureSpec) -> ColumnTransformer:
    """Numbers as they are, categories as their position in the spec (NaN: blank or unseen)."""
    encoder = OrdinalEncoder(
        categories=[list(values) for values in features.categorical.values()],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
    )
    return ColumnTransformer(
        [
            ("numbers", "passthrough", list(features.numeric)),
            ("categories", encoder, list(features.categorical)),
        ],
        verbose_feature_names_out=False,
    )


def boosted_trees(features: FeatureSpec, seed: int = 0) -> HistGradientBoostingClassifier:
    is_category = [False] * len(features.numeric) + [True] * len(features.categorical)
    return HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.08,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        categorical_features=is_category or None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=15,
        random_state=seed,
    )


def linear_steps(features: FeatureSpec, *, c: float = 1.0) -> list[tuple[str, object]]:
    """The steps after the column step of a logistic-regression pipeline: each number scaled,
    with a flag when it was blank (read as the median), and again as its signed logarithm (a
    tenure or an amount often acts on that scale); each category one-hot."""
    numbers = np.arange(len(features.numeric))
    categories = np.arange(len(features.numeric), len(features.columns))

    def scaled(*steps) -> Pipeline:
        return Pipeline([*steps, ("scale", StandardScaler())])

    expand = ColumnTransformer(
        [
            ("numbers", scaled(("impute", _median_imputer(flags=True))), numbers),
            (
                "logs",
                scaled(
                    ("impute", _median_imputer(flags=False)),
                    ("log", FunctionTransformer(signed_log)),
                ),
                numbers,
            ),
            (
                "categories",
                OneHotEncoder(
                    categories=[
                        np.arange(len(values), dtype=float)
                        for values in features.categorical.values()
                    ],
                    handle_unknown="ignore",  # a blank or unseen category: no column set
                    sparse_output=False,
                ),
                categories,
            ),
        ],
        sparse_threshold=0,
    )
    return [("expand", expand), ("logistic", LogisticRegression(C=c, max_iter=2000))]


def _median_imputer(*, flags: bool) -> SimpleImputer:
    return SimpleImputer(strategy="median", add_indicator=flags, keep_empty_features=True)


class PipelineScorer:
    """Scores with the fitted sklearn pipelines themselves: the reference every faster scorer
    is checked against, and the fallback for pipelines the fast scorers cannot reproduce."""

    def __init__(self, features: FeatureSpec, pipelines: Mapping[str, Pipeline]):
        self.features = features
        self.pipelines = dict(pipelines)

    def encode(self, records: Records) -> np.ndarray:
        if isinstance(records, pd.DataFrame):
            # Every target's column step was fitted on the same rows and spec: use the first.
            columns = next(iter(self.pipelines.values())).named_steps["columns"]
            return np.asarray(columns.transform(self.features.prepare(records)), dtype=float)
        return self.features.encode_records(records)

    def probabilities(self, records: Records) -> dict[str, np.ndarray]:
        """Per target: P(positive) for a yes/no target, the class probabilities otherwise."""
        return self.encoded_probabilities(self.encode(records))

    def encoded_probabilities(self, encoded: np.ndarray, target: str | None = None) -> dict:
        """``probabilities`` of encoded rows, through every step after the column step."""
        result = {}
        for name in [target] if target else self.pipelines:
            proba = self.pipelines[name][1:].predict_proba(encoded)
            result[name] = proba[:, 1] if proba.shape[1] == 2 else proba
        return result

    def risk_factors(
        self, records: Records, *, typical: Mapping[str, object], target: str, top: int = 3
    ) -> list[list[dict]]:
        """Per record, the features that push a yes/no probability up the most."""
        return risk_factors(self, records, typical=typical, target=target, top=top)


def fastest_scorer(features: FeatureSpec, pipelines: Mapping[str, Pipeline]):
    """The fast scorers when they reproduce the pipelines exactly, else the pipelines."""
    try:
        return CustomerScorer(features, pipelines)
    except UnsupportedPipelineError as error:
        logger.warning("scoring with the sklearn pipelines: %s", error)
        return PipelineScorer(features, pipelines)


class CustomerModel(mlflow.pyfunc.PythonModel):
    """A customer task's fitted pipelines, one per target, and how to phrase their answer."""

    def __init__(
        self,
        *,
        task: str,
        features: FeatureSpec,
        pipelines: dict[str, Pipeline],
        answer: Callable[[dict[str, np.ndarray], list[str]], dict[str, list]],
        typical: dict[str, object] | None = None,
    ):
        self.task = task
        self.features = features
        self.pipelines = pipelines
        self.answer = answer
        self.typical = typical or {}  # per feature, the training median or most common value

    @property
    def scorer(self) -> CustomerScorer | PipelineScorer:
        """Built on first use (a fraction of a second) and never pickled with the model."""
        scorer = self.__dict__.get("_scorer")
        if scorer is None:
            scorer = self._scorer = fastest_scorer(self.features, self.pipelines)
        return scorer

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "_scorer"}

    def probabilities(self, records: Records) -> dict[str, np.ndarray]:
        """Per target: P(positive) for a yes/no target, the class probabilities otherwise."""
        return self.scorer.probabilities(records)

    def answer_records(
        self, records: list[dict], *, probabilities: dict[str, np.ndarray] | None = None
    ) -> list[dict]:
        """The task's answer for each record, as dicts; churn adds what pushed the risk up.

        ``probabilities``: this model's, already scored (by a scorer shared with other models).
        """
        if probabilities is None:
            probabilities = self.probabilities(records)
        columns = self.answer_columns(probabilities)
        answers = [dict(zip(columns, row)) for row in zip(*columns.values())]
        if self.task == "churn" and self.typical:
            for answer, factors in zip(answers, self.risk_factors(records)):
                answer["risk_factors"] = factors
        return answers

    def classes(self, target: str) -> list[str]:
        return [str(label) for label in self.pipelines[target].classes_]

    def answer_columns(self, probabilities: dict[str, np.ndarray]) -> dict[str, list]:
        """The task's answer to this model's probabilities, column by column."""
        return self.answer(probabilities, self.classes(next(iter(self.pipelines))))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame(self.answer_columns(self.probabilities(model_input)))

    def risk_factors(self, records: Records, *, top: int = 3) -> list[list[dict]]:
        """Per record, the features that push the yes/no probability up the most."""
        (target,) = self.pipelines
        return self.scorer.risk_factors(records, typical=self.typical, target=target, top=top)


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
