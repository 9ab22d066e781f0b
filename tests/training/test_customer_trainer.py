"""The four customer trainers on a small built-in world, and one on a user's own table."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from model_registry.store import MlflowStore
from training.common.labels import DataError
from training.customers.data import infer_features
from training.customers.scorer import CustomerScorer
from training.customers.tasks import (
    CHANNEL_LEVELS,
    CUSTOMER_TASKS,
    channel_level,
    channel_levels,
    churn_risk_level,
    churn_risk_levels,
)
from training.customers.trainer import customer_data, train_customer_model
from training.customers.world import generate_customers


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_customers(3000, seed=11)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, customers):
    store = MlflowStore.embedded(tmp_path_factory.mktemp("customer-models"))
    trained = {}
    for name, task in CUSTOMER_TASKS.items():
        data = customer_data(
            customers, task=task, targets=task.targets, id_column="customer_id", source="test world"
        )
        # Selection on every target of one model (occupation's search is the slow one).
        candidates = "all" if name == "channel-preference" else "default"
        trained[name] = train_customer_model(task, data, store=store, candidates=candidates)
    return store, trained


def _run(store, outcome):
    return store.activate().get_run(outcome.run_id)


def test_churn_beats_its_one_feature_rule_and_logs_its_pictures(outcomes):
    store, trained = outcomes
    metrics = trained["churn"].evaluation.metrics
    assert 0.7 < metrics["roc_auc"] < 0.97
    assert metrics["roc_auc"] > metrics["baseline_roc_auc"] + 0.05
    assert metrics["top_decile_lift"] > 1.5
    assert 0 < metrics["brier"] < 0.25
    artifacts = {a.path for a in store.activate().list_artifacts(trained["churn"].run_id)}
    assert {"roc_curve.png", "calibration.png", "model_card.md", "features.json"} <= artifacts
    assert _run(store, trained["churn"]).data.metrics["pr_auc"] == pytest.approx(metrics["pr_auc"])


def test_occupation_beats_the_majority_class(outcomes):
    metrics = outcomes[1]["occupation"].evaluation.metrics
    assert 0.4 < metrics["macro_f1"] < 0.97
    assert metrics["macro_f1"] > metrics["baseline_macro_f1"] + 0.2


def test_channel_preference_reports_auc_and_level_shares_per_channel(outcomes):
    store, trained = outcomes
    metrics = trained["channel-preference"].evaluation.metrics
    for slug in ("store", "web", "app", "sms", "hotline", "kiosk"):
        assert metrics[f"roc_auc.{slug}"] > 0.6
        shares = [metrics[f"level_share.{slug}.{level}"] for level in CHANNEL_LEVELS]
        assert sum(shares) == pytest.approx(1.0)
    assert metrics["mean_roc_auc"] > metrics["mean_baseline_roc_auc"]
    artifacts = {
        a.path for a in store.activate().list_artifacts(trained["channel-preference"].run_id)
    }
    assert {"level_shares.png", "level_shares.csv"} <= artifacts


def test_content_preference_finds_latent_preference(outcomes):
    metrics = outcomes[1]["content-preference"].evaluation.metrics
    assert metrics["mean_roc_auc"] > metrics["mean_explicit_only_roc_auc"]
    assert metrics["mean_no_signal_roc_auc"] > 0.55  # better than chance with no signal at all


def test_every_registered_customer_model_answers_several_rows(outcomes, customers):
    store, trained = outcomes
    store.activate()
    rows = customers.head(3)
    rows = rows.astype({c: str for c in rows.columns if rows[c].dtype == "category"})
    expected = {
        "churn": {"churn_probability", "churn_risk_level"},
        "channel-preference": {"app_probability", "app_level", "store_level"},
        "occupation": {"occupation", "occupation_probability", "p_学生"},
        "content-preference": {"news_score", "games_score"},
    }
    for name, outcome in trained.items():
        model = mlflow.pyfunc.load_model(f"models:/{name}/{outcome.version}")
        answer = model.predict(rows.drop(columns=["customer_id"]))
        assert len(answer) == 3
        assert expected[name] <= set(answer.columns)


def test_a_users_own_churn_table_trains_with_blanks_and_yes_no_labels(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    tenure = rng.integers(1, 72, n).astype(float)
    charges = rng.uniform(20, 120, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    risk = 1.0 - tenure / 12 + 2.0 * (contract == "Month-to-month") + charges / 60
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-risk)), "Yes", "No")
    frame = pd.DataFrame(
        {
            "customerID": [f"U{i}" for i in range(n)],
            "tenure": tenure,
            "MonthlyCharges": charges,
            "Contract": contract,
            "Churn": churn,
        }
    )
    frame.loc[::17, "MonthlyCharges"] = np.nan
    frame.loc[::23, "Contract"] = None
    task = CUSTOMER_TASKS["churn"]
    data = customer_data(frame, task=task, targets=("Churn",), id_column="customerID", source="t")
    assert set(data.features.numeric) == {"tenure", "MonthlyCharges"}
    assert set(data.features.categorical) == {"Contract"}
    outcome = train_customer_model(task, data, store=MlflowStore.embedded(tmp_path))
    assert outcome.evaluation.metrics["roc_auc"] > 0.7
    model = mlflow.pyfunc.load_model(f"models:/churn/{outcome.version}")
    assert len(model.predict(frame.head(2).drop(columns=["Churn"]))) == 2


def test_unreadable_targets_and_missing_columns_are_named():
    frame = pd.DataFrame({"id": ["a", "b"], "x": [1, 2], "left": ["maybe", "yes"]})
    with pytest.raises(DataError, match="'left'"):
        customer_data(
            frame, task=CUSTOMER_TASKS["churn"], targets=("left",), id_column="id", source="t"
        )
    with pytest.raises(DataError, match="nope"):
        customer_data(
            frame, task=CUSTOMER_TASKS["churn"], targets=("nope",), id_column="id", source="t"
        )


def test_feature_types_are_inferred_and_ids_and_free_text_dropped():
    frame = pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(100)],
            "age": ["30", "41", " ", *[str(20 + i % 50) for i in range(97)]],
            "plan": ["A", "B", None, *["C"] * 97],
            "note": [f"free text {i}" for i in range(100)],
        }
    )
    features = infer_features(frame, exclude={"id"})
    assert features.numeric == ("age",)
    assert features.categorical == {"plan": ("A", "B", "C")}
    assert features.dropped == ("note",)


def test_risk_and_channel_levels_follow_the_documented_bounds():
    churn = (0.0, 0.149, 0.15, 0.35, 0.6, 1.0)
    assert churn_risk_levels(np.array(churn)) == [churn_risk_level(p) for p in churn]
    channel = (0.0, 0.199, 0.2, 0.5, 0.79, 0.8, 1.0)
    assert channel_levels(np.array(channel)) == [channel_level(p) for p in channel]
    assert [churn_risk_level(p) for p in churn] == [
        "低",
        "低",
        "中",
        "高",
        "极高",
        "极高",
    ]
    assert [channel_level(p) for p in channel] == [
        "基本不接触",
        "基本不接触",
        "偶尔接触",
        "普通依赖",
        "较依赖",
        "依赖",
        "依赖",
    ]


def test_churn_names_the_features_that_push_a_customers_risk_up(outcomes, customers):
    store, trained = outcomes
    store.activate()
    model = mlflow.pyfunc.load_model(
        f"models:/churn/{trained['churn'].version}"
    ).unwrap_python_model()
    risky = customers.head(2).copy()
    risky["complaints_6m"] = 9
    risky["tenure_months"] = 2
    factors = model.risk_factors(risky.astype(object).to_dict(orient="records"))
    assert len(factors) == 2
    for row in factors:
        assert row and len(row) <= 3
        assert [f["push"] for f in row] == sorted((f["push"] for f in row), reverse=True)
        assert all(f["push"] > 0 for f in row)
        assert {"complaints_6m", "tenure_months"} & {f["feature"] for f in row}


def test_records_encode_to_exactly_what_the_fitted_column_step_gives(outcomes, customers):
    store, trained = outcomes
    store.activate()
    model = mlflow.pyfunc.load_model(
        f"models:/occupation/{trained['occupation'].version}"
    ).unwrap_python_model()
    rows = customers.head(50).astype(object)
    rows.loc[0, "gender"] = "未知"  # a category never seen in training
    rows.loc[1, "region"] = None
    rows.loc[2, "age"] = "41"  # a number written as text
    records = rows.to_dict(orient="records")
    columns = next(iter(model.pipelines.values())).named_steps["columns"]
    expected = columns.transform(model.features.prepare(rows))
    np.testing.assert_array_equal(model.features.encode_records(records), expected)
    np.testing.assert_allclose(
        model.answer_records(records)[3]["occupation_probability"],
        model.predict(None, rows.iloc[[3]])["occupation_probability"][0],
    )


def test_every_target_records_its_candidates_its_choice_and_why(outcomes):
    store, trained = outcomes
    outcome = trained["channel-preference"]
    run = _run(store, outcome)
    chosen = json.loads(run.data.params["chosen"])
    assert set(chosen) == set(CUSTOMER_TASKS["channel-preference"].targets)
    artifacts = {a.path for a in store.activate().list_artifacts(outcome.run_id)}
    card = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/model_card.md")
    assert "Why these models" in card
    for target, selection in outcome.selections.items():
        assert {f"{target}.selection.csv", f"{target}.selection.png"} <= artifacts
        assert set(selection.table["family"]) == {"trees", "logistic"}
        assert chosen[target] == selection.winner["candidate"]
        assert selection.reason() in card
        assert run.data.metrics[f"{target}.selection.cv_score"] == pytest.approx(
            selection.winner["score"]
        )


def _synthetic_churn(shape: str, n: int = 2000) -> pd.DataFrame:
    """A table whose churn follows one feature linearly, or an interaction of two that no
    sum of per-feature effects can express."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 6))
    if shape == "linear":
        signal = 1.2 * x[:, 0] - 0.8 * x[:, 1]
    else:
        signal = 3.0 * np.sign(x[:, 0] * x[:, 1])
    churned = rng.random(n) < 1 / (1 + np.exp(-signal))
    table = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    return table.assign(customer_id=[f"C{i}" for i in range(n)], churned=churned.astype(int))


