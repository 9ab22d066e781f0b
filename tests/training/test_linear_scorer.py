"""The logistic-regression scorer answers exactly as its fitted pipelines do, alone and beside
boosted trees in one scorer, or refuses to be built."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import OneHotEncoder

from tests.training.conftest import (
    assert_same,
    assert_same_in_any_batch,
    fit_model,
    json_like,
    sklearn_scorer,
)
from training.customers.forest_scorer import UnsupportedPipelineError
from training.customers.linear_scorer import LinearScorer
from training.customers.model import (
    CustomerModel,
    PipelineScorer,
    build_linear_pipeline,
    build_tabular_pipeline,
    typical_values,
)
from training.customers.risk_factors import risk_factors
from training.customers.scorer import CustomerScorer
from training.customers.tasks import ANSWERS, CHANNEL_PREFERENCE


def _linear(task, features, frame, labels, **options) -> CustomerModel:
    return fit_model(
        task, features, frame, labels, build=lambda: build_linear_pipeline(features, **options)
    )


@pytest.fixture(scope="module")
def blanked(world, features) -> pd.DataFrame:
    """The world with a tenth of its numbers blank, so missing-value flags are learned."""
    rng = np.random.default_rng(4)
    frame = world.copy()
    for column in features.numeric[:6]:
        frame.loc[rng.random(len(frame)) < 0.1, column] = np.nan
    return frame


@pytest.fixture(scope="module")
def linear_channels(blanked, features) -> CustomerModel:
    labels = {target: blanked[target].to_numpy() for target in CHANNEL_PREFERENCE.targets}
    return _linear("channel-preference", features, blanked, labels)


@pytest.fixture(scope="module")
def linear_occupation(blanked, features) -> CustomerModel:
    return _linear("occupation", features, blanked, {"occupation": blanked["occupation"]}, c=0.1)


def test_yes_no_and_multiclass_targets_match_the_pipelines(
    linear_channels, linear_occupation, messy
):
    for model in (linear_channels, linear_occupation):
        scorer = LinearScorer(model.features, model.pipelines)
        assert_same(scorer.probabilities(messy), sklearn_scorer(model).probabilities(messy))
        assert_same(
            scorer.probabilities(json_like(messy)), sklearn_scorer(model).probabilities(messy)
        )
    assert isinstance(linear_occupation.scorer, CustomerScorer)


def test_a_rows_answer_does_not_depend_on_the_other_rows_of_its_batch(
    linear_channels, linear_occupation, messy
):
    scorer = CustomerScorer.from_models(linear_channels, linear_occupation)
    assert_same_in_any_batch(scorer, messy.head(120))


def test_trees_and_regressions_share_one_scorer_and_one_pass(channels, linear_occupation, messy):
    scorer = CustomerScorer.from_models(channels, linear_occupation)
    ours = scorer.probabilities(messy)
    assert list(ours) == list(scorer.targets)
    assert_same(ours, sklearn_scorer(channels, linear_occupation).probabilities(messy))
    assert scorer.classes("occupation") == linear_occupation.classes("occupation")


def test_risk_factors_of_a_regression_are_the_pipelines(linear_channels, messy):
    records = json_like(messy.head(12))
    target = "relies_on_app"
    pipelines = {target: linear_channels.pipelines[target]}
    typical = linear_channels.typical
    ours = CustomerScorer(linear_channels.features, pipelines).risk_factors(
        records, typical=typical, target=target
    )
    theirs = risk_factors(
        PipelineScorer(linear_channels.features, pipelines),
        records,
        typical=typical,
        target=target,
    )
    assert ours == theirs and any(ours)


def test_churn_answers_risk_factors_whichever_family_won(world, features):
    prepared = features.prepare(world)
    answers = {}
    for family, build in (("trees", build_tabular_pipeline), ("logistic", build_linear_pipeline)):
        model = CustomerModel(
            task="churn",
            features=features,
            pipelines={"churned": build(features).fit(prepared, world["churned"])},
            answer=ANSWERS["churn"],
            typical=typical_values(prepared, features),
        )
        answers[family] = model.answer_records(world.head(30).to_dict("records"))
    for family, rows in answers.items():
        assert all("risk_factors" in row for row in rows), family
        assert any(row["risk_factors"] for row in rows), family


def test_a_regression_it_cannot_fold_is_refused(linear_channels, blanked, features):
    pipeline = build_linear_pipeline(features)
    pipeline.named_steps["expand"].set_params(
        categories=OneHotEncoder(drop="first", handle_unknown="ignore", sparse_output=False)
    )
    pipeline.fit(features.prepare(blanked), blanked["relies_on_app"])
    with pytest.raises(UnsupportedPipelineError, match="one-hot, none dropped"):
        LinearScorer(features, {"relies_on_app": pipeline})
    model = CustomerModel(
        task="churn", features=features, pipelines={"x": pipeline}, answer=ANSWERS["churn"]
    )
    assert isinstance(model.scorer, PipelineScorer)  # still answers, through sklearn
