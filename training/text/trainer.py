"""Train a text model and its keyword baseline on one split, log both to MLflow, register it."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jieba
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from model_registry.store import MlflowStore
from training.common.evaluation import (
    ClassifierEvaluation,
    evaluate_classifier,
    headline_figures,
)
from training.common.feedback import Feedback, feedback_run_figures
from training.common.model_card import feedback_card, text_model_card
from training.common.plots import confusion_matrix_figure
from training.common.profile import log_reference_profile
from training.common.progress import report, step
from training.common.registration import log_and_register
from training.common.selection import (
    ALL,
    SELECTION_FOLDS,
    Candidate,
    Selection,
    choose_candidates,
    log_selection,
    select,
)
from training.text.corpus import generate_demands
from training.text.data import LabelledTexts, labelled_texts, read_table, split_feedback
from training.text.features import remembered_cuts
from training.text.keyword_baseline import KeywordClassifier
from training.text.model import (
    CALIBRATION_FOLDS,
    DEFAULT_C,
    DEFAULT_VIEW,
    SVM_C_VALUES,
    TEXT_VIEWS,
    TextClassifierModel,
    TextScorer,
    build_text_pipeline,
    text_features,
)
from training.text.profile import text_profile
from training.text.review import DEFAULT_TARGET_PRECISION, ReviewRule, learn_review_rule

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
    selection: Selection
    settings: dict  # the winner's build_text_pipeline arguments
    review: ReviewRule


def text_candidates() -> list[Candidate]:
    """Every feature view with every SVM strength (searched on an uncalibrated SVM)."""
    return [
        Candidate(view, {"features": text_features(view), "svm__C": c}, f"{view}, C={c:g}")
        for view in TEXT_VIEWS
        for c in SVM_C_VALUES
    ]


DEFAULT_CANDIDATE = next(
    candidate
    for candidate in text_candidates()
    if candidate.label == f"{DEFAULT_VIEW}, C={DEFAULT_C:g}"
)


def train_text_model(
    task: TextTask,
    data: LabelledTexts,
    *,
    store: MlflowStore,
    seed: int = 0,
    test_size: float = 0.2,
    candidates: str = ALL,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    feedback: Feedback | None = None,
) -> TextTrainingOutcome:
    """Choose the text model by cross-validation on the training split, fit it and the keyword
    baseline, learn when its answers need review, log everything, register.

    With ``feedback`` (corrections as ``LabelledTexts``), a correction replaces the label of
    the same text, the corrections join the training split but for a held-out share, on which
    the new version and the production version are both judged."""
    chosen = choose_candidates(text_candidates(), candidates, default=DEFAULT_CANDIDATE)
    corrections = split_feedback(data, feedback.rows, seed) if feedback else None
    given = corrections.data if corrections else data
    train_x, test_x, train_y, test_y = train_test_split(
        given.texts, given.labels, test_size=test_size, stratify=given.labels, random_state=seed
    )
    if corrections:
        train_x = [*train_x, *corrections.training.texts]
        train_y = [*train_y, *corrections.training.labels]
    report(f"{task.model_name}: {len(train_x)} training and {len(test_x)} held-out texts")
    jieba.initialize()
    with remembered_cuts(), tempfile.TemporaryDirectory(prefix="insight-tfidf-") as fitted:
        with step(
            f"choosing among {len(chosen)} candidates by {SELECTION_FOLDS}-fold cross-validation"
        ):
            searched = _uncalibrated(DEFAULT_VIEW, DEFAULT_C, memory=fitted)
            selection = select(searched, chosen, train_x, train_y, scoring=SCORING, seed=seed)
        winner = next(c for c in chosen if c.label == selection.winner["candidate"])
        settings = {"view": winner.family, "svm_c": winner.params["svm__C"]}
        with step(f"fitting {winner.label} with calibrated probabilities"):
            pipeline = build_text_pipeline(**settings).fit(train_x, train_y)
        model = TextClassifierModel(pipeline, text_column="text")
        with step("learning when an answer needs review, from out-of-fold predictions"):
            model.review = review = _review_rule(
                model.scorer, settings, train_x, train_y, seed, target_precision
            )
        with step("fitting the automatic-keyword baseline"):
            keywords = KeywordClassifier().fit(train_x, train_y)
        labels = model.scorer.classes
        with step("evaluating on the held-out split"):
            answers = model.predict(None, _frame(test_x))
            svm_eval = evaluate_classifier(test_y, answers["label"], labels)
            keyword_eval = evaluate_classifier(test_y, keywords.predict(test_x), labels)
    held_out_review = _held_out_review(answers, test_y)
    feedback_params, feedback_metrics = (
        _feedback_figures(task, feedback, corrections, model) if corrections else ({}, {})
    )
    mlflow_params = {
        "data_source": data.source,
        "rows_used": len(data.texts),
        "rows_dropped_blank": data.dropped_blank,
        "classes_dropped_too_small": json.dumps(data.dropped_classes, ensure_ascii=False),
        "classes": len(labels),
        "test_size": test_size,
        "split_seed": seed,
        "candidates": candidates,
        "chosen": winner.label,
        "chosen_because": selection.reason(),
        "view": winner.family,
        "svm_c": settings["svm_c"],
        "features": FEATURE_WORDS[winner.family]
        + ", sublinear TF-IDF, min_df=2, Traditional folded to Simplified",
        "calibration": "sigmoid, 5-fold",
        "keyword_count_per_class": keywords.n_keywords,
        "target_precision": target_precision,
        "review_below_confidence": review.min_confidence,
        "evidence_words": len(review.evidence_words),
        **feedback_params,
    }
    review_metrics = {
        "review.out_of_fold_coverage": review.coverage,
        **held_out_review,
    }
    with step("logging the run to MLflow and registering the model"):
        run_id, version = _log_run(
            task,
            model,
            keywords,
            svm_eval,
            keyword_eval,
            mlflow_params,
            review_metrics,
            feedback_metrics,
            selection,
            store,
            train_x,
        )
        profile = text_profile(
            task.model_name,
            model,
            training_texts=train_x,
            held_out_texts=test_x,
            binary=task.binary,
        )
        log_reference_profile(run_id, profile)
    report(
        f"{task.model_name}: chose {winner.label}; accuracy {svm_eval.accuracy:.3f}, macro-F1 "
        f"{svm_eval.macro_f1:.3f} | keywords accuracy {keyword_eval.accuracy:.3f}, macro-F1 "
        f"{keyword_eval.macro_f1:.3f} | {held_out_review['review.held_out_coverage']:.0%} "
        f"answered without review, {held_out_review['review.held_out_precision']:.3f} of them right"
    )
    if review.coverage == 0:
        report(
            f"{task.model_name}: no confidence reaches a precision of {target_precision:g} "
            "out of fold: every answer will say needs_review"
        )
    return TextTrainingOutcome(run_id, version, svm_eval, keyword_eval, selection, settings, review)


SCORING = "f1_macro"
FEATURE_WORDS = {
    "words+chars": "jieba word 1-2-grams + char 1-3-grams",
    "chars": "char 1-3-grams",
    "words": "jieba word 1-2-grams",
}


def _uncalibrated(view: str, svm_c: float, *, memory: str | None = None) -> Pipeline:
    """The text pipeline without calibration, which seldom changes the class an SVM picks:
    what selection and the out-of-fold answers fit, at a sixth of the cost. With ``memory``
    (a folder) a fold's TF-IDF is fitted once for all the SVM strengths tried on it."""
    steps = [("features", text_features(view)), ("svm", LinearSVC(C=svm_c))]
    return Pipeline(steps, memory=memory)


