"""Judging customer models on held-out customers, against simple baselines.

Each ``evaluate_*`` returns flat MLflow metrics, figures and tables for one task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    roc_auc_score,
    roc_curve,
)

from training.common.evaluation import evaluate_classifier
from training.common.plots import (
    calibration_figure,
    confusion_matrix_figure,
    level_share_figure,
    roc_figure,
)
from training.customers.tasks import CHANNEL_LEVELS, channel_level


@dataclass
class TaskEvaluation:
    """What one customer model scored, and the pictures and tables that show it."""

    metrics: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    headline: str = ""


@dataclass(frozen=True)
class OneFeatureRule:
    """The baseline: rank customers by the single numeric feature that ranks them best."""

    feature: str
    sign: float

    @classmethod
    def fit(cls, numbers: pd.DataFrame, truth: np.ndarray) -> OneFeatureRule:
        best, best_gap, sign = numbers.columns[0], -1.0, 1.0
        for column in numbers.columns:
            values = numbers[column].fillna(numbers[column].median())
            if values.nunique() < 2:
                continue
            auc = roc_auc_score(truth, values)
            if abs(auc - 0.5) > best_gap:
                best, best_gap, sign = column, abs(auc - 0.5), 1.0 if auc >= 0.5 else -1.0
        return cls(best, sign)

    def score(self, numbers: pd.DataFrame) -> np.ndarray:
        values = numbers[self.feature]
        return self.sign * values.fillna(values.median()).to_numpy()


def evaluate_churn(truth: np.ndarray, churn: np.ndarray, baseline: np.ndarray, rule: str):
    """ROC-AUC, PR-AUC, Brier score, calibration, ROC curve and top-decile lift."""
    auc, baseline_auc = roc_auc_score(truth, churn), roc_auc_score(truth, baseline)
    top_decile = churn >= np.quantile(churn, 0.9)
    rate = truth.mean()
    metrics = {
        "roc_auc": auc,
        "pr_auc": average_precision_score(truth, churn),
        "brier": brier_score_loss(truth, churn),
        "churn_rate": rate,
        "top_decile_churn_rate": truth[top_decile].mean(),
        "top_decile_lift": truth[top_decile].mean() / rate if rate else float("nan"),
        "baseline_roc_auc": baseline_auc,
    }
    observed, predicted = calibration_curve(truth, churn, n_bins=10, strategy="quantile")
    curves = {
        "model": (*roc_curve(truth, churn)[:2], auc),
        f"one feature: {rule}": (*roc_curve(truth, baseline)[:2], baseline_auc),
    }
    return TaskEvaluation(
        metrics=metrics,
        figures={
            "roc_curve.png": roc_figure(curves, "churn ROC"),
            "calibration.png": calibration_figure(predicted, observed, "churn calibration"),
        },
        headline=f"ROC-AUC {auc:.3f} vs one-feature rule ({rule}) {baseline_auc:.3f}; "
        f"top-decile lift {metrics['top_decile_lift']:.2f}",
    )


def evaluate_channels(
    truth: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    baselines: dict[str, np.ndarray],
    slugs: dict[str, str],
):
    """Per-channel ROC-AUC against a one-feature rule, and the share of customers per level."""
    metrics, shares = {}, {}
    for target, probability in scores.items():
        slug = slugs[target]
        metrics[f"roc_auc.{slug}"] = roc_auc_score(truth[target], probability)
        metrics[f"baseline_roc_auc.{slug}"] = roc_auc_score(truth[target], baselines[target])
        levels = pd.Series([channel_level(p) for p in probability])
        shares[slug] = levels.value_counts(normalize=True).reindex(CHANNEL_LEVELS, fill_value=0.0)
        for level, share in shares[slug].items():
            metrics[f"level_share.{slug}.{level}"] = float(share)
    table = pd.DataFrame(shares).T[list(CHANNEL_LEVELS)]
    metrics["mean_roc_auc"] = float(np.mean([metrics[f"roc_auc.{s}"] for s in table.index]))
    metrics["mean_baseline_roc_auc"] = float(
        np.mean([metrics[f"baseline_roc_auc.{s}"] for s in table.index])
    )
    return TaskEvaluation(
        metrics=metrics,
        figures={"level_shares.png": level_share_figure(table, "share of customers per level")},
        tables={"level_shares.csv": table.to_csv(float_format="%.4f")},
        headline=f"mean ROC-AUC {metrics['mean_roc_auc']:.3f} vs one-feature rule "
        f"{metrics['mean_baseline_roc_auc']:.3f}",
    )


def evaluate_occupation(truth: np.ndarray, proba: np.ndarray, classes: list[str]):
    """Accuracy, macro-F1 and confusion matrix, against always answering the largest class."""
    predicted = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    evaluation = evaluate_classifier(truth, predicted, classes)
    majority = pd.Series(truth).mode()[0]
    always = np.full(len(truth), majority, dtype=object)
    metrics = {
        **evaluation.metrics(),
        "baseline_accuracy": accuracy_score(truth, always),
        "baseline_macro_f1": f1_score(truth, always, average="macro", zero_division=0),
    }
    figure = confusion_matrix_figure(evaluation.confusion, classes, "occupation")
    return TaskEvaluation(
        metrics=metrics,
        figures={"confusion_matrix.png": figure},
        tables={"classification_report.txt": evaluation.report},
        headline=f"macro-F1 {evaluation.macro_f1:.3f} vs majority class "
        f"{metrics['baseline_macro_f1']:.3f}",
    )


def evaluate_content(truth, scores, latent_scores, explicit_signal, slugs):
    """Per category: ROC-AUC of the combined score, of the explicit signal alone, and of the
    latent model on customers who show no explicit signal."""
    metrics = {}
    for target, score in scores.items():
        slug, y = slugs[target], truth[target]
        metrics[f"roc_auc.{slug}"] = roc_auc_score(y, score)
        metrics[f"explicit_only_roc_auc.{slug}"] = _auc(y, explicit_signal[target])
        silent = explicit_signal[target] == 0
        metrics[f"no_signal_roc_auc.{slug}"] = _auc(y[silent], score[silent])
        metrics[f"no_signal_latent_roc_auc.{slug}"] = _auc(y[silent], latent_scores[target][silent])
    for name in ("roc_auc", "explicit_only_roc_auc", "no_signal_roc_auc"):
        metrics[f"mean_{name}"] = float(
            np.nanmean([metrics[f"{name}.{s}"] for s in slugs.values()])
        )
    return TaskEvaluation(
        metrics=metrics,
        headline=f"mean ROC-AUC {metrics['mean_roc_auc']:.3f} vs explicit signals alone "
        f"{metrics['mean_explicit_only_roc_auc']:.3f}; on customers with no signal "
        f"{metrics['mean_no_signal_roc_auc']:.3f}",
    )


def _auc(truth: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(truth, score)) if len(np.unique(truth)) == 2 else float("nan")
