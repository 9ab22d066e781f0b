"""``insight train MODEL --with-feedback``: stored corrections and outcomes join the training
data, a held-out share of them judges the production version and the new one, and the run
logs both figures and how many rows came from feedback."""

from __future__ import annotations

from datetime import UTC, date, datetime

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import accuracy_score, roc_auc_score

from app.cli import main
from app.db import create_engine_for
from app.db.models import Customer, CustomerOutcome, TextCorrection
from app.db.session import create_session_factory
from app.services.feedback_training import customer_feedback, text_feedback
from app.services.served_models import load_served_model
from model_registry.registry import promote, resolve_version
from model_registry.store import MlflowStore
from training.common.feedback import HELD_OUT_SHARE, held_out_mask
from training.customers.tasks import CHANNEL_PREFERENCE, CHURN
from training.customers.trainer import customer_data, train_customer_model
from training.text.corpus import generate_demands
from training.text.data import LabelledTexts, labelled_texts, split_feedback
from training.text.trainer import DEMAND_CLASSIFIER, SPAM_FILTER, train_text_model


@pytest.fixture(scope="module")
def store(tmp_path_factory, demand_corpus, customer_world) -> MlflowStore:
    """Its own store (the runs below add versions): demand-classifier and churn in production."""
    store = MlflowStore.embedded(tmp_path_factory.mktemp("feedback-store"))
    texts = labelled_texts(
        demand_corpus, text_column="text", label_column="category", binary=False, source="test"
    )
    text_version = train_text_model(DEMAND_CLASSIFIER, texts, store=store, candidates="default")
    promote(store.activate(), DEMAND_CLASSIFIER.model_name, version=text_version.version)
    customers = customer_data(
        customer_world, task=CHURN, targets=CHURN.targets, id_column="customer_id", source="test"
    )
    churn_version = train_customer_model(CHURN, customers, store=store, candidates="default")
    promote(store.activate(), CHURN.model_name, version=churn_version.version)
    return store


@pytest.fixture
def insight(migrated_url, store, tmp_path, monkeypatch):
    monkeypatch.setenv("INSIGHT_DATABASE_URL", migrated_url)
    monkeypatch.setenv("INSIGHT_MLFLOW_TRACKING_URI", store.tracking_uri)
    monkeypatch.setenv("INSIGHT_MLFLOW_ARTIFACT_ROOT", store.artifact_root)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, [str(arg) for arg in args])


def _sessions(url: str):
    return create_session_factory(create_engine_for(url))


def _run_of(store: MlflowStore, name: str, version: str):
    client = store.activate()
    return client.get_run(client.get_model_version(name, version).run_id)


def test_a_correction_replaces_the_label_of_the_same_text_and_a_share_is_held_out():
    data = LabelledTexts(["a", "b", "b", "c"], ["x", "x", "x", "y"], source="data")
    texts = [f"new {i}" for i in range(18)]
    corrections = LabelledTexts(
        ["b", "c", "b", *texts], ["x", "z", "y", *(["y"] * 18)], source="feedback"
    )
    split = split_feedback(data, corrections, seed=0)
    assert split.data.texts == ["a"]  # every row of a corrected text leaves the data
    assert split.replaced == 2  # b: x -> y (the latest correction wins), c: y -> z
    latest = dict(zip(split.training.texts + split.held_out.texts, split.training.labels))
    assert len(split.training) + len(split.held_out) == 20
    assert len(split.held_out) == round(20 * HELD_OUT_SHARE)
    assert not set(split.training.texts) & set(split.held_out.texts)
    if "b" in split.training.texts:
        assert latest["b"] == "y"


def test_too_few_corrections_are_all_trained_on():
    assert not held_out_mask(9, seed=0).any()
    assert held_out_mask(10, seed=0).sum() == 2


def test_text_corrections_are_read_per_model_and_window(migrated_url, store):
    sessions = _sessions(migrated_url)
    early, late = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    with sessions.begin() as session:
        session.add_all(
            [
                _correction("t1", "宽带断了", category="宽带故障", spam=None, at=early),
                _correction("t2", "中奖了点链接", category=None, spam=True, at=late),
                _correction("t3", "话费太贵", category="资费套餐", spam=False, at=late),
            ]
        )
    with sessions() as session:
        client = store.activate()
        demands = text_feedback(session, client, DEMAND_CLASSIFIER, None)
        assert demands.rows.texts == ["宽带断了", "话费太贵"]
        assert demands.rows.labels == ["宽带故障", "资费套餐"]
        assert demands.production_version == "1"
        spam = text_feedback(session, client, SPAM_FILTER, datetime(2026, 11, 10, tzinfo=UTC))
        assert spam.rows.labels == ["spam", "ham"]
        assert spam.production is None  # no spam filter in this store
        assert spam.window == "since 2026-11-10T00:00:00+00:00"


def test_outcomes_label_stored_customers_with_the_latest_outcome(migrated_url, store):
    sessions = _sessions(migrated_url)
    with sessions.begin() as session:
        session.add(Customer(customer_id="C1", record={"age": 30, "plan": "畅享"}))
        session.add(Customer(customer_id="C2", record={"age": 50, "plan": "畅享"}))
        session.add_all(
            [
                _outcome("C1", date(2026, 10, 1), channels=["app"]),
                _outcome("C1", date(2026, 11, 1), channels=["store", "hotline"]),
                _outcome("C2", date(2026, 11, 1), churned=True),
            ]
        )
    with sessions() as session:
        channels = customer_feedback(session, store.activate(), CHANNEL_PREFERENCE, None).rows
        assert channels["customer_id"].tolist() == ["C1"]
        assert channels.loc[0, "age"] == 30
        flags = {t: channels.loc[0, t] for t in CHANNEL_PREFERENCE.targets}
        assert flags == {t: int(t in ("relies_on_store", "relies_on_hotline")) for t in flags}
        churn = customer_feedback(session, store.activate(), CHURN, None).rows
        assert churn[["customer_id", "churned"]].values.tolist() == [["C2", 1]]