def _review_rule(
    scorer: TextScorer,
    settings: dict,
    texts: list[str],
    labels: list[str],
    seed: int,
    target_precision: float,
) -> ReviewRule:
    """The rule learned from out-of-fold answers on the training split (the held-out split is
    not touched): SVM decision values of fold models, through the fitted model's calibrators,
    which were themselves fitted on such out-of-fold values."""
    # As many folds as calibration used, so the fold models are as sure as the model served.
    folds = StratifiedKFold(CALIBRATION_FOLDS, shuffle=True, random_state=seed)
    svm = _uncalibrated(settings["view"], settings["svm_c"])
    decisions = cross_val_predict(svm, texts, labels, cv=folds, method="decision_function")
    out_of_fold = scorer.calibrated(decisions.reshape(len(decisions), -1))
    return learn_review_rule(
        texts, labels, out_of_fold, scorer.classes, target_precision=target_precision
    )


def _held_out_review(answers: pd.DataFrame, truth: list[str]) -> dict[str, float]:
    """How many held-out answers need no review, and how many of those are right."""
    kept = ~answers["needs_review"].to_numpy(dtype=bool)
    right = answers["label"].to_numpy(dtype=object) == np.asarray(truth, dtype=object)
    return {
        "review.held_out_coverage": float(kept.mean()),
        "review.held_out_precision": float(right[kept].mean()) if kept.any() else float("nan"),
    }


