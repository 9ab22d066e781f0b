"""Score customers with the logistic-regression targets of customer models, in numpy.

A logistic-regression pipeline (``training.customers.model.build_linear_pipeline``) is a linear
function of the encoded row, and of each number's signed log, once its steps are folded
together: the median imputation, the missing-value flags and the scaling become weights on a
number, on its log and on its being blank, and a one-hot category becomes a table of weights
over the category's codes. ``LinearScorer`` keeps
only those weights, so a customer costs a few small matrix products instead of sklearn's
per-call work in three transformers; it checks itself against sklearn on probe rows before
it is returned, as ``ForestScorer`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from training.customers.data import FeatureSpec, RecordEncoder, signed_log
from training.customers.forest_scorer import (
    UnsupportedPipelineError,
    check_column_step,
    refuse_if_not_sklearns,
)

PROBE_ROWS = 64


@dataclass(frozen=True)
class _Weights:
    """One target's logistic regression as weights on the encoded row."""

    on_number: np.ndarray  # (numbers x scores): times the number (0 when blank)
    on_log: np.ndarray  # (numbers x scores): times its signed log (0 when blank)
    on_blank: np.ndarray  # (numbers x scores): added when the number is blank
    on_category: list[np.ndarray]  # per category feature: (codes + 1 x scores), last row 0
    constant: np.ndarray  # (scores,)
    classes: list[str]


class LinearScorer:
    """The logistic-regression targets of customer models sharing one feature spec."""

    def __init__(self, features: FeatureSpec, pipelines: Mapping[str, Pipeline]):
        if not pipelines:
            raise UnsupportedPipelineError("no pipelines to score")
        self.features = features
        self.encoder = RecordEncoder(features)
        self._weights = {target: _fold(p, features) for target, p in pipelines.items()}
        # Every target side by side: one set of matrix products scores them all.
        self._all = _side_by_side(list(self._weights.values()))
        self._scores: dict[str, slice] = {}
        start = 0
        for target, weights in self._weights.items():
            self._scores[target] = slice(start, start + len(weights.constant))
            start += len(weights.constant)
        self._check_against_sklearn(pipelines)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self._weights)

    def classes(self, target: str) -> list[str]:
        return list(self._weights[target].classes)

    def encode(self, records) -> np.ndarray:
        return self.encoder.encode(records)

    def probabilities(self, records) -> dict[str, np.ndarray]:
        return self.encoded_probabilities(self.encode(records))

    def encoded_probabilities(self, encoded: np.ndarray, target: str | None = None) -> dict:
        """Per target: P(positive) for a yes/no target, the (rows x classes) matrix otherwise."""
        n_numbers = len(self.features.numeric)
        numbers = encoded[:, :n_numbers]
        blank = np.isnan(numbers)
        filled = np.where(blank, 0.0, numbers)
        logs = signed_log(filled)
        sizes = [len(values) for values in self.features.categorical.values()]
        slots = [  # a blank or unseen code reads the last row of a table: no weight
            np.where(np.isnan(codes), size, codes).astype(np.intp)
            for codes, size in zip(encoded[:, n_numbers:].T, sizes)
        ]
        weights = self._all
        decision = (
            _times(filled, weights.on_number)
            + _times(logs, weights.on_log)
            + _times(blank, weights.on_blank)
            + weights.constant
        )
        for slot, table in zip(slots, weights.on_category):
            decision += table[slot]
        result = {}
        for name in [target] if target else self._weights:
            scores = decision[:, self._scores[name]]
            if len(self._weights[name].classes) == 2:
                result[name] = expit(scores[:, 0])
            else:
                result[name] = softmax(scores, axis=1)
        return result

    def _check_against_sklearn(self, pipelines: Mapping[str, Pipeline]) -> None:
        """Score probe rows both ways; refuse to exist when any probability differs."""
        frame = self.features.prepare(_probe_frame(self.features, PROBE_ROWS))
        refuse_if_not_sklearns(self.probabilities(frame), pipelines, frame, "scored")


def _side_by_side(targets: list[_Weights]) -> _Weights:
    """Several targets' weights as one: their scores' columns side by side."""
    return _Weights(
        on_number=np.hstack([w.on_number for w in targets]),
        on_log=np.hstack([w.on_log for w in targets]),
        on_blank=np.hstack([w.on_blank for w in targets]),
        on_category=[np.hstack(tables) for tables in zip(*(w.on_category for w in targets))],
        constant=np.concatenate([w.constant for w in targets]),
        classes=[],
    )


def is_linear_pipeline(pipeline: Pipeline) -> bool:
    steps = getattr(pipeline, "steps", [])
    return len(steps) == 3 and isinstance(steps[-1][1], LogisticRegression)


