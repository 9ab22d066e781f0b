"""Customer models fitted small for the scorer tests, the messy records they are asked about,
and the reference they are held to: the fitted pipelines themselves."""

import numpy as np
import pandas as pd
import pytest

from training.customers.data import FeatureSpec, infer_features
from training.customers.model import (
    CustomerModel,
    PipelineScorer,
    build_tabular_pipeline,
    typical_values,
)
from training.customers.schema import LABEL_COLUMNS
from training.customers.tasks import ANSWERS, CHANNEL_PREFERENCE
from training.customers.world import generate_customers

TOLERANCE = 1e-9


def fit_trees(task: str, features: FeatureSpec, frame: pd.DataFrame, labels: dict) -> CustomerModel:
    """A customer model with small boosted trees, one per target."""
    return fit_model(
        task,
        features,
        frame,
        labels,
        build=lambda: build_tabular_pipeline(features).set_params(trees__max_iter=25),
    )


def fit_model(
    task: str, features: FeatureSpec, frame: pd.DataFrame, labels: dict, *, build
) -> CustomerModel:
    """A customer model with one pipeline from ``build()`` per target."""
    prepared = features.prepare(frame)
    pipelines = {target: build().fit(prepared, y) for target, y in labels.items()}
    typical = typical_values(prepared, features)
    return CustomerModel(
        task=task, features=features, pipelines=pipelines, answer=ANSWERS[task], typical=typical
    )


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return generate_customers(3000, seed=3)


@pytest.fixture(scope="module")
def features(world) -> FeatureSpec:
    return infer_features(world, exclude={"customer_id", *LABEL_COLUMNS})


@pytest.fixture(scope="module")
def channels(world, features) -> CustomerModel:
    labels = {target: world[target].to_numpy() for target in CHANNEL_PREFERENCE.targets}
    return fit_trees("channel-preference", features, world, labels)


@pytest.fixture(scope="module")
def occupation(world, features) -> CustomerModel:
    return fit_trees("occupation", features, world, {"occupation": world["occupation"].to_numpy()})


@pytest.fixture(scope="module")
def messy(features) -> pd.DataFrame:
    """Unseen customers with blank numbers, blank and padded text, and unknown categories."""
    rng = np.random.default_rng(5)
    frame = generate_customers(300, seed=21)[list(features.columns)].astype(object)
    frame = frame.mask(rng.random(frame.shape) < 0.1, None)
    for column in features.categorical:
        for odd in ("", "  ", "火星", f" {features.categorical[column][0]} "):
            frame.loc[rng.random(len(frame)) < 0.04, column] = odd
    frame.loc[rng.random(len(frame)) < 0.05, "age"] = "42"  # numbers sent as text
    return frame


def json_like(frame: pd.DataFrame) -> list[dict]:
    """Records as a JSON body gives them: numbers as numbers, blanks as None."""
    return frame.assign(age=frame["age"].replace("42", 42)).to_dict("records")


def sklearn_scorer(*models: CustomerModel) -> PipelineScorer:
    """The reference: the fitted pipelines asked directly."""
    pipelines = {t: p for model in models for t, p in model.pipelines.items()}
    return PipelineScorer(models[0].features, pipelines)


def assert_same(ours: dict, theirs: dict) -> None:
    assert set(ours) == set(theirs)
    for target, expected in theirs.items():
        assert ours[target].shape == expected.shape
        np.testing.assert_allclose(ours[target], expected, rtol=0, atol=TOLERANCE)


def assert_same_in_any_batch(scorer, rows: pd.DataFrame) -> None:
    """Each row's probabilities are the same bits whether scored with all of ``rows`` or in
    frames of 1, 7 or 64 (the batch engines cut frames freely)."""
    whole = scorer.probabilities(rows)
    for size in (1, 7, 64):
        parts = [scorer.probabilities(rows.iloc[i : i + size]) for i in range(0, len(rows), size)]
        for target, probabilities in whole.items():
            batched = np.concatenate([part[target] for part in parts])
            np.testing.assert_array_equal(batched, probabilities, err_msg=f"{target}, {size}")