def test_demand_classifier_retrained_with_corrections(insight, migrated_url, store, tmp_path):
    corpus = tmp_path / "corpus.csv"
    generate_demands(1500, seed=7).to_csv(corpus, index=False)
    fresh = generate_demands(400, seed=11)
    fresh = fresh[fresh["category"].notna()].head(120)
    corrections = tmp_path / "corrections.csv"
    fresh[["text", "category"]].to_csv(corrections, index=False)
    assert insight("feedback", "import", corrections, "--by", "qa").exit_code == 0

    result = insight(
        "train", "demand-classifier", "--data", corpus, "--candidates", "default", "--with-feedback"
    )
    assert result.exit_code == 0, result.output
    version = result.output.split("registered demand-classifier version ")[1].split()[0]
    run = _run_of(store, "demand-classifier", version)
    held = round(120 * HELD_OUT_SHARE)
    assert run.data.params["feedback_rows_training"] == str(120 - held)
    assert run.data.params["feedback_rows_held_out"] == str(held)
    assert run.data.params["feedback_window"] == "all"
    assert run.data.params["feedback_compared_with"] == "1"

    # The logged figures are the two versions' accuracy on exactly the held-out corrections.
    with _sessions(migrated_url)() as session:
        feedback = text_feedback(session, store.activate(), DEMAND_CLASSIFIER, None)
    mask = held_out_mask(len(feedback.rows), seed=0)
    texts = np.asarray(feedback.rows.texts, dtype=object)[mask].tolist()
    truth = np.asarray(feedback.rows.labels, dtype=object)[mask]
    client = store.activate()
    for suffix, number in (("before", "1"), ("after", version)):
        model = load_served_model(
            client, resolve_version(client, "demand-classifier", version=number), "test"
        ).model
        said = model.predict(None, pd.DataFrame({"text": texts}))["label"]
        expected = accuracy_score(truth, said)
        assert run.data.metrics[f"feedback.accuracy_{suffix}"] == pytest.approx(expected)
    card = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/model_card.md")
    assert "**Feedback.** 96 rows of feedback" in card


def test_churn_retrained_with_outcomes(insight, migrated_url, store, customer_world, tmp_path):
    customers = tmp_path / "customers.csv"
    stored = customer_world.head(300)
    stored.drop(columns=["churned"]).to_csv(customers, index=False)
    assert insight("customers", "import", customers).exit_code == 0
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame(
        {"customer_id": stored["customer_id"], "as_of": "2026-11-30", "churned": stored["churned"]}
    ).to_csv(outcomes, index=False)
    assert insight("feedback", "import", outcomes, "--by", "warehouse").exit_code == 0

    world = tmp_path / "world.csv"
    customer_world.to_csv(world, index=False)
    result = insight(
        "train",
        "churn",
        "--data",
        world,
        "--id-column",
        "customer_id",
        "--candidates",
        "default",
        "--with-feedback",
    )
    assert result.exit_code == 0, result.output
    version = result.output.split("registered churn version ")[1].split()[0]
    run = _run_of(store, "churn", version)
    assert run.data.params["feedback_rows_training"] == "240"
    assert run.data.params["feedback_rows_held_out"] == "60"

    with _sessions(migrated_url)() as session:
        rows = customer_feedback(session, store.activate(), CHURN, None).rows
    held = rows[held_out_mask(len(rows), seed=0)]
    client = store.activate()
    for suffix, number in (("before", "1"), ("after", version)):
        model = load_served_model(
            client, resolve_version(client, "churn", version=number), "test"
        ).model
        (churn,) = model.probabilities(held).values()
        expected = roc_auc_score(held["churned"].astype(int), churn)
        assert run.data.metrics[f"feedback.roc_auc_{suffix}"] == pytest.approx(expected)


def test_without_feedback_in_the_window_training_stops_with_a_clear_message(insight):
    result = insight("train", "churn", "--with-feedback", "--since", "2099-01-01")
    assert result.exit_code == 1
    assert "no feedback for churn was received (since 2099-01-01T00:00:00+00:00)" in result.output
    assert "Traceback" not in result.output


def test_since_takes_the_forms_of_the_monitor_commands(insight):
    offset = insight("train", "churn", "--with-feedback", "--since", "2099-01-01T08:00+08:00")
    assert "(since 2099-01-01T00:00:00+00:00)" in offset.output  # the same moment in UTC
    span = insight("train", "churn", "--with-feedback", "--since", "soon")
    assert span.exit_code == 2
    assert "nor a span ago (30m, 24h, 7d)" in span.output


def test_since_needs_with_feedback(insight):
    result = insight("train", "churn", "--since", "2026-11-01")
    assert result.exit_code == 2
    assert "--since needs --with-feedback" in result.output


def _correction(key, text, *, category, spam, at) -> TextCorrection:
    return TextCorrection(
        key=key, text=text, category=category, spam=spam, corrected_by="qa", received_at=at
    )


def _outcome(customer_id, as_of, **fields) -> CustomerOutcome:
    return CustomerOutcome(customer_id=customer_id, as_of=as_of, reported_by="dw", **fields)