@pytest.mark.parametrize(("shape", "family"), [("linear", "logistic"), ("interaction", "trees")])
def test_the_family_that_fits_the_data_is_chosen_and_served_exactly(tmp_path, shape, family):
    task = CUSTOMER_TASKS["churn"]
    table = _synthetic_churn(shape)
    data = customer_data(
        table, task=task, targets=("churned",), id_column="customer_id", source="synthetic"
    )
    store = MlflowStore.embedded(tmp_path / "mlflow")
    outcome = train_customer_model(task, data, store=store)
    assert outcome.selections["churned"].winner["family"] == family
    model = mlflow.pyfunc.load_model(f"models:/churn/{outcome.version}").unwrap_python_model()
    assert isinstance(model.scorer, CustomerScorer)  # the fast path, whichever family won
    records = table.head(50).drop(columns=["customer_id", "churned"]).to_dict("records")
    expected = model.pipelines["churned"].predict_proba(data.features.prepare(table.head(50)))
    np.testing.assert_allclose(
        model.probabilities(records)["churned"], expected[:, 1], rtol=0, atol=1e-9
    )
    answers = model.answer_records(records)
    assert all("risk_factors" in answer for answer in answers)


def test_candidates_default_trains_the_trees_of_before_without_a_search(tmp_path):
    task = CUSTOMER_TASKS["churn"]
    data = customer_data(
        _synthetic_churn("linear", 600),
        task=task,
        targets=("churned",),
        id_column="customer_id",
        source="synthetic",
    )
    outcome = train_customer_model(
        task, data, store=MlflowStore.embedded(tmp_path / "mlflow"), candidates="default"
    )
    assert list(outcome.selections["churned"].table["candidate"]) == ["boosted trees"]


def test_cross_validation_reads_at_most_selection_rows_and_the_winner_fits_on_all(monkeypatch):
    from training.customers import trainer as customer_trainer

    seen = []
    real_select = customer_trainer.select

    def recording(estimator, candidates, x, y, **options):
        seen.append(len(x))
        return real_select(estimator, candidates, x, y, **options)

    monkeypatch.setattr(customer_trainer, "SELECTION_ROWS", 300)
    monkeypatch.setattr(customer_trainer, "select", recording)
    task = CUSTOMER_TASKS["churn"]
    table = _synthetic_churn("linear", 900)
    data = customer_data(
        table, task=task, targets=("churned",), id_column="customer_id", source="synthetic"
    )
    candidates = customer_trainer.customer_candidates(data.features)
    pipeline, selection = customer_trainer.fit_target(
        candidates, data.features, data.frame, data.labels["churned"], multiclass=False, seed=0
    )
    assert seen == [300]
    assert selection.folds == 3 and len(selection.table) == len(candidates)
    assert pipeline[0].n_features_in_ == len(data.features.columns)
    assert pipeline[-1].n_features_in_ > 0 and hasattr(pipeline, "classes_")
