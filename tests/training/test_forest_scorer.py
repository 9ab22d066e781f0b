"""The flattened forest answers exactly as the fitted pipelines do, or refuses to be built."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from tests.training.conftest import (
    assert_same,
    assert_same_in_any_batch,
    fit_trees,
    json_like,
    sklearn_scorer,
)
from training.customers.data import FeatureSpec, infer_features
from training.customers.forest_scorer import ForestScorer, UnsupportedPipelineError
from training.customers.model import (
    CustomerModel,
    PipelineScorer,
)
from training.customers.scorer import CustomerScorer
from training.customers.tasks import ANSWERS


def test_yes_no_targets_match_the_pipelines(channels, messy):
    scorer = CustomerScorer.from_models(channels)
    assert_same(scorer.probabilities(messy), sklearn_scorer(channels).probabilities(messy))


def test_multiclass_matches_the_pipelines_class_by_class(occupation, messy):
    scorer = CustomerScorer.from_models(occupation)
    ours = scorer.probabilities(messy)
    assert_same(ours, sklearn_scorer(occupation).probabilities(messy))
    assert scorer.classes("occupation") == occupation.classes("occupation")
    np.testing.assert_allclose(ours["occupation"].sum(axis=1), 1.0)


def test_each_rows_answer_is_sklearns_to_the_last_bit_whatever_batch_it_is_in(
    channels, occupation, messy
):
    scorer = CustomerScorer.from_models(channels, occupation)
    whole = scorer.probabilities(messy)
    expected = {
        **sklearn_scorer(channels).probabilities(messy),
        **sklearn_scorer(occupation).probabilities(messy),
    }
    for target, probabilities in whole.items():
        np.testing.assert_array_equal(probabilities, expected[target], err_msg=target)
    assert_same_in_any_batch(scorer, messy.head(120))


def test_one_record_as_a_dict_matches_the_frame(channels, messy):
    scorer = CustomerScorer.from_models(channels)
    records = json_like(messy.head(40))
    expected = sklearn_scorer(channels).probabilities(pd.DataFrame(records))
    for i, record in enumerate(records[:8]):
        one = scorer.probabilities([record])
        assert_same(one, {target: p[i : i + 1] for target, p in expected.items()})
        assert_same(scorer.probabilities(pd.DataFrame([record])), one)
    assert_same(scorer.probabilities(records), expected)
    assert scorer.probabilities([])["relies_on_app"].shape == (0,)


def test_one_scorer_for_several_models_matches_each_model(channels, occupation, messy):
    scorer = CustomerScorer.from_models(channels, occupation)
    ours = scorer.probabilities(messy)
    assert set(scorer.targets) == {*channels.pipelines, *occupation.pipelines}
    assert_same(
        {t: ours[t] for t in channels.pipelines}, sklearn_scorer(channels).probabilities(messy)
    )
    assert_same(
        {t: ours[t] for t in occupation.pipelines}, sklearn_scorer(occupation).probabilities(messy)
    )


def test_a_users_table_with_blank_categories_and_one_the_trees_never_saw():
    rng = np.random.default_rng(8)
    n = 1500
    plan = rng.choice(["畅享", "基础", "校园", None], n, p=[0.3, 0.3, 0.25, 0.15])
    fee = np.where(rng.random(n) < 0.2, np.nan, rng.gamma(3, 30, n))
    leaves = (plan == "校园") | (pd.isna(plan) & (rng.random(n) < 0.6)) | (fee > 120)
    table = pd.DataFrame(
        {
            "客户编号": [f"U{i}" for i in range(n)],
            "套餐": plan,
            "月费": fee,
            "城市": rng.choice(["北京", "上海", "成都"], n),
            "流失": np.where(leaves ^ (rng.random(n) < 0.1), "是", "否"),
        }
    )
    features = infer_features(table, exclude={"客户编号", "流失"})
    trained = table["城市"] != "上海"  # first in the spec, never seen by these trees
    model = fit_trees(
        "churn", features, table[trained], {"流失": table["流失"][trained].to_numpy()}
    )
    scorer = CustomerScorer.from_models(model)
    probe = table.sample(300, random_state=1).reset_index(drop=True)
    assert_same(scorer.probabilities(probe), sklearn_scorer(model).probabilities(probe))


def test_risk_factors_are_the_models(channels, messy):
    records = json_like(messy.head(12))
    model = CustomerModel(
        task="churn",
        features=channels.features,
        pipelines={"relies_on_app": channels.pipelines["relies_on_app"]},
        answer=ANSWERS["churn"],
        typical=channels.typical,
    )
    scorer = CustomerScorer.from_models(model)
    ours = scorer.risk_factors(records, typical=model.typical, target="relies_on_app")
    theirs = sklearn_scorer(model).risk_factors(
        records, typical=model.typical, target="relies_on_app"
    )
    assert [[f["feature"] for f in row] for row in ours] == [
        [f["feature"] for f in row] for row in theirs
    ]
    for mine, expected in zip(ours, theirs):
        for a, b in zip(mine, expected):
            assert a["push"] == pytest.approx(b["push"], abs=1e-4)
    assert any(ours) and all(f["push"] > 0 for row in ours for f in row)


def test_a_pipeline_it_cannot_reproduce_is_refused(channels):
    columns = channels.pipelines["relies_on_app"].named_steps["columns"]
    logistic = Pipeline([("columns", columns), ("trees", LogisticRegression())])
    with pytest.raises(UnsupportedPipelineError, match="unsupported final step"):
        ForestScorer(channels.features, {"relies_on_app": logistic})
    other = FeatureSpec(channels.features.numeric[1:], channels.features.categorical)
    with pytest.raises(UnsupportedPipelineError, match="differs from the feature spec"):
        ForestScorer(other, channels.pipelines)


def test_one_row_with_a_blank_category_scores_both_ways(channels, messy):
    row = messy.head(1).copy()
    row[next(iter(channels.features.categorical))] = None  # a wholly blank column
    assert_same(
        CustomerScorer.from_models(channels).probabilities(row),
        sklearn_scorer(channels).probabilities(row),
    )


def test_a_model_scores_with_the_forest_and_falls_back_to_its_pipelines(channels):
    assert isinstance(channels.scorer, CustomerScorer)
    assert "_scorer" not in pickle.loads(pickle.dumps(channels)).__dict__
    columns = channels.pipelines["relies_on_app"].named_steps["columns"]
    logistic = Pipeline([("columns", columns), ("trees", LogisticRegression())])
    model = CustomerModel(
        task="churn", features=channels.features, pipelines={"x": logistic}, answer=ANSWERS["churn"]
    )
    assert isinstance(model.scorer, PipelineScorer)