def _feedback_figures(task, feedback, corrections, model):
    held_out = corrections.held_out

    def judge(candidate) -> dict[str, float]:
        answered = candidate.predict(None, _frame(held_out.texts))["label"].tolist()
        return headline_figures(held_out.labels, answered)

    return feedback_run_figures(
        task.model_name,
        feedback,
        training_rows=len(corrections.training),
        held_out_rows=len(held_out),
        judge=judge,
        candidate=model,
        replaced=corrections.replaced,
    )


def train_text_task(
    task: TextTask,
    *,
    data_file: Path | None,
    text_column: str,
    label_column: str,
    seed: int,
    store: MlflowStore,
    candidates: str = ALL,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    feedback: Feedback | None = None,
) -> TextTrainingOutcome:
    """Train ``task`` on ``data_file`` or, without one, on the built-in corpus, and on
    ``feedback`` when given."""
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
    return train_text_model(
        task,
        data,
        store=store,
        seed=seed,
        candidates=candidates,
        target_precision=target_precision,
        feedback=feedback,
    )


def _frame(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"text": texts})


def _log_run(
    task,
    model,
    keywords,
    svm_eval,
    keyword_eval,
    params,
    review_metrics,
    feedback_metrics,
    selection,
    store,
    train_x,
):
    experiment_id = store.experiment_id(EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=task.model_name) as run:
        mlflow.set_tag("model_name", task.model_name)
        mlflow.log_params(params)
        mlflow.log_metrics(
            {
                **svm_eval.metrics(),
                **keyword_eval.metrics("keyword_"),
                **review_metrics,
                **feedback_metrics,
            }
        )
        log_selection(selection, task.model_name)
        for prefix, evaluation in (("", svm_eval), ("keyword_", keyword_eval)):
            title = f"{task.model_name} ({'keywords' if prefix else 'SVM'})"
            figure = confusion_matrix_figure(evaluation.confusion, evaluation.labels, title)
            mlflow.log_figure(figure, f"{prefix}confusion_matrix.png")
            plt.close(figure)  # pyplot keeps every figure until closed
            mlflow.log_text(evaluation.report, f"{prefix}classification_report.txt")
        mlflow.log_dict(keywords.keywords_, "keywords.json")
        card = text_model_card(task, params, svm_eval, keyword_eval, review_metrics, selection)
        card += feedback_card(params, feedback_metrics)
        mlflow.log_text(card, "model_card.md")
        example = _frame(list(train_x[:2]))
        version = log_and_register(model, model_name=task.model_name, example=example, card=card)
    return run.info.run_id, version
