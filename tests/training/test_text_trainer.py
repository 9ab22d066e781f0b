import mlflow
import pandas as pd
import pytest

from training.common.labels import DataError
from training.text.data import HAM, SPAM, labelled_texts


def _logged(store, model_name):
    client = store.activate()
    version = client.get_model_version_by_alias(model_name, "production")
    return client, version, client.get_run(version.run_id)


def test_demand_classifier_run_logs_svm_and_keyword_figures(trained_store):
    client, version, run = _logged(trained_store, "demand-classifier")
    metrics = run.data.metrics
    for name in ("accuracy", "macro_f1", "keyword_accuracy", "keyword_macro_f1"):
        assert 0 <= metrics[name] <= 1
    assert any(name.startswith("precision.") for name in metrics)
    assert any(name.startswith("recall.") for name in metrics)
    assert metrics["accuracy"] > metrics["keyword_accuracy"]
    assert run.data.params["split_seed"] == "0"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "confusion_matrix.png",
        "keyword_confusion_matrix.png",
        "classification_report.txt",
        "model_card.md",
        "keywords.json",
    } <= artifacts


def test_model_card_states_data_split_and_figures(trained_store):
    client, version, run = _logged(trained_store, "demand-classifier")
    card = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/model_card.md")
    assert "Intended use" in card and "Limits" in card
    assert f"{run.data.metrics['accuracy']:.3f}" in card
    assert f"{run.data.metrics['keyword_accuracy']:.3f}" in card


def test_registered_model_has_signature_and_input_example(trained_store):
    _, version, _ = _logged(trained_store, "spam-filter")
    info = mlflow.models.get_model_info(f"models:/spam-filter/{version.version}")
    assert info.signature.inputs.input_names() == ["text"]
    assert {"label", "confidence"} <= set(info.signature.outputs.input_names())
    assert info.saved_input_example_info is not None


def test_registered_models_answer_several_rows_through_pyfunc(trained_store, demand_corpus):
    for name in ("demand-classifier", "spam-filter"):
        model = mlflow.pyfunc.load_model(f"models:/{name}@production")
        texts = demand_corpus["text"].head(5)
        answer = model.predict(pd.DataFrame({"text": texts}))
        assert len(answer) == 5
        assert answer["confidence"].between(0, 1).all()


def test_spam_filter_learns_spam_and_ham(trained_store):
    client, version, run = _logged(trained_store, "spam-filter")
    assert f"recall.{SPAM}" in run.data.metrics and f"recall.{HAM}" in run.data.metrics
    assert run.data.metrics["accuracy"] > 0.8


def test_labelled_texts_drop_blanks_and_tiny_classes_and_say_so():
    frame = pd.DataFrame(
        {
            "body": ["流量不够"] * 12 + ["宽带断了"] * 12 + ["罕见"] * 3 + ["", "空标签"],
            "kind": ["流量"] * 12 + ["宽带"] * 12 + ["稀有"] * 3 + ["流量", " "],
        }
    )
    data = labelled_texts(frame, text_column="body", label_column="kind", binary=False, source="t")
    assert len(data.texts) == 24
    assert data.dropped_blank == 2
    assert data.dropped_classes == {"稀有": 3}


def test_labelled_texts_name_a_missing_column():
    frame = pd.DataFrame({"text": ["a"], "label": ["b"]})
    with pytest.raises(DataError, match="'category' not found; the table has: text, label"):
        labelled_texts(frame, text_column="text", label_column="category", binary=False, source="t")


def test_the_run_records_each_candidate_the_choice_and_why(trained_store):
    client, version, run = _logged(trained_store, "demand-classifier")
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"selection.csv", "selection.png"} <= artifacts
    table = pd.read_csv(
        mlflow.artifacts.download_artifacts(f"{run.info.artifact_uri}/selection.csv")
    )
    assert len(table) == 9 and set(table["family"]) == {"words+chars", "chars", "words"}
    assert (table["fit_seconds"] > 0).all()
    params = run.data.params
    assert params["chosen"] == table["candidate"][table["score"].idxmax()]
    assert params["candidates"] == "all"
    assert run.data.metrics["selection.cv_score"] == pytest.approx(table["score"].max(), abs=1e-4)
    card = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/model_card.md")
    assert "Why this model" in card and params["chosen"] in card
    assert params["chosen_because"] in card


def test_the_review_floor_is_logged_and_travels_with_the_model(trained_store):
    client, version, run = _logged(trained_store, "spam-filter")
    model = mlflow.pyfunc.load_model(f"models:/spam-filter/{version.version}").unwrap_python_model()
    assert model.review is not None and model.review.evidence_words
    params, metrics = run.data.params, run.data.metrics
    assert float(params["review_below_confidence"]) == pytest.approx(model.review.min_confidence)
    assert params["target_precision"] == "0.95"
    assert metrics["review.out_of_fold_coverage"] == pytest.approx(model.review.coverage)
    assert 0 < metrics["review.held_out_coverage"] <= 1
    card = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/model_card.md")
    assert "needs_review" in card


def test_candidates_default_trains_the_one_model_of_before_without_a_search(
    tmp_path, demand_corpus
):
    from model_registry.store import MlflowStore
    from training.text.trainer import SPAM_FILTER, train_text_model

    store = MlflowStore.embedded(tmp_path / "mlflow")
    data = labelled_texts(
        demand_corpus.head(600), text_column="text", label_column="spam", binary=True, source="t"
    )
    outcome = train_text_model(
        SPAM_FILTER, data, store=store, candidates="default", target_precision=0.9
    )
    assert list(outcome.selection.table["candidate"]) == ["words+chars, C=0.5"]
    assert outcome.review.target_precision == 0.9
    run = store.activate().get_run(outcome.run_id)
    assert run.data.params["chosen"] == "words+chars, C=0.5"
    artifacts = {a.path for a in store.activate().list_artifacts(outcome.run_id)}
    assert "selection.csv" in artifacts and "selection.png" not in artifacts
