"""Train a text model and its keyword baseline on one split, log both to MLflow, register it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jieba
import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from sklearn.model_selection import train_test_split

from model_registry.store import MlflowStore
from training.demand_corpus import generate_demands
from training.evaluation import ClassifierEvaluation, evaluate_classifier
from training.keyword_baseline import KeywordClassifier
from training.model_card import text_model_card
from training.plots import confusion_matrix_figure
from training.progress import report, step
from training.registration import log_and_register
from training.text_data import LabelledTexts, labelled_texts, read_table
from training.text_model import TextClassifierModel, build_text_pipeline

EXPERIMENT = "text-models"
BUILT_IN_ROWS = 6000


@dataclass(frozen=True)
class TextTask:
    """One registered text model: its name, its label column and what it is for."""

    model_name: str
    label_column: str
    binary: bool
    purpose: str


DEMAND_CLASSIFIER = TextTask(
    "demand-classifier",
    "category",
    binary=False,
    purpose="Route a customer's free-text demand or complaint to its demand category.",
)
SPAM_FILTER = TextTask(
    "spam-filter",
    "spam",
    binary=True,
    purpose="Flag spam, fraud and advertising texts among customer messages.",
)
TEXT_TASKS = {task.model_name: task for task in (DEMAND_CLASSIFIER, SPAM_FILTER)}


@dataclass(frozen=True)
class TextTrainingOutcome:
    run_id: str
    version: str
    svm: ClassifierEvaluation
    keywords: ClassifierEvaluation


def train_text_model(
    task: TextTask,
    data: LabelledTexts,
    *,
    store: MlflowStore,
    seed: int = 0,
    test_size: float = 0.2,
    svm_c: float = 0.5,
) -> TextTrainingOutcome:
    """Fit the SVM and the keyword baseline on the same split, log everything, register."""
    train_x, test_x, train_y, test_y = train_test_split(
        data.texts, data.labels, test_size=test_size, stratify=data.labels, random_state=seed
    )
    report(f"{task.model_name}: {len(train_x)} training and {len(test_x)} held-out texts")
    jieba.initialize()
    with step("fitting TF-IDF + linear SVM with calibrated probabilities"):
        pipeline = build_text_pipeline(svm_c=svm_c).fit(train_x, train_y)
    with step("fitting the automatic-keyword baseline"):
        keywords = KeywordClassifier().fit(train_x, train_y)
    model = TextClassifierModel(pipeline, text_column="text")
    labels = model.scorer.classes
    with step("evaluating on the held-out split"):
        svm_eval = evaluate_classifier(test_y, model.predict(None, _frame(test_x))["label"], labels)
        keyword_eval = evaluate_classifier(test_y, keywords.predict(test_x), labels)
    mlflow_params = {
        "data_source": data.source,
        "rows_used": len(data.texts),
        "rows_dropped_blank": data.dropped_blank,
        "classes_dropped_too_small": json.dumps(data.dropped_classes, ensure_ascii=False),
        "classes": len(labels),
        "test_size": test_size,
        "split_seed": seed,
        "svm_c": svm_c,
        "features": "jieba word 1-2-grams + char 1-3-grams, sublinear TF-IDF, min_df=2",
        "calibration": "sigmoid, 5-fold",
        "keyword_count_per_class": keywords.n_keywords,
    }
    with step("logging the run to MLflow and registering the model"):
        run_id, version = _log_run(
            task, model, keywords, svm_eval, keyword_eval, mlflow_params, store, train_x
        )
    report(
        f"{task.model_name}: SVM accuracy {svm_eval.accuracy:.3f}, macro-F1 {svm_eval.macro_f1:.3f}"
        f" | keywords accuracy {keyword_eval.accuracy:.3f}, macro-F1 {keyword_eval.macro_f1:.3f}"
    )
    return TextTrainingOutcome(run_id, version, svm_eval, keyword_eval)


def train_text_task(
    task: TextTask,
    *,
    data_file: Path | None,
    text_column: str,
    label_column: str,
    seed: int,
    store: MlflowStore,
) -> TextTrainingOutcome:
    """Train ``task`` on ``data_file`` or, without one, on the built-in corpus."""
    if data_file is None:
        with step(f"generating the built-in demand corpus ({BUILT_IN_ROWS} texts)"):
            frame = generate_demands(BUILT_IN_ROWS, seed=0)
        source = f"built-in demand corpus, {BUILT_IN_ROWS} texts, seed 0"
    else:
        frame = read_table(data_file)
        source = f"{data_file.name} ({len(frame)} rows)"
    data = labelled_texts(
        frame, text_column=text_column, label_column=label_column, binary=task.binary, source=source
    )
    return train_text_model(task, data, store=store, seed=seed)


def _frame(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"text": texts})


def _log_run(task, model, keywords, svm_eval, keyword_eval, params, store, train_x):
    experiment_id = store.experiment_id(EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=task.model_name) as run:
        mlflow.set_tag("model_name", task.model_name)
        mlflow.log_params(params)
        mlflow.log_metrics({**svm_eval.metrics(), **keyword_eval.metrics("keyword_")})
        for prefix, evaluation in (("", svm_eval), ("keyword_", keyword_eval)):
            title = f"{task.model_name} ({'keywords' if prefix else 'SVM'})"
            figure = confusion_matrix_figure(evaluation.confusion, evaluation.labels, title)
            mlflow.log_figure(figure, f"{prefix}confusion_matrix.png")
            plt.close(figure)  # pyplot keeps every figure until closed
            mlflow.log_text(evaluation.report, f"{prefix}classification_report.txt")
        mlflow.log_dict(keywords.keywords_, "keywords.json")
        card = text_model_card(task, params, svm_eval, keyword_eval)
        mlflow.log_text(card, "model_card.md")
        example = _frame(list(train_x[:2]))
        version = log_and_register(model, model_name=task.model_name, example=example, card=card)
    return run.info.run_id, version