def _fold(pipeline: Pipeline, features: FeatureSpec) -> _Weights:
    """The pipeline's steps folded into weights on the encoded row."""
    columns, expand, logistic = _checked_steps(pipeline, features)
    parts = _expand_parts(expand, features)
    n_numbers = len(features.numeric)
    coef = logistic.coef_.T  # (expanded columns x scores)
    zeros = np.zeros((n_numbers, coef.shape[1]))
    on_number, on_log, on_blank = zeros, zeros.copy(), zeros.copy()
    constant, start = logistic.intercept_.copy(), 0
    if parts.numbers is not None:
        impute, scale = parts.numbers.named_steps["impute"], parts.numbers.named_steps["scale"]
        flagged = impute.indicator_.features_
        width = n_numbers + len(flagged)
        per_column = coef[:width] / scale.scale_[:, None]  # weight on the unscaled column
        constant -= scale.mean_ @ per_column
        on_number = per_column[:n_numbers]
        # A blank number reads as the median, and raises its flag.
        on_blank += np.nan_to_num(impute.statistics_)[:, None] * on_number
        on_blank[flagged] += per_column[n_numbers:width]
        start = width
        impute, scale = parts.logs.named_steps["impute"], parts.logs.named_steps["scale"]
        on_log = coef[start : start + n_numbers] / scale.scale_[:, None]
        constant -= scale.mean_ @ on_log
        on_blank += signed_log(np.nan_to_num(impute.statistics_))[:, None] * on_log
        start += n_numbers
    on_category = []
    for values in parts.categories.categories_ if parts.categories is not None else []:
        table = np.zeros((len(values) + 1, coef.shape[1]))
        table[values.astype(np.intp)] = coef[start : start + len(values)]
        on_category.append(table)
        start += len(values)
    return _Weights(
        on_number=on_number,
        on_log=on_log,
        on_blank=on_blank,
        on_category=on_category,
        constant=constant,
        classes=[str(label) for label in logistic.classes_],
    )


def _checked_steps(
    pipeline: Pipeline, features: FeatureSpec
) -> tuple[ColumnTransformer, ColumnTransformer, LogisticRegression]:
    if not is_linear_pipeline(pipeline):
        raise UnsupportedPipelineError("expected Pipeline([columns, expand, LogisticRegression])")
    (_, columns), (_, expand), (_, logistic) = pipeline.steps
    check_column_step(columns, features)
    if not isinstance(expand, ColumnTransformer) or not hasattr(expand, "transformers_"):
        raise UnsupportedPipelineError("the second step must be a fitted ColumnTransformer")
    if logistic.coef_.shape[0] != (1 if len(logistic.classes_) == 2 else len(logistic.classes_)):
        raise UnsupportedPipelineError("a one-vs-rest logistic regression")
    return columns, expand, logistic


@dataclass(frozen=True)
class _ExpandParts:
    numbers: Pipeline | None  # impute (median, with flags), scale
    logs: Pipeline | None  # impute (median), signed log, scale
    categories: OneHotEncoder | None


def _expand_parts(expand: ColumnTransformer, features: FeatureSpec) -> _ExpandParts:
    """The expand step's parts, once they are known to read what the scorer assumes: every
    number scaled with its flag, every number's signed log scaled, every category one-hot."""
    parts = {name: (step, list(selected)) for name, step, selected in expand.transformers_}
    n_numbers = len(features.numeric)
    expected = {
        "numbers": list(range(n_numbers)),
        "logs": list(range(n_numbers)),
        "categories": list(range(n_numbers, len(features.columns))),
    }
    if list(parts) != list(expected) or any(
        parts[name][1] != selected for name, selected in expected.items()
    ):
        raise UnsupportedPipelineError("the expand step reads other columns, or in another order")
    # A part with no columns is never fitted.
    numbers, logs, categories = (parts[name][0] if expected[name] else None for name in expected)
    if numbers is not None and not (
        _steps_are(numbers, [SimpleImputer, StandardScaler])
        and _steps_are(logs, [SimpleImputer, FunctionTransformer, StandardScaler])
        and logs.named_steps["log"].func is signed_log
        and all(
            step.named_steps["impute"].keep_empty_features
            and step.named_steps["impute"].strategy == "median"
            for step in (numbers, logs)
        )
        and numbers.named_steps["impute"].add_indicator
        and not logs.named_steps["impute"].add_indicator
    ):
        raise UnsupportedPipelineError("the numbers must be imputed, logged and scaled as built")
    if categories is None:
        return _ExpandParts(numbers, logs, None)
    if not isinstance(categories, OneHotEncoder) or categories.drop_idx_ is not None:
        raise UnsupportedPipelineError("the categories must be one-hot, none dropped")
    if categories.handle_unknown != "ignore" or any(
        list(values) != list(range(len(values))) for values in categories.categories_
    ):
        raise UnsupportedPipelineError("the one-hot encoder must cover every code of the spec")
    return _ExpandParts(numbers, logs, categories)


def _steps_are(pipeline: object, kinds: list[type]) -> bool:
    steps = getattr(pipeline, "steps", None)
    return steps is not None and [type(step) for _, step in steps] == kinds


def _probe_frame(features: FeatureSpec, n: int):
    """Rows with numbers of every size, blanks, and blank and unseen categories."""
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = {}
    for name in features.numeric:
        values = rng.normal(0, 100, n)
        values[rng.random(n) < 0.2] = np.nan
        columns[name] = values
    for name, values in features.categorical.items():
        options = [*values, None, "", "unseen category"]
        columns[name] = [options[i] for i in rng.integers(len(options), size=n)]
    return pd.DataFrame(columns)


def _times(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``rows @ weights``, each row's sums taken the same way whatever the other rows: a
    matrix product's kernel depends on the matrix's shape, so a customer's score would change
    in the last bits with the batch it came in (and the batch engines cut batches freely)."""
    return (rows[:, :, None] * weights[None, :, :]).sum(axis=1)
